#!/usr/bin/env bash
# Real defects (issues 15 and 16): electroluminescence images of solar cells from the PyPI package `elpv-dataset`
# (2,624 real 300x300 grey cells with defect probabilities; CC BY-NC-SA, fetched here at run time into out/, never
# committed). Protocol: monocrystalline cells; a seeded 70 % of the defect-free ones train, the other 30 % (177)
# and the 313 cells with defect probability 1.0 are the test set. Image AUROC of the fused score and each
# component, through `anomalyd train` and `anomalyd eval`, for each detector configuration named below, and the
# PatchCore-style peer (patchcore_peer.py: the same teacher in numpy, every training patch in memory) in the same run.
# Usage: benchmarks/quality/elpv.sh [CONFIG...]   CONFIG: default (the binary's defaults) | papers (a 12-block student
#        and the CLS Gaussian with PCA, no patch memory) | best (papers with cls+patch_mean, ledoit_wolf,
#        channel_profile), each also as default-as-is | best-as-is (without the brightness gain); patch (papers with a
#        4,096-patch memory); patch-gaussian (that memory and the CLS Gaussian keeping 0.9, no student: today's
#        default); patch-lw
#        (the same with the Gaussian of best); peer. Without CONFIG: default papers peer.
#        ANOMALYD_BIN=PATH runs that binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=out/elpv
BIN=${ANOMALYD_BIN:-.build/release/anomalyd}
TEACHER=models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors
[ -n "${ANOMALYD_BIN:-}" ] || swift build -c release --product anomalyd >&2
mkdir -p "$OUT"
if [ ! -d "$OUT/images/test-defective" ]; then
  echo "elpv: fetching elpv-dataset from PyPI into $OUT/venv and writing the split" >&2
  python3 -m venv --system-site-packages "$OUT/venv" >&2
  "$OUT/venv/bin/pip" install -q elpv-dataset safetensors >&2
  rm -rf "$OUT/images.tmp"
  "$OUT/venv/bin/python" - "$OUT/images.tmp" <<'PY'
import os, sys
import numpy as np
from PIL import Image
from elpv_dataset.utils import load_dataset
out = sys.argv[1]
images, probs, types = load_dataset()
mono = np.flatnonzero(types == "mono")
good = mono[probs[mono] == 0]
bad = mono[probs[mono] == 1]
order = np.random.default_rng(0).permutation(len(good))
cut = int(0.7 * len(good))   # 411 train, 177 test, as the issue measured
for name, idx in [("train", good[order[:cut]]), ("test-normal", good[order[cut:]]), ("test-defective", bad)]:
    os.makedirs(f"{out}/{name}")
    for i in idx:
        Image.fromarray(images[i]).save(f"{out}/{name}/cell{i:04d}.png")
    print(f"elpv: {name}: {len(idx)} cells", file=sys.stderr)
PY
  mv "$OUT/images.tmp" "$OUT/images"
fi
"$OUT/venv/bin/python" -c "import safetensors" 2>/dev/null || "$OUT/venv/bin/pip" install -q safetensors >&2
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1 /proc/loadavg)"
# The papers' detector (the default until session 20): a student as deep as the teacher, the CLS Gaussian with PCA
# keeping 0.9 of the variance (Transformaly).
papers=(--student-depth 12 --patch-memory 0 --gaussian-feature cls --gaussian-covariance pca --variance-kept 0.9)
for config in "${@:-default papers peer}"; do
  for c in $config; do
    if [ "$c" = peer ]; then
      echo "## elpv, PatchCore-style peer (numpy, blocks 4 and 7, every training patch)"
      "$OUT/venv/bin/python" benchmarks/quality/patchcore_peer.py --teacher "$TEACHER" --train "$OUT/images/train" \
        --normal "$OUT/images/test-normal" --anomalous "$OUT/images/test-defective"
      continue
    fi
    case $c in
      default) args=() ;;
      papers) args=("${papers[@]}") ;;
      best) args=("${papers[@]}" --gaussian-feature cls+patch_mean --gaussian-covariance ledoit_wolf --student-score channel_profile) ;;
      default-as-is) args=(--no-normalize-brightness) ;;
      best-as-is) args=("${papers[@]}" --gaussian-feature cls+patch_mean --gaussian-covariance ledoit_wolf
                        --student-score channel_profile --no-normalize-brightness) ;;
      patch) args=("${papers[@]}" --patch-memory 4096) ;;
      patch-gaussian) args=(--patch-memory 4096 --student-depth 0 --variance-kept 0.9) ;;
      patch-lw) args=(--patch-memory 4096 --student-depth 0 --gaussian-feature cls+patch_mean --gaussian-covariance ledoit_wolf) ;;
      *) echo "elpv: unknown configuration $c (default, papers, best, default-as-is, best-as-is, patch, patch-gaussian, patch-lw or peer)" >&2
         exit 64 ;;
    esac
    rm -rf "$OUT/model-$c"
    started=$(date +%s)
    "$BIN" train --teacher "$TEACHER" --normal "$OUT/images/train" --out "$OUT/model-$c" "${args[@]}" > "$OUT/train-$c.log" 2>&1
    trained=$(date +%s)
    echo "## elpv, detector $c (train $((trained - started)) s)"
    "$BIN" eval --teacher "$TEACHER" --model "$OUT/model-$c" --normal "$OUT/images/test-normal" \
      --anomalous "$OUT/images/test-defective"
  done
done
