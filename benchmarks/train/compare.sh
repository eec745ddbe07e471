#!/bin/sh
# Swift MKD training throughput (train-bench) next to the PyTorch eager peer at the same thread count, then the
# ratio. On AVX-512 machines the Swift bench runs a second time with OpenBLAS forced to its SkylakeX kernels
# (0.3.21 falls back to Haswell kernels on Zen 4). Run from the package root: benchmarks/train/compare.sh [seconds]
set -e
S=${1:-20}
swift build -c release --product train-bench >/dev/null
SWIFT=$(.build/release/train-bench --seconds "$S" | tee /dev/stderr)
if grep -q avx512f /proc/cpuinfo; then
    SWIFT="$SWIFT
$(OPENBLAS_CORETYPE=SKYLAKEX .build/release/train-bench --seconds "$S" | tee /dev/stderr)"
fi
TORCH=$(python3 benchmarks/train/train_torch.py --threads 2 --seconds "$S" | tee /dev/stderr)
printf '%s\n%s\n' "$SWIFT" "$TORCH" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
torch = next(r["frames_per_s"] for r in rows if r["impl"] == "pytorch")
for core in sorted({r["blas_core"] for r in rows if r["impl"] == "swift"}):
    swift = max(r["frames_per_s"] for r in rows
                if r["impl"] == "swift" and r.get("blas_core") == core and r.get("threads") == 2)
    print(json.dumps({"blas_core": core, "threads": 2, "swift_frames_per_s": swift, "pytorch_frames_per_s": torch,
                      "ratio_swift_over_pytorch": round(swift / torch, 2)}))'
