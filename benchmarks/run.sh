#!/usr/bin/env bash
# Engine benchmark: the ViT-Ti teacher forward in Swift (every way of using the cores) and, in the same run,
# its peers on the same checkpoint: PyTorch eager (inference_mode), ONNX Runtime and OpenVINO (the model exported
# once from PyTorch to ONNX), at the same thread counts. Prints JSON lines, then a table, each impl's best per
# thread count with the engine's ratios, and the engine's GFLOP/s as a share of the cores' fp32 peak. The engine also
# runs in every lower precision this CPU has (bf16, int8), listed beside its fp32; the peers run fp32, so the ratios
# compare fp32 with fp32.
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
# onnxscript: torch.onnx.export's exporter needs it.
"$PY" -c "import onnx, onnxscript, onnxruntime, openvino" 2>/dev/null || {
  echo "bench: installing the ONNX Runtime and OpenVINO peers (onnx, onnxscript, onnxruntime, openvino) from PyPI" >&2
  "$PY" -m pip install --quiet onnx onnxscript onnxruntime openvino
}
swift build -c release --product engine-bench >&2
mkdir -p out/bench
cc -O2 -o out/bench/clock benchmarks/engine/clock.c

# Let OpenBLAS pick its kernels for this CPU, as it does on a user's machine (some images pin OPENBLAS_CORETYPE).
unset OPENBLAS_CORETYPE
versions=$("$PY" -c 'import torch, onnxruntime, openvino
print("torch", torch.__version__, "onnxruntime", onnxruntime.__version__, "openvino", openvino.get_version().split("-")[0])')
out=$(mktemp)
{
  echo "{\"machine\":\"$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1 /proc/loadavg), $versions\"}"
  echo "{\"clock_ghz\":$(out/bench/clock)}"
  .build/release/engine-bench --teacher "$TEACHER" --seconds "$SECONDS_PER" --precision all
  "$PY" benchmarks/vit_torch.py --teacher "$TEACHER" --batch 1 8 --threads 1 2 --seconds "$SECONDS_PER"
  "$PY" benchmarks/vit_peers.py --teacher "$TEACHER" --batch 1 8 --threads 1 2 --seconds "$SECONDS_PER"
} | tee "$out"

"$PY" - "$out" <<'PYEOF'
import json, os, sys
records = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rows = [r for r in records if "impl" in r]
impls = list(dict.fromkeys(r["impl"] for r in rows))
rows.sort(key=lambda r: impls.index(r["impl"]))   # stable: each impl's rows together, in their measured order
clock = next(r["clock_ghz"] for r in records if "clock_ghz" in r)
print("\n%-11s %-9s %-12s %7s %5s %10s %8s" % ("impl", "precision", "mode", "threads", "batch", "images/s", "GFLOP/s"))
for r in rows:
    print("%-11s %-9s %-12s %7d %5d %10.2f %8.1f" % (r["impl"], r.get("precision", "fp32"), r.get("mode", "eager"),
                                                     r["threads"], r["batch"], r["images_per_s"], r["gflops"]))

def best(impl, threads, precision="fp32"):
    return max((r for r in rows if r["impl"] == impl and r["threads"] == threads
                and r.get("precision", "fp32") == precision), key=lambda r: r["images_per_s"])

lower = [p for p in dict.fromkeys(r.get("precision", "fp32") for r in rows if r["impl"] == "swift") if p != "fp32"]

for threads in (1, 2):
    s = best("swift", threads)
    print("\n%d thread(s): swift %.2f images/s (%s, batch %d)" % (threads, s["images_per_s"], s["mode"], s["batch"]))
    ranked = sorted((best(p, threads) for p in ("pytorch", "onnxruntime", "openvino")),
                    key=lambda r: -r["images_per_s"])
    for r in ranked:
        print("  %-11s %8.2f images/s (%s, batch %d): swift %.2fx" % (
            r["impl"], r["images_per_s"], r.get("mode", "eager"), r["batch"], s["images_per_s"] / r["images_per_s"]))
    print("  best peer, %s: swift %.2fx" % (ranked[0]["impl"], s["images_per_s"] / ranked[0]["images_per_s"]))
    for p in lower:
        low = best("swift", threads, p)
        print("  swift in %s: %.2f images/s (%s, batch %d): %.2fx its fp32, %.2fx the best fp32 peer" % (
            p, low["images_per_s"], low["mode"], low["batch"], low["images_per_s"] / s["images_per_s"],
            low["images_per_s"] / ranked[0]["images_per_s"]))

# fp32 peak per core = FMA ports x SIMD lanes x 2 flop (an FMA) x clock. Two FMA ports: Intel cores from
# Haswell on, and Intel server parts with AVX-512 on most SKUs (two 512-bit FMA units); AMD Zen 3 and Zen 4 have
# two 256-bit FMA pipes, and Zen 4 runs a 512-bit instruction as two 256-bit halves, so AMD counts 8 lanes even
# with avx512f.
cpuinfo = open("/proc/cpuinfo").read()
flags = set(next(l for l in cpuinfo.splitlines() if l.startswith("flags")).split(":")[1].split())
amd = "AuthenticAMD" in cpuinfo
lanes = 16 if "avx512f" in flags and not amd else 8 if {"avx2", "fma"} <= flags else 0
if lanes:
    per_core = 2 * lanes * 2 * clock
    cores = os.cpu_count()
    print("\nfp32 peak: %d cores x 2 FMA ports x %d lanes x 2 flop x %.2f GHz (measured) = %.0f GFLOP/s"
          " (%.0f per core)" % (cores, lanes, clock, cores * per_core, per_core))
    for threads in (1, 2):
        s = best("swift", threads)
        print("swift best at %d thread(s): %.1f GFLOP/s = %.0f%% of the peak of %d core(s)"
              % (threads, s["gflops"], 100 * s["gflops"] / (threads * per_core), threads))
else:
    print("fp32 peak: no AVX2/FMA or AVX-512 flags in /proc/cpuinfo, not estimated")
PYEOF
rm -f "$out"
