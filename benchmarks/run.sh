#!/usr/bin/env bash
# Engine benchmark: the ViT-Ti teacher forward in Swift (every way of using the cores) and, in the same run,
# the same checkpoint in plain PyTorch eager (inference_mode, same thread counts). Prints JSON lines, then a table.
# Usage: benchmarks/run.sh [SECONDS-PER-CONFIGURATION]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-10}
TEACHER=models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors
PY=${PYTHON:-python3}

"$PY" -c "import torch, numpy" 2>/dev/null || {
  echo "bench: installing the PyTorch peer (torch, numpy) from PyPI" >&2
  "$PY" -m pip install --quiet torch numpy
}
swift build -c release --product engine-bench >&2

# Let OpenBLAS pick its kernels for this CPU, as it does on a user's machine (some images pin OPENBLAS_CORETYPE).
unset OPENBLAS_CORETYPE
out=$(mktemp)
{
  echo "{\"machine\":\"$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1 /proc/loadavg), torch $("$PY" -c 'import torch; print(torch.__version__)')\"}"
  .build/release/engine-bench --teacher "$TEACHER" --seconds "$SECONDS_PER"
  "$PY" benchmarks/vit_torch.py --teacher "$TEACHER" --batch 1 8 --threads 1 2 --seconds "$SECONDS_PER"
} | tee "$out"

"$PY" - "$out" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{") and "impl" in l]
print("\n%-8s %-13s %7s %5s %10s %8s" % ("impl", "mode", "threads", "batch", "images/s", "GFLOP/s"))
for r in rows:
    print("%-8s %-13s %7d %5d %10.2f %8.1f" % (r["impl"], r.get("mode", "eager"), r["threads"], r["batch"],
                                              r["images_per_s"], r["gflops"]))
best = lambda impl: max((r for r in rows if r["impl"] == impl), key=lambda r: r["images_per_s"])
s, t = best("swift"), best("pytorch")
for threads in (1, 2):
    sw = max(r["images_per_s"] for r in rows if r["impl"] == "swift" and r["threads"] == threads)
    pt = max(r["images_per_s"] for r in rows if r["impl"] == "pytorch" and r["threads"] == threads)
    print("best at %d thread(s): swift %.2f, pytorch %.2f images/s, ratio %.2fx" % (threads, sw, pt, sw / pt))
print("best overall: swift %s/batch %d %.2f vs pytorch threads %d/batch %d %.2f images/s: ratio %.2fx"
      % (s.get("mode"), s["batch"], s["images_per_s"], t["threads"], t["batch"], t["images_per_s"],
         s["images_per_s"] / t["images_per_s"]))
PYEOF
rm -f "$out"
