#!/usr/bin/env bash
# Refit benchmark (issue 6): how long a refit on a full normal buffer takes with the default detector settings,
# and what it costs detection while it runs. Reports
#   - refit wall time for BUFFER frames (default 2000), from the daemon's anomalyd.model/1 message
#     (duration_seconds: reading the buffer, teacher pass, warm-started student epochs, calibration, validation);
#   - frames/s scored by the live pipeline without a refit (refit disabled, same model, same video) and while the
#     refit runs (frames_scored deltas from the status messages between "refit started" and the model message).
# By default the video is read as fast as possible (not paced), so frames/s is the pipeline's capacity. With
# LIVE_FPS=N the video is paced as a live camera giving N frames/s, and the runs also report the capture-to-decision
# latency (anomalyd_frame_age_seconds from /metrics, quantiles from the histogram's buckets inside each window).
# REFIT_LIMIT_S=S stops the refit run after S seconds (default 7200) and reports the throughput up to then and the
# epochs the refit had completed (its "refit epoch done" log lines), for a refit that would take hours.
# Usage: [LIVE_FPS=N] [REFIT_LIMIT_S=S] benchmarks/refit/run.sh [BUFFER_FRAMES] [BASELINE_SECONDS] [STUDENT_DEPTH] [EPOCHS]
#        (defaults 2000, 60, the teacher's depth, 10: the detector's defaults)
set -euo pipefail
cd "$(dirname "$0")/../.."
FRAMES=${1:-2000}
BASELINE_S=${2:-60}
DEPTH=${3:-}
EPOCHS=${4:-10}
OUT=out/bench-refit
BIN=.build/release/anomalyd
TEACHER=models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors
PORT=5598
METRICS_PORT=9598
LIVE_FPS=${LIVE_FPS:-}
if [ -n "$LIVE_FPS" ]; then REALTIME=true; SAMPLE_FPS=$LIVE_FPS; else REALTIME=false; SAMPLE_FPS=25; fi
mkdir -p "$OUT"
swift build -c release --product anomalyd >&2
unset OPENBLAS_CORETYPE   # let OpenBLAS choose its kernels, as on a user's machine
DETECTOR="epochs: $EPOCHS"
DEPTH_ARG=()
if [ -n "$DEPTH" ]; then DETECTOR="$DETECTOR, student_depth: $DEPTH"; DEPTH_ARG=(--student-depth "$DEPTH"); fi

[ -f "$OUT/belt.mp4" ] || /usr/bin/python3 scripts/make_demo_video.py "$OUT/belt.mp4" --seconds 60 --novel "" \
  --width 640 --height 360 >/dev/null
[ -f "$OUT/drift.mp4" ] || /usr/bin/python3 scripts/make_demo_video.py "$OUT/drift.mp4" --seconds 240 --novel "" \
  --width 640 --height 360 --drift-colour 110,70,190 >/dev/null
if [ ! -d "$OUT/model-$DEPTH-$EPOCHS" ]; then
  echo "bench: training the live model on 60 s of belt at 5 fps" >&2
  "$BIN" train --teacher "$TEACHER" --normal "$OUT/belt.mp4" --sample-fps 5 --epochs "$EPOCHS" "${DEPTH_ARG[@]}" \
    --out "$OUT/model-$DEPTH-$EPOCHS" >&2
fi

# A fresh state directory: the live model (old single-bundle layout, migrated on start) and a buffer of FRAMES
# frames of the drifting scene, stamped after the model was made so the refit is due at once.
rm -rf "$OUT/state" && mkdir -p "$OUT/state/normal"
cp -r "$OUT/model-$DEPTH-$EPOCHS" "$OUT/state/model"
ffmpeg -v error -i "$OUT/drift.mp4" -vf "fps=$FRAMES/240,scale=224:224" -frames:v "$FRAMES" -f rawvideo -pix_fmt rgb24 - |
  /usr/bin/python3 -c '
import sys, time
out, n = sys.argv[1], 0
t0 = int(time.time() * 1000) + 1000
while True:
    b = sys.stdin.buffer.read(150528)
    if len(b) < 150528: break
    n += 1
    open(f"{out}/{n:012d}-{t0 + n:013d}.rgb", "wb").write(b)
print(f"bench: buffered {n} frames", file=sys.stderr)' "$OUT/state/normal"

config() {  # NAME REFIT_ENABLED
  cat > "$OUT/$1.yaml" <<YAML
publisher: {endpoint: "tcp://127.0.0.1:$PORT", heartbeat_s: 1, status_s: 1}
metrics: {listen: "127.0.0.1:$METRICS_PORT"}
pipelines:
  belt:
    source: $OUT/belt.mp4
    loop: true
    teacher: $TEACHER
    realtime: $REALTIME
    sample_fps: $SAMPLE_FPS
    state_dir: $OUT/state
    detector: {$DETECTOR}
    refit: {enabled: $2, every_new_frames: $FRAMES, max_frames: $FRAMES, min_frames: 200, sample_interval_s: 3600}
YAML
}

# Collects status and model messages with arrival times, and with each status message the frame-age histogram's
# cumulative buckets from /metrics; ends at the first model message or after LIMIT seconds.
collect() {  # OUT.jsonl LIMIT
  # Its stdout is not the caller's $(...) pipe, or the substitution would wait for it to exit.
  /usr/bin/python3 - "$1" "$2" "$PORT" "$METRICS_PORT" > /dev/null <<'PY' &
import json, re, sys, time, urllib.request, zmq
out, limit, port, metrics = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
bucket = re.compile(r'^anomalyd_frame_age_seconds_bucket\{.*le="([^"]+)".*\} (\S+)$')
def frame_age():
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=1).read().decode()
    except OSError:
        return None
    return {m.group(1): float(m.group(2)) for m in map(bucket.match, text.splitlines()) if m}
