#!/usr/bin/env bash
# Refit benchmark (issue 6): how long a refit on a full normal buffer takes with the default detector settings,
# and what it costs detection while it runs. Reports
#   - refit wall time for BUFFER frames (default 2000), from the daemon's anomalyd.model/1 message
#     (duration_seconds: reading the buffer, teacher pass, warm-started student epochs, calibration, validation);
#   - frames/s scored by the live pipeline without a refit (refit disabled, same model, same video) and while the
#     refit runs (frames_scored deltas from the status messages between "refit started" and the model message).
# The video is read as fast as possible (not paced), so frames/s is the pipeline's capacity.
# Usage: benchmarks/refit/run.sh [BUFFER_FRAMES] [BASELINE_SECONDS] [STUDENT_DEPTH] [EPOCHS]
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
pipelines:
  belt:
    source: $OUT/belt.mp4
    loop: true
    teacher: $TEACHER
    sample_fps: 25
    state_dir: $OUT/state
    detector: {$DETECTOR}
    refit: {enabled: $2, every_new_frames: $FRAMES, max_frames: $FRAMES, min_frames: 200, sample_interval_s: 3600}
YAML
}

# Collects status and model messages with arrival times; ends at the first model message or after LIMIT seconds.
collect() {  # OUT.jsonl LIMIT
  # Its stdout is not the caller's $(...) pipe, or the substitution would wait for it to exit.
  /usr/bin/python3 - "$1" "$2" "$PORT" > /dev/null <<'PY' &
import json, sys, time, zmq
out, limit, port = sys.argv[1], float(sys.argv[2]), sys.argv[3]
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
        f.write(json.dumps({"t": time.time(), "topic": topic, "message": msg}) + "\n")
        f.flush()
        if topic.endswith("/model"):
            break
PY
  echo $!
}

# The collector is not this shell's child (it was started inside $(...)), so `wait` cannot wait for it.
await() { while kill -0 "$1" 2>/dev/null; do sleep 1; done; }

rate() {  # JSONL FROM_T TO_T -> frames/s from the status counters inside the window
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
lo, hi = float(sys.argv[2]), float(sys.argv[3])
st = [(r["t"], r["message"]["counters"]["frames_scored"]) for r in rows
      if r["topic"].endswith("/status") and r["message"]["state"] == "detecting" and lo <= r["t"] <= hi]
print("%.2f" % ((st[-1][1] - st[0][1]) / (st[-1][0] - st[0][0])) if len(st) >= 2 and st[-1][0] > st[0][0] else "nan")
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
echo "{\"run\":\"baseline\",\"scored_per_s\":$(rate "$OUT/baseline.jsonl" "$(/usr/bin/python3 -c "print($t0 + 8)")" 1e12)}"

# 2. With the refit: due at start (FRAMES buffered frames newer than the model).
config refit true
pid=$(collect "$OUT/refit.jsonl" 7200)
sleep 1
"$BIN" run --config "$OUT/refit.yaml" 2> "$OUT/refit.log" >/dev/null & daemon=$!
await "$pid"
kill "$daemon"; wait "$daemon" || true
/usr/bin/python3 - "$OUT/refit.jsonl" <<'PY' > "$OUT/refit-window.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
model = [r for r in rows if r["topic"].endswith("/model")][-1]
print(model["t"] - model["message"]["duration_seconds"], model["t"])
print(json.dumps(model["message"]))
PY
read -r start end < <(head -1 "$OUT/refit-window.txt")
echo "{\"run\":\"refit\",\"buffer_frames\":$FRAMES,\"scored_per_s_during_refit\":$(rate "$OUT/refit.jsonl" "$start" "$end"),\"model_message\":$(tail -1 "$OUT/refit-window.txt")}"
