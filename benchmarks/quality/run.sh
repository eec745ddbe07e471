#!/usr/bin/env bash
# One-class Fashion-MNIST quality benchmark (see main.swift). Installs Debian's dataset-fashion-mnist if missing,
# builds quality-bench in release and runs it with OpenBLAS free to pick its kernels for this CPU.
# Usage: benchmarks/quality/run.sh [--depth N] [--epochs E] [--lr X] [--seed S] [--covariance pca|ledoit_wolf] [--feature cls|cls+patch_mean] [--student-score mean|channel_profile] [--variance V] [--fusion min_p|fisher] [--classes 0,3,7] [--gaussian-only]
# Test-set teacher tokens are cached in .build/quality-test-tokens.f32 (1.5 GB), with --patch-memory also its blocks
# (.block4, .block7 beside it, 1.5 GB each). The run's markdown report goes to benchmarks/quality/runs/<settings>.md (and stdout); progress to stderr.
# Raw scores, maps and training features go to .build/quality-dump/<settings>/ for benchmarks/quality/offline.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=/usr/share/datasets/fashion-mnist
TEACHER=models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors

if [ ! -f "$DATA/t10k-images-idx3-ubyte.gz" ]; then
  echo "quality: installing dataset-fashion-mnist" >&2
  apt-get install -y dataset-fashion-mnist >&2
fi
swift build -c release --product quality-bench >&2

name=$(printf '%s' "${*:-default}" | tr -s ' ,-' '_' | sed 's/^_//')
mkdir -p benchmarks/quality/runs
# quality-bench picks OpenBLAS kernels for this CPU itself (BLAS.useBestKernels), whatever the image pins.
env -u OPENBLAS_CORETYPE .build/release/quality-bench --data "$DATA" --teacher "$TEACHER" \
  --cache .build/quality-test-tokens.f32 --markdown "benchmarks/quality/runs/$name.md" \
  --dump ".build/quality-dump/$name" "$@"
