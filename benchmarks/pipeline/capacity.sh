#!/usr/bin/env bash
# Cameras per machine (issue 18): how many 720p cameras, each sampled at 5 frames/s, one daemon holds on this
# machine's cores with the default detector, capture-to-decision p99 under 300 ms and every frame scored. Runs
# 1, 2, 3, ... pipelines in one daemon, each on its own copy of the recording paced as a live camera, until one of
# them misses either bound; the capacity is the last count that met both. Also prints scored frames/s per core from
# a run with the recording read as fast as possible.
# Usage: benchmarks/pipeline/capacity.sh [VIDEO_SECONDS] [MAX_CAMERAS]   (default 60 s, up to 12; TRAIN_ARGS adds
#        options to `anomalyd train`, e.g. '--student-depth 12' for the papers' student; ANOMALYD_BIN=PATH; OUT=DIR,
#        e.g. one per ANOMALYD_PRECISION, so that each learns its own bundle); DAEMON_YAML adds top-level sections
#        (e.g. 'mqtt: {host: 127.0.0.1}' or 'ui: {listen: 127.0.0.1:8790}'), PIPELINE_YAML a flow mapping's entries
#        to every pipeline (e.g. 'clips: {enabled: false}, snapshots: {enabled: false}'): the cost of what they turn on
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_OF_VIDEO=${1:-60}
MAX_CAMERAS=${2:-12}
FPS=5
P99_MS=300
OUT=${OUT:-out/bench-capacity}
BIN=${ANOMALYD_BIN:-.build/release/anomalyd}
TEACHER=models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors
MODEL=$OUT/model${TRAIN_ARGS:+-$(echo "$TRAIN_ARGS" | tr -c 'a-z0-9\n' _)}
mkdir -p "$OUT"
[ -n "${ANOMALYD_BIN:-}" ] || swift build -c release --product anomalyd >&2
unset OPENBLAS_CORETYPE   # let OpenBLAS choose its kernels, as on a user's machine

VIDEO=$OUT/belt-${SECONDS_OF_VIDEO}s.mp4
[ -f "$VIDEO" ] || /usr/bin/python3 scripts/make_demo_video.py "$VIDEO" --seconds "$SECONDS_OF_VIDEO" \
  --novel 20,40 --width 1280 --height 720 >/dev/null
[ -f "$OUT/normal.mp4" ] || /usr/bin/python3 scripts/make_demo_video.py "$OUT/normal.mp4" --seconds 40 --novel "" \
  --width 1280 --height 720 >/dev/null
if [ ! -f "$MODEL/metadata.json" ]; then
  echo "capacity: learning the default detector on 40 s of normal belt at $FPS fps ${TRAIN_ARGS:-}" >&2
  # shellcheck disable=SC2086
  "$BIN" train --teacher "$TEACHER" --normal "$OUT/normal.mp4" --sample-fps "$FPS" --out "$MODEL" ${TRAIN_ARGS:-} >&2
fi

# One daemon with N pipelines; every pipeline's state directory gets its own copy of the bundle (the daemon moves
# it to models/<version>). Prints one JSON line per pipeline from its "pipeline finished" summary.
run() {  # NAME CAMERAS REALTIME
  local name=$1 n=$2 realtime=$3 yaml=$OUT/$1.yaml
  rm -rf "$OUT/$name" && mkdir -p "$OUT/$name"
  { echo "publisher: {endpoint: \"tcp://127.0.0.1:5598\"}"; echo "${DAEMON_YAML:-}"; echo "pipelines:"; } > "$yaml"
  for i in $(seq 1 "$n"); do
    cp -r "$MODEL" "$OUT/$name/state$i-model"
    mkdir -p "$OUT/$name/state$i" && mv "$OUT/$name/state$i-model" "$OUT/$name/state$i/model"
    cat >> "$yaml" <<YAML
  cam$i:
    source: $VIDEO
    teacher: $TEACHER
    sample_fps: $FPS
    realtime: $realtime
    state_dir: $OUT/$name/state$i
YAML
    # One key per line: 'a: {..}, b: {..}' becomes two lines of the pipeline's mapping.
    [ -z "${PIPELINE_YAML:-}" ] || echo "    ${PIPELINE_YAML}" | sed 's/}, /}\n    /g' >> "$yaml"
  done
  /usr/bin/time -v "$BIN" run --config "$yaml" 2> "$OUT/$name.log" >/dev/null
  local rss
  rss=$(grep "Maximum resident set size" "$OUT/$name.log" | awk '{print $NF}')
  /usr/bin/python3 - "$OUT/$name.log" "$name" "$n" "$rss" <<'PY'
import json, re, sys
log, name, n, rss = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4] or 0)
for line in open(log):
    if "pipeline finished" not in line:
        continue
    fields = dict(re.findall(r"(\w+)=(\S+)", line))
    print(json.dumps({"run": name, "cameras": n, "pipeline": fields.get("pipeline"), "peak_rss_mb": rss // 1024,
                      **{k: fields.get(k) for k in ("frames_in", "frames_scored", "scored_per_s",
                                                    "frame_age_ms_p50", "frame_age_ms_p99")}}))
PY
}

cores=$(nproc)
echo "{\"machine\":\"$cores cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1 /proc/loadavg)\",\"train_args\":\"${TRAIN_ARGS:-}\"}"
run throughput 1 false | tee "$OUT/throughput.jsonl"
/usr/bin/python3 -c "
import json, sys
r = json.loads(open('$OUT/throughput.jsonl').readline())
print(json.dumps({'scored_per_s': float(r['scored_per_s']), 'per_core': round(float(r['scored_per_s']) / $cores, 2)}))"

expected=$((SECONDS_OF_VIDEO * FPS))
capacity=0
for n in $(seq 1 "$MAX_CAMERAS"); do
  run "paced-$n" "$n" true | tee "$OUT/paced-$n.jsonl"
  # Every camera must have scored its whole recording (allowing the last batch in flight) within the p99 bound.
  if /usr/bin/python3 - "$OUT/paced-$n.jsonl" "$n" "$expected" "$P99_MS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
n, expected, bound = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
ok = len(rows) == n and all(int(r["frames_scored"] or 0) >= expected - 2 and r["frame_age_ms_p99"] not in (None, "-")
                            and float(r["frame_age_ms_p99"]) < bound for r in rows)
worst = max((float(r["frame_age_ms_p99"]) for r in rows if r["frame_age_ms_p99"] not in (None, "-")), default=None)
print(json.dumps({"cameras": n, "ok": ok, "worst_p99_ms": worst,
                  "fewest_scored": min((int(r["frames_scored"] or 0) for r in rows), default=0), "expected": expected}))
sys.exit(0 if ok else 1)
PY
  then capacity=$n; else break; fi
done
echo "{\"capacity_cameras\":$capacity,\"fps_each\":$FPS,\"p99_bound_ms\":$P99_MS}"
