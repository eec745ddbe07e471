#!/usr/bin/env python3
"""PatchCore-style peer for the solar-cell benchmark (issue 16), written apart from anomalyd in numpy.

The same ViT-Ti teacher checkpoint runs in numpy (timm semantics: pre-norm blocks, exact GELU, LayerNorm eps 1e-6,
x/127.5 - 1 inputs); the patch tokens of the residual stream after blocks 4 and 7 (0-based, timm's `blocks[i]`)
are mean-pooled over each patch's 3x3 neighbourhood and concatenated; the memory holds every training patch; a
test image scores the largest distance from one of its patches to its nearest memory patch (no coreset, no
reweighting: the plain baseline issue 16 measured). Images are brought to 224x224 RGB by area averaging, as
anomalyd's scaler does.

Prints one JSON line: {"peer": "patchcore", "auroc": ..., "ms_per_image": ..., "memory": ...}.
Usage: patchcore_peer.py --teacher T --train DIR --normal DIR --anomalous DIR [--blocks 4 7]
Needs numpy, scipy, Pillow and safetensors.
"""
import argparse, glob, json, os, time
import numpy as np
from PIL import Image
from safetensors.numpy import load_file
from scipy.special import erf
from scipy.stats import rankdata

ap = argparse.ArgumentParser()
ap.add_argument("--teacher", required=True)
ap.add_argument("--train", required=True)
ap.add_argument("--normal", required=True)
ap.add_argument("--anomalous", required=True)
ap.add_argument("--blocks", type=int, nargs="+", default=[4, 7])
args = ap.parse_args()

W = {k: v.astype(np.float32) for k, v in load_file(args.teacher).items()}
D = W["cls_token"].shape[-1]
HEADS = D // 64
GRID = 14


def layer_norm(x, w, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-6) * w + b


def patch_features(rgb):
    """rgb: [B, 224, 224, 3] uint8 -> [B, 196, len(blocks) * D] pooled patch features."""
    b = rgb.shape[0]
    x = rgb.astype(np.float32) / 127.5 - 1
    patches = x.reshape(b, GRID, 16, GRID, 16, 3).transpose(0, 1, 3, 5, 2, 4).reshape(b, GRID * GRID, 3 * 256)
    w = W["patch_embed.proj.weight"].reshape(D, -1)
    t = patches @ w.T + W["patch_embed.proj.bias"]
    t = np.concatenate([np.broadcast_to(W["cls_token"].reshape(1, 1, D), (b, 1, D)), t], 1) + W["pos_embed"]
    taken = []
    for i in range(max(args.blocks) + 1):
        p = f"blocks.{i}."
        h = layer_norm(t, W[p + "norm1.weight"], W[p + "norm1.bias"])
        qkv = (h @ W[p + "attn.qkv.weight"].T + W[p + "attn.qkv.bias"]).reshape(b, -1, 3, HEADS, 64).transpose(2, 0, 3, 1, 4)
        s = qkv[0] @ qkv[1].transpose(0, 1, 3, 2) / 8.0
        s = np.exp(s - s.max(-1, keepdims=True))
        a = (s / s.sum(-1, keepdims=True)) @ qkv[2]
        t = t + a.transpose(0, 2, 1, 3).reshape(b, -1, D) @ W[p + "attn.proj.weight"].T + W[p + "attn.proj.bias"]
        h = layer_norm(t, W[p + "norm2.weight"], W[p + "norm2.bias"])
        h = h @ W[p + "mlp.fc1.weight"].T + W[p + "mlp.fc1.bias"]
        h = 0.5 * h * (1 + erf(h / np.sqrt(2)))
        t = t + h @ W[p + "mlp.fc2.weight"].T + W[p + "mlp.fc2.bias"]
        if i in args.blocks:
            taken.append(pool(t[:, 1:].reshape(b, GRID, GRID, D)))
    return np.concatenate(taken, -1).reshape(b, GRID * GRID, -1)


def pool(g):
    """3x3 mean over each cell's neighbours inside the grid."""
    padded = np.pad(g, ((0, 0), (1, 1), (1, 1), (0, 0)))
    ones = np.pad(np.ones(g.shape[1:3], np.float32), 1)
    total = sum(padded[:, r:r + GRID, c:c + GRID] for r in range(3) for c in range(3))
    count = sum(ones[r:r + GRID, c:c + GRID] for r in range(3) for c in range(3))
    return total / count[None, :, :, None]


def load(folder):
    files = sorted(glob.glob(os.path.join(folder, "*.png")))
    return np.stack([np.asarray(Image.open(f).convert("RGB").resize((224, 224), Image.BOX)) for f in files])


def features(images):
    return np.concatenate([patch_features(images[i:i + 16]) for i in range(0, len(images), 16)])


started = time.time()
memory = features(load(args.train)).reshape(-1, len(args.blocks) * D)
memory_sq = (memory ** 2).sum(1)
normal, anomalous = load(args.normal), load(args.anomalous)
test = np.concatenate([normal, anomalous])
scored = time.time()
scores = []
for i in range(0, len(test), 8):
    q = features(test[i:i + 8])
    for f in q:
        d2 = (f ** 2).sum(1)[:, None] - 2 * f @ memory.T + memory_sq[None, :]
        scores.append(np.sqrt(max(d2.min(1).max(), 0.0)))
ms = 1000 * (time.time() - scored) / len(test)
scores = np.array(scores)
label = np.r_[np.zeros(len(normal), bool), np.ones(len(anomalous), bool)]
r = rankdata(scores)
auroc = (r[label].sum() - label.sum() * (label.sum() + 1) / 2) / (label.sum() * (~label).sum())
print(json.dumps({"peer": "patchcore", "blocks": args.blocks, "auroc": round(100 * auroc, 2),
                  "ms_per_image": round(ms, 1), "memory": int(memory.shape[0]), "seconds": round(time.time() - started)}))
