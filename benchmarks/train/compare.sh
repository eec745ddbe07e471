#!/bin/sh
# Swift MKD training throughput (train-bench) next to the PyTorch eager peer at the same thread count, then the
# ratio. Run from the package root: benchmarks/train/compare.sh [seconds]
set -e
S=${1:-20}
swift build -c release --product train-bench >/dev/null
SWIFT=$(.build/release/train-bench --seconds "$S" | tee /dev/stderr)
TORCH=$(python3 benchmarks/train/train_torch.py --threads 2 --seconds "$S" | tee /dev/stderr)
printf '%s\n%s\n' "$SWIFT" "$TORCH" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
swift = max(r["frames_per_s"] for r in rows if r["impl"] == "swift" and "frames_per_s" in r and r["threads"] == 2)
torch = next(r["frames_per_s"] for r in rows if r["impl"] == "pytorch")
print(json.dumps({"ratio_swift_over_pytorch": round(swift / torch, 2), "threads": 2}))'
