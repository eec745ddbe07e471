#!/usr/bin/env python3
"""Frame AUROC of the fused score and of each component, from `anomalyd score` output and the generator's truth.

  frame_auroc.py SCORES.jsonl TRUTH.json [--after SECONDS]

A frame is anomalous when a novel object is fully in view, normal when none is even partly in view (2 s either side of
fully in view, more than an object takes to enter or leave); frames in between are left out. --after skips the learning part of the video.
"""
import argparse
import json

import numpy as np


def auroc(scores, labels):
    """Mann-Whitney U with average ranks for ties."""
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos, neg = y.sum(), (~y).sum()
    return (ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scores")
    ap.add_argument("truth")
    ap.add_argument("--after", type=float, default=0)
    a = ap.parse_args()
    truth = json.load(open(a.truth))
    rows = [json.loads(line) for line in open(a.scores)]
    novel = [(n["start"], n["end"]) for n in truth["novel"]]

    def label(t):
        if any(s <= t <= e for s, e in novel):
            return True
        if any(s - 2 <= t <= e + 2 for s, e in novel):
            return None
        return False

    kept = [(r, label(r["pts_seconds"])) for r in rows if r["pts_seconds"] >= a.after]
    kept = [(r, l) for r, l in kept if l is not None]
    labels = [l for _, l in kept]
    out = {"frames": len(kept), "anomalous": int(sum(labels))}
    for key, name in [("raw_score", "fused"), ("gaussian", "gaussian"), ("mkd", "mkd"), ("mkd_profile", "mkd_profile"), ("patch", "patch")]:
        if all(key in r for r, _ in kept):
            out[name] = round(100 * auroc([r[key] for r, _ in kept], labels), 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
