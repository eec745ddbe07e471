#!/usr/bin/env python3
"""PyTorch eager peer of the anomalyd MKD student training step (ALGORITHM.md section 2), for throughput only.

A ViT student (width/depth/heads as given; ViT-Ti: 192/12/3), MAE-style forward_encoder_train on CLS + kept
tokens (guided multinomial mask), final LN, F.normalize, MSE against normalised targets at the kept positions,
backward and torch.optim.AdamW(lr 1e-4, betas 0.9/0.95, wd 0.05 on >=2-D tensors), as RN's code runs it.
The teacher targets are random unit vectors: they do not change the cost.

  python3 benchmarks/train/train_torch.py --threads 2 --batch 8 --seconds 20

Prints one JSON line: {"impl":"pytorch","threads":t,"batch":b,"depth":d,"tokens":k,"frames_per_s":...,
"cpu_ms_per_frame":...} (CPU time includes OpenMP spin-waiting).
"""

import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, mlp):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.fc1 = nn.Linear(d, mlp)
        self.fc2 = nn.Linear(mlp, d)

    def forward(self, x):
        b, t, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])   # scale hd^-0.5, as timm's fused path
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Student(nn.Module):
    def __init__(self, d, depth, heads, patch=16, image=224):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, d, patch, patch)
        n = (image // patch) ** 2
        self.cls_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, d) * 0.02, requires_grad=False)   # fixed sin-cos in RN
        self.blocks = nn.ModuleList(Block(d, heads, 4 * d) for _ in range(depth))
        self.norm = nn.LayerNorm(d, eps=1e-6)

    def forward(self, img, importance, keep):
        x = self.patch_embed(img).flatten(2).transpose(1, 2) + self.pos_embed[:, 1:]
        ids = torch.multinomial(importance, importance.shape[1], replacement=False)[:, :keep]
        x = torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, x.shape[2]))
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], 1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x), ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--width", type=int, default=192)
    ap.add_argument("--depth", type=int, default=12)
    ap.add_argument("--heads", type=int, default=3)
    ap.add_argument("--mask-ratio", type=float, default=0.5)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    n = 196
    keep = int(n * (1 - args.mask_ratio))
    model = Student(args.width, args.depth, args.heads)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95))
    frames = 32
    images = torch.randn(frames, 3, 224, 224)
    targets = F.normalize(torch.randn(frames, n, args.width), dim=-1)
    importance = torch.rand(frames, n)

    def step(i):
        idx = torch.arange(i, i + args.batch) % frames
        out, ids = model(images[idx], importance[idx], keep)
        t = torch.gather(targets[idx], 1, ids.unsqueeze(-1).expand(-1, -1, args.width))
        loss = F.mse_loss(F.normalize(out[:, 1:], dim=-1), t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step(0)
    start, cpu_start = time.perf_counter(), time.process_time()
    done = 0
    while time.perf_counter() - start < args.seconds:
        step(done)
        done += args.batch
    fps = done / (time.perf_counter() - start)
    cpu_ms = (time.process_time() - cpu_start) * 1000 / done
    print(json.dumps({"impl": "pytorch", "threads": args.threads, "batch": args.batch, "depth": args.depth,
                      "tokens": keep + 1, "frames_per_s": round(fps, 2), "cpu_ms_per_frame": round(cpu_ms, 1)}),
          flush=True)


if __name__ == "__main__":
    main()
