#!/usr/bin/env python3
"""PyTorch eager peer of the anomalyd ViT engine: benchmark, reference dump and a top-1 sanity check.

The model is built from a timm ViT safetensors checkpoint without timm; the forward follows
shared/spec/ALGORITHM.md section 1.3 (pre-norm blocks, fused qkv, softmax(q*hd^-0.5 k^T), exact GELU,
LayerNorm eps 1e-6, final norm on every token, head on the CLS token).

  python3 benchmarks/vit_torch.py --teacher PATH --batch 1 8 --threads 1 2 --seconds 10
  python3 benchmarks/vit_torch.py --teacher PATH --dump-reference out/vit_reference.npz   (or .safetensors)
  python3 benchmarks/vit_torch.py --teacher PATH --classify ../shared/data/imagenet-samples/*.JPEG

Benchmark output: one JSON line per (threads, batch):
  {"impl":"pytorch","threads":t,"batch":b,"images_per_s":...,"gflops":...,"gflop_per_image":...}
where "gflops" is the achieved GFLOP/s = images_per_s * gflop_per_image.
Only torch and numpy are needed (Pillow for --classify).
"""

import argparse
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

LN_EPS = 1e-6
HEAD_DIM = 64  # every timm ViT (Ti/S/B/L) uses 64-wide heads; the checkpoint's shapes do not record H


