#!/usr/bin/env bash
# Daemon benchmark: the demo pipeline on 1280x720 H.264 input, on this machine's cores, with the ViT-Ti teacher and a
# full-depth (12-block) student. Reports
#   - throughput: frames/s processed end to end (decode, scale, teacher, student, Gaussian, decision, publish),
#     the recording read as fast as possible with every frame scored;
#   - latency: capture-to-decision time per frame, p50 and p99, with the recording paced as a live camera and
#     sampled at 10 fps;
#   - peak resident memory of the daemon in each run.
# Usage: benchmarks/pipeline/run.sh [VIDEO_SECONDS]   (default 60; TRAIN_ARGS='--patch-memory 4096' adds options to
#        `anomalyd train`, kept in a state directory of their own, to state the cost of a component)
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_OF_VIDEO=${1:-60}
OUT=out/bench-pipeline
BIN=.build/release/anomalyd
TEACHER=models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors
STATE=$OUT/state${TRAIN_ARGS:+-$(echo "$TRAIN_ARGS" | tr -c 'a-z0-9\n' _)}
mkdir -p "$OUT"
swift build -c release --product anomalyd >&2
unset OPENBLAS_CORETYPE   # let OpenBLAS choose its kernels, as on a user's machine

if [ ! -f "$OUT/belt-${SECONDS_OF_VIDEO}s.mp4" ]; then
  /usr/bin/python3 scripts/make_demo_video.py "$OUT/belt-${SECONDS_OF_VIDEO}s.mp4" --seconds "$SECONDS_OF_VIDEO" \
    --novel 20,40 --width 1280 --height 720 >/dev/null
fi
if [ ! -f "$OUT/normal.mp4" ]; then
  /usr/bin/python3 scripts/make_demo_video.py "$OUT/normal.mp4" --seconds 40 --novel "" --width 1280 --height 720 >/dev/null
fi
if [ ! -d "$STATE/model" ] && [ ! -L "$STATE/models/current" ]; then   # the daemon moves it to models/<version>
  echo "bench: training a full-depth student (12 blocks, 10 epochs) on 40 s of normal belt at 10 fps ${TRAIN_ARGS:-}" >&2
  # shellcheck disable=SC2086
  "$BIN" train --teacher "$TEACHER" --normal "$OUT/normal.mp4" --sample-fps 10 --out "$STATE/model" --holdout-block 10 ${TRAIN_ARGS:-} >&2
fi

run() {  # NAME SAMPLE_FPS REALTIME MAX_FRAMES
  cat > "$OUT/$1.yaml" <<YAML
publisher: {endpoint: "tcp://127.0.0.1:5597"}
pipelines:
  belt:
    source: $OUT/belt-${SECONDS_OF_VIDEO}s.mp4
    teacher: $TEACHER
    sample_fps: $2
    realtime: $3
    state_dir: $STATE
    batch: {max_frames: $4, max_wait_ms: 50}
YAML
  /usr/bin/time -v "$BIN" run --config "$OUT/$1.yaml" 2> "$OUT/$1.log" >/dev/null
  local rss summary
  rss=$(grep "Maximum resident set size" "$OUT/$1.log" | awk '{print $NF}')
  summary=$(grep "pipeline finished" "$OUT/$1.log" | tail -1)
  echo "{\"run\":\"$1\",\"sample_fps\":$2,\"realtime\":$3,\"batch\":$4,\"peak_rss_mb\":$((rss / 1024)),\"summary\":\"$(echo "$summary" | sed 's/"/\\"/g')\"}"
}

echo "{\"machine\":\"$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1 /proc/loadavg)\",\"train_args\":\"${TRAIN_ARGS:-}\"}"
run throughput 25 false 8
run latency 10 true 4