s = zmq.Context.instance().socket(zmq.SUB)
s.connect(f"tcp://127.0.0.1:{port}")
s.setsockopt(zmq.SUBSCRIBE, b"anomaly/belt/")
s.setsockopt(zmq.RCVTIMEO, 1000)
end = time.time() + limit
with open(out, "w") as f:
    while time.time() < end:
        try:
            parts = s.recv_multipart()
        except zmq.Again:
            continue
        topic, msg = parts[0].decode(), json.loads(parts[1])
        row = {"t": time.time(), "topic": topic, "message": msg}
        if topic.endswith("/status"):
            row["frame_age_buckets"] = frame_age()
        f.write(json.dumps(row) + "\n")
        f.flush()
        if topic.endswith("/model"):
            break
PY
  echo $!
}

# The collector is not this shell's child (it was started inside $(...)), so `wait` cannot wait for it.
await() { while kill -0 "$1" 2>/dev/null; do sleep 1; done; }

# JSONL FROM_T TO_T -> {"scored_per_s", "frame_age_ms": {p50, p99}} from the status counters and the frame-age
# buckets inside the window (quantiles interpolated linearly within a bucket, as Prometheus' histogram_quantile).
window() {
  /usr/bin/python3 - "$@" <<'PY'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
lo, hi = float(sys.argv[2]), float(sys.argv[3])
st = [r for r in rows if r["topic"].endswith("/status") and r["message"]["state"] == "detecting" and lo <= r["t"] <= hi]
res = {"scored_per_s": None, "frame_age_ms": None}
if len(st) >= 2 and st[-1]["t"] > st[0]["t"]:
    a, b = st[0], st[-1]
    n = b["message"]["counters"]["frames_scored"] - a["message"]["counters"]["frames_scored"]
    res["scored_per_s"] = round(n / (b["t"] - a["t"]), 2)
    scraped = [r for r in st if r.get("frame_age_buckets")]  # a scrape can miss while the daemon starts
    if len(scraped) >= 2:
        a, b = scraped[0], scraped[-1]
        les = sorted(b["frame_age_buckets"], key=lambda k: math.inf if k == "+Inf" else float(k))
        d = [(le, b["frame_age_buckets"][le] - a["frame_age_buckets"].get(le, 0)) for le in les]
        total = d[-1][1]
        def q(p):  # linear within the bucket, as Prometheus' histogram_quantile
            prev_le, prev_c = 0.0, 0.0
            for le, c in d:
                if c >= p * total:
                    if le == "+Inf":
                        return "+Inf"
                    return round(1000 * (prev_le + (float(le) - prev_le) * (p * total - prev_c) / max(c - prev_c, 1e-9)))
                prev_le, prev_c = (prev_le if le == "+Inf" else float(le)), c
            return "+Inf"
        if total > 0:
            res["frame_age_ms"] = {"p50": q(0.5), "p99": q(0.99), "frames": int(total)}
print(json.dumps(res))
PY
}

echo "{\"machine\":\"$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1 /proc/loadavg)\"}"

# 1. Baseline: the same pipeline and model, refit disabled.
config baseline false
pid=$(collect "$OUT/baseline.jsonl" "$((BASELINE_S + 15))")
sleep 1
"$BIN" run --config "$OUT/baseline.yaml" 2> "$OUT/baseline.log" >/dev/null & daemon=$!
sleep "$((BASELINE_S + 10))"; kill "$daemon"; wait "$daemon" || true; await "$pid"
t0=$(head -1 "$OUT/baseline.jsonl" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["t"])')
# Skip the first 8 s (teacher and model loading, first batches).
echo "{\"run\":\"baseline\",\"live_fps\":\"${LIVE_FPS:-unpaced}\",\"window\":$(window "$OUT/baseline.jsonl" "$(/usr/bin/python3 -c "print($t0 + 8)")" 1e12)}"

# 2. With the refit: due at start (FRAMES buffered frames newer than the model).
config refit true
pid=$(collect "$OUT/refit.jsonl" "${REFIT_LIMIT_S:-7200}")
sleep 1
"$BIN" run --config "$OUT/refit.yaml" 2> "$OUT/refit.log" >/dev/null & daemon=$!
await "$pid"
kill "$daemon"; wait "$daemon" || true
/usr/bin/python3 - "$OUT/refit.jsonl" "$OUT/refit.log" <<'PY' > "$OUT/refit-window.txt"
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
model = [r for r in rows if r["topic"].endswith("/model")]
if model:
    print(model[-1]["t"] - model[-1]["message"]["duration_seconds"], model[-1]["t"])
    print(json.dumps(model[-1]["message"]))
else:  # stopped at the limit: the refit started with the daemon; skip its first 8 s as the baseline does
    epochs = re.findall(r"refit epoch done epoch=(\d+)/(\d+) .*seconds=(\d+)", open(sys.argv[2]).read())
    print(rows[0]["t"] + 8, rows[-1]["t"])
    print(json.dumps({"finished": False, "seconds_run": round(rows[-1]["t"] - rows[0]["t"]),
                      "epochs_done": [{"epoch": f"{e}/{n}", "training_seconds": int(t)} for e, n, t in epochs]}))
PY
read -r start end < <(head -1 "$OUT/refit-window.txt")
echo "{\"run\":\"refit\",\"live_fps\":\"${LIVE_FPS:-unpaced}\",\"buffer_frames\":$FRAMES,\"during_refit\":$(window "$OUT/refit.jsonl" "$start" "$end"),\"model_message\":$(tail -1 "$OUT/refit-window.txt")}"