def read_safetensors(path):
    """Returns {name: float32 numpy array}; F32, F16 and BF16 are widened to float32."""
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_len])
    data = memoryview(blob)[8 + header_len:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = data[begin:end]
        dtype = entry["dtype"]
        if dtype == "F32":
            values = np.frombuffer(raw, dtype="<f4")
        elif dtype == "F16":
            values = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dtype == "BF16":
            # bfloat16 is the upper half of a float32.
            values = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {dtype}")
        tensors[name] = values.reshape(entry["shape"]).astype(np.float32)
    return tensors


def write_safetensors(path, arrays):
    """Writes float32 arrays as an F32 safetensors file (the format the Swift Checkpoint module reads)."""
    entries, chunks, offset = {}, [], 0
    for name in sorted(arrays):
        values = np.ascontiguousarray(arrays[name], dtype="<f4")
        entries[name] = {"dtype": "F32", "shape": list(values.shape), "data_offsets": [offset, offset + values.nbytes]}
        chunks.append(values.tobytes())
        offset += values.nbytes
    header = json.dumps(entries, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + b"".join(chunks))


class ViT:
    """timm VisionTransformer (class token, global_pool='token') with its architecture read off tensor shapes."""

    def __init__(self, tensors, dtype=torch.float32):
        p = {name: torch.from_numpy(array).to(dtype) for name, array in tensors.items()}
        self.p = p
        self.dim, _, self.patch, _ = p["patch_embed.proj.weight"].shape
        self.depth = 1 + max(int(name.split(".")[1]) for name in p if name.startswith("blocks."))
        self.heads = self.dim // HEAD_DIM
        self.tokens = p["pos_embed"].shape[1]
        self.grid = math.isqrt(self.tokens - 1)
        self.image_size = self.grid * self.patch
        self.classes = p["head.weight"].shape[0]
        self.mlp = p["blocks.0.mlp.fc1.weight"].shape[0]

    def gflop_per_image(self):
        """Analytic GFLOP of one forward, counting 2*M*N*K for every matmul (biases, norms, softmax, GELU ignored):
             patch embed  2 * N * D * (3*P*P)                       N = G*G patches, T = N + 1 tokens
             per block    qkv 2*T*D*3D + QK^T 2*T*T*D + AV 2*T*T*D + proj 2*T*D*D + fc1 2*T*D*M + fc2 2*T*M*D
                          (QK^T and AV: H heads of 2*T*T*hd each, H*hd = D; M = MLP width = 4D)
             head         2 * D * C
           ViT-Ti/16 at 224: 0.0578 + 12 * (0.1743 + 0.0298) + 0.0004 = 2.507 GFLOP."""
        n, t, d, m = self.grid * self.grid, self.tokens, self.dim, self.mlp
        patch = 2 * n * d * 3 * self.patch * self.patch
        block = 2 * t * d * 3 * d + 4 * t * t * d + 2 * t * d * d + 4 * t * d * m
        head = 2 * d * self.classes
        return (patch + self.depth * block + head) / 1e9

    def forward(self, x, want_attention=False):
        """x: [B,3,S,S] normalised. Returns (block-0 tokens, final-LN tokens [B,T,D], CLS [B,D], logits [B,C],
        last-block CLS->patch attention averaged over heads [B,N] or None)."""
        p, d, h = self.p, self.dim, self.heads
        b = x.shape[0]
        x = F.conv2d(x, p["patch_embed.proj.weight"], p["patch_embed.proj.bias"], stride=self.patch)
        x = x.flatten(2).transpose(1, 2)  # token gy*G+gx, row-major over the grid
        x = torch.cat([p["cls_token"].expand(b, -1, -1), x], dim=1) + p["pos_embed"]
        block0 = cls_attention = None
        for i in range(self.depth):
            pre = f"blocks.{i}."
            y = F.layer_norm(x, (d,), p[pre + "norm1.weight"], p[pre + "norm1.bias"], LN_EPS)
            qkv = F.linear(y, p[pre + "attn.qkv.weight"], p[pre + "attn.qkv.bias"])
            q, k, v = qkv.reshape(b, -1, 3, h, d // h).permute(2, 0, 3, 1, 4)  # each [B,H,T,hd]
            if want_attention and i == self.depth - 1:
                attention = ((q * (d // h) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
                cls_attention = attention[:, :, 0, 1:].mean(dim=1)
                o = attention @ v
            else:
                # The fused kernel timm itself uses; its default scale is hd^-0.5.
                o = F.scaled_dot_product_attention(q, k, v)
            x = x + F.linear(o.transpose(1, 2).reshape(b, -1, d), p[pre + "attn.proj.weight"], p[pre + "attn.proj.bias"])
            y = F.layer_norm(x, (d,), p[pre + "norm2.weight"], p[pre + "norm2.bias"], LN_EPS)
            y = F.gelu(F.linear(y, p[pre + "mlp.fc1.weight"], p[pre + "mlp.fc1.bias"]))  # exact (erf) GELU
            x = x + F.linear(y, p[pre + "mlp.fc2.weight"], p[pre + "mlp.fc2.bias"])
            if i == 0:
                block0 = x
        x = F.layer_norm(x, (d,), p["norm.weight"], p["norm.bias"], LN_EPS)
        cls = x[:, 0]
        return block0, x, cls, F.linear(cls, p["head.weight"], p["head.bias"]), cls_attention


def normalise(images_uint8):
    """[B,S,S,3] uint8 RGB -> [B,3,S,S] float, v/127.5 - 1 (the 0.5/0.5 normalisation of AugReg weights)."""
    return torch.from_numpy(images_uint8).permute(0, 3, 1, 2).float() / 127.5 - 1


def benchmark(model, batches, threads, seconds):
    flop = model.gflop_per_image()
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for t in threads:
            torch.set_num_threads(t)
            for b in batches:
                # A few distinct inputs, made before timing so input generation is not measured.
                inputs = [torch.rand(b, 3, model.image_size, model.image_size, generator=generator) * 2 - 1 for _ in range(4)]
                warm_until = time.perf_counter() + min(2.0, max(0.5, seconds / 5))
                while time.perf_counter() < warm_until:
                    model.forward(inputs[0])
                count, start = 0, time.perf_counter()
                while True:
                    model.forward(inputs[count % len(inputs)])
                    count += 1
                    elapsed = time.perf_counter() - start
                    if elapsed >= seconds:
                        break
                rate = count * b / elapsed
                print(json.dumps({"impl": "pytorch", "threads": t, "batch": b, "images_per_s": round(rate, 3),
                                  "gflops": round(rate * flop, 3), "gflop_per_image": round(flop, 4)}, separators=(",", ":")), flush=True)


def dump_reference(tensors, path, count):
    """Deterministic inputs (numpy default_rng(0) uniform uint8 in [0,255], [count,S,S,3]) and the model's outputs,
    computed in float64 so that the reference itself adds no float32 rounding; stored as float32."""
    model = ViT(tensors, dtype=torch.float64)
    size = model.image_size
    images = np.random.default_rng(0).integers(0, 256, size=(count, size, size, 3), dtype=np.uint8)
    with torch.inference_mode():
        block0, tokens, cls, logits, attention = model.forward(normalise(images).double(), want_attention=True)
    arrays = {
        "images": images.astype(np.float32),            # [B,S,S,3] raw 0..255 values, RGB
        "block0_tokens": block0.float().numpy(),        # [B,T,D] residual stream after block 0
        "tokens": tokens.float().numpy(),               # [B,T,D] final-LN tokens (CLS first)
        "cls": cls.float().numpy(),                     # [B,D]
        "logits": logits.float().numpy(),               # [B,C]
        "cls_attention": attention.float().numpy(),     # [B,N] block-(depth-1) CLS->patch, mean over heads
    }
    if path.endswith(".safetensors"):
        write_safetensors(path, arrays)
    else:
        np.savez(path, **arrays)
    print(f"wrote {path}: " + ", ".join(f"{k} {list(v.shape)}" for k, v in arrays.items()), file=sys.stderr)


def classify(model, paths):
    """timm's eval preprocessing for a sanity check: resize short side to 256 (bicubic), centre-crop 224."""
    from PIL import Image

    size = model.image_size
    with torch.inference_mode():
        for path in paths:
            image = Image.open(path).convert("RGB")
            scale = 256 / min(image.size)
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC)
            left, top = (image.width - size) // 2, (image.height - size) // 2
            pixels = np.array(image.crop((left, top, left + size, top + size)), dtype=np.uint8)[None]
            logits = model.forward(normalise(pixels))[3][0]
            print(f"{path}\t{int(logits.argmax())}\t{float(logits.softmax(-1).max()):.3f}")


def bench_arguments(doc):
    """The options every engine peer takes (this one and vit_peers.py), so run.sh passes them alike."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True, help="timm ViT checkpoint (.safetensors)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=10.0, help="timed duration per configuration")
    return parser


def main():
    parser = bench_arguments(__doc__)
    parser.add_argument("--dump-reference", metavar="OUT", help="write reference outputs (.npz, or .safetensors) and exit")
    parser.add_argument("--reference-images", type=int, default=2, help="number of images in the reference dump")
    parser.add_argument("--classify", nargs="+", metavar="IMAGE", help="print path, top-1 class and its probability")
    args = parser.parse_args()
    # Must precede any parallel work; intra-op threads are set per configuration.
    torch.set_num_interop_threads(1)

    tensors = read_safetensors(args.teacher)
    if args.dump_reference:
        dump_reference(tensors, args.dump_reference, args.reference_images)
    elif args.classify:
        classify(ViT(tensors), args.classify)
    else:
        benchmark(ViT(tensors), args.batch, args.threads, args.seconds)


if __name__ == "__main__":
    main()
