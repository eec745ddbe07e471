#!/usr/bin/env bash
# Makes the default teacher available at models/<name>.safetensors.
# Uses ../shared/models when present; otherwise downloads the same checkpoint from the Hugging Face hub,
# to a temporary name, checks it by loading it with anomalyd, and only then renames it into place.
# Usage: scripts/fetch-model.sh PATH-TO-anomalyd-BINARY
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:?usage: scripts/fetch-model.sh PATH-TO-anomalyd}
NAME=vit_tiny_patch16_224.augreg_in21k_ft_in1k
DEST=models/$NAME.safetensors
SHARED=../shared/models/$NAME.safetensors
URL=https://huggingface.co/timm/$NAME/resolve/main/model.safetensors

mkdir -p models
if [ -e "$DEST" ] && "$BIN" inspect "$DEST" >/dev/null 2>&1; then
  echo "fetch-model: $DEST present"
  exit 0
fi
if [ -f "$SHARED" ]; then
  ln -sfn "$(cd "$(dirname "$SHARED")" && pwd)/$NAME.safetensors" "$DEST"
  echo "fetch-model: linked $DEST -> $SHARED"
else
  tmp="$DEST.part.$$"
  trap 'rm -f "$tmp"' EXIT
  echo "fetch-model: downloading $URL"
  curl -fL --retry 3 --connect-timeout 20 -o "$tmp" "$URL"
  "$BIN" inspect "$tmp"   # the hub's header bytes differ from the shared copy's: check by loading, not by hash
  mv -f "$tmp" "$DEST"
  trap - EXIT
  echo "fetch-model: wrote $DEST"
fi
"$BIN" inspect "$DEST"
