#!/bin/sh
# Swift MKD training throughput (train-bench) next to the PyTorch eager peer at the same thread counts, then the
# ratio. The machine is shared, so each configuration runs ROUNDS times, interleaved, and the best run counts.
# On AVX-512 machines the Swift bench also runs with OpenBLAS forced to its SkylakeX kernels (this machine's
# environment pins OPENBLAS_CORETYPE=Haswell).
# Run from the package root: benchmarks/train/compare.sh [seconds per run] [rounds]
set -e
S=${1:-10}
ROUNDS=${2:-3}
swift build -c release --product train-bench >/dev/null
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for _ in $(seq "$ROUNDS"); do
    .build/release/train-bench --seconds "$S" | tee -a "$OUT" >&2
    if grep -q avx512f /proc/cpuinfo; then
        OPENBLAS_CORETYPE=SKYLAKEX .build/release/train-bench --seconds "$S" | tee -a "$OUT" >&2
    fi
    for t in 2 1; do python3 benchmarks/train/train_torch.py --threads "$t" --seconds "$S" | tee -a "$OUT" >&2; done
done
python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
runs = [r for r in rows if "frames_per_s" in r]
def best(pred):
    return max((r["frames_per_s"] for r in runs if pred(r)), default=0.0)
for threads in (2, 1):
    torch = best(lambda r: r["impl"] == "pytorch" and r["threads"] == threads)
    for core in sorted({r["blas_core"] for r in runs if r["impl"] == "swift"}):
        for mode in sorted({r["mode"] for r in runs if r["impl"] == "swift" and r["threads"] == threads}):
            swift = best(lambda r: r["impl"] == "swift" and r["blas_core"] == core and r["mode"] == mode
                         and r["threads"] == threads)
            print(json.dumps({"threads": threads, "blas_core": core, "mode": mode, "swift_frames_per_s": swift,
                              "pytorch_frames_per_s": torch, "ratio_swift_over_pytorch": round(swift / torch, 2)}))
PY
