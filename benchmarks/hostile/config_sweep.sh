#!/usr/bin/env bash
# check and run agree at the edge of every config field: each numeric field of config_edges.txt at the minimum and
# the maximum `anomalyd check` accepts, on its own, and strings long and in Unicode, run for BUDGET_S seconds (12)
# on a looping 7 s clip. One JSON line per case (config_sweep.py says what the fields mean). Takes ~15 min.
# Usage: benchmarks/hostile/config_sweep.sh [FIELD ...]   (ANOMALYD_BIN=PATH runs that binary instead of building)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$PWD/out/hostile/sweep
BIN=${ANOMALYD_BIN:-.build/release/anomalyd}
TEACHER=$PWD/models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors
mkdir -p "$OUT"
[ -n "${ANOMALYD_BIN:-}" ] || nice swift build -c release --product anomalyd >&2
[ -f "$OUT/belt7.mp4" ] || /usr/bin/python3 scripts/make_demo_video.py "$OUT/belt7.mp4" --seconds 7 --novel "" \
  --width 320 --height 180 >/dev/null
/usr/bin/python3 benchmarks/hostile/config_sweep.py "$BIN" "$OUT/belt7.mp4" "$TEACHER" "$OUT" "$@"
