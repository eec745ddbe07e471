#!/usr/bin/env bash
# The main job. Until the daemon lands (issue 5), it runs the teacher on the sample photos:
# top-5 classes per photo, then the CLS features written as .npy.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.build/release/anomalyd
TEACHER=models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors
SAMPLES=../shared/data/imagenet-samples
[ -d "$SAMPLES" ] || { echo "demo: $SAMPLES not found (the sample photos live beside the repository)" >&2; exit 1; }
mkdir -p out
"$BIN" classify --teacher "$TEACHER" --resize crop --labels "$SAMPLES/labels.txt" "$SAMPLES"/*.JPEG
"$BIN" embed --teacher "$TEACHER" --output out/sample-features.npy "$SAMPLES"/*.JPEG
echo "demo: wrote out/sample-features.npy (CLS features, one row per photo)"
