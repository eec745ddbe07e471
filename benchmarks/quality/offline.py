#!/usr/bin/env python3
"""Offline comparison of fusions and Gaussian variants on a quality-bench dump (run.sh writes it to
.build/quality-dump/<settings>/). Everything fitted here uses only the class's normal training images and its
held-out normal frames, like the daemon; the test labels are used only to compute AUROC.
Usage: benchmarks/quality/offline.py DUMP_DIR... [--cache .build/quality-test-tokens.f32] [--gaussians] [--layers]
--layers reads the test images' side features (CACHE.side: last-block CLS attention, every block's CLS and mean patch
token) and each class's train_side and *_profile dumps: attention-weighted MKD reductions, Gaussians on several blocks,
and Gaussians of the student's per-channel error profiles, each alone and fused with the teacher-feature Gaussians."""
import argparse, gzip, os, sys
import numpy as np
from scipy.stats import rankdata

ap = argparse.ArgumentParser()
ap.add_argument("dump", nargs="+", help="dump directories; a class is read from the first that has it")
ap.add_argument("--cache", default=".build/quality-test-tokens.f32")
ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
ap.add_argument("--gaussians", action="store_true", help="also refit Gaussian variants from the dumped features")
ap.add_argument("--layers", action="store_true", help="attention-weighted MKD and multi-block Gaussians")
args = ap.parse_args()

with gzip.open(f"{args.data}/t10k-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read()[8:], np.uint8)


def auroc(scores, anomalous):
    r = rankdata(scores)
    npos, nneg = anomalous.sum(), (~anomalous).sum()
    return (r[anomalous].sum() - npos * (npos + 1) / 2) / (npos * nneg)


def load(cls, name, dtype):
    p = next((f"{d}/c{cls}_{name}.{dtype}" for d in args.dump if os.path.exists(f"{d}/c{cls}_train_cls.f32")), "")
    return np.fromfile(p, {"f64": np.float64, "f32": np.float32, "i64": np.int64}[dtype]) if os.path.exists(p) else None


# Per-score transforms fitted on held-out normal scores h, applied to test scores x.
def z(h, x):
    return (x - h.mean()) / h.std(ddof=1)


def robust(h, x):
    med = np.median(h)
    return (x - med) / (1.4826 * np.median(np.abs(h - med)))


fusions = {
    "z raw (daemon)": lambda h, x: z(h, x),
    "z log": lambda h, x: z(np.log(h), np.log(x)),
    "robust raw": robust,
    "robust log": lambda h, x: robust(np.log(h), np.log(x)),
    "z sqrt": lambda h, x: z(np.sqrt(h), np.sqrt(x)),
}

def ledoit_wolf(train, test):
    """Full Gaussian on the raw features with Ledoit-Wolf shrinkage to the scaled identity: the shrinkage grows
    as the sample gets small for the dimension, with no PCA cut."""
    mu = train.mean(0)
    x = train - mu
    n, p = x.shape
    s = x.T @ x / n
    m = np.trace(s) / p
    x2 = x ** 2
    delta_ = np.sum(s ** 2)
    beta = min((np.sum(x2.T @ x2) / n - delta_) / (p * n), (delta_ - 2 * m * np.trace(s) + p * m * m) / p)
    rho = beta / ((delta_ - 2 * m * np.trace(s) + p * m * m) / p)
    cov = (1 - rho) * s + rho * m * np.eye(p)
    d = test - mu
    return np.einsum("ij,ij->i", d @ np.linalg.inv(cov), d)


# A class counts once its dump is complete (the training features are written last).
classes = sorted({int(f[1:].split("_")[0]) for d in args.dump for f in os.listdir(d) if f.endswith("_train_cls.f32")})
rows = {}
for c in classes:
    anomalous = labels != c
    g, m = load(c, "test_gaussian", "f64"), load(c, "test_mkd", "f64")
    hg, hm = load(c, "holdout_gaussian", "f64"), load(c, "holdout_mkd", "f64")
    row = {"Gaussian": auroc(g, anomalous)}
    if m is not None:
        row["MKD"] = auroc(m, anomalous)
        for name, t in fusions.items():
            row[name] = auroc(t(hg, g) + t(hm, m), anomalous)
        # Other reductions of the MKD map, fitted on held-out normal maps only.
        tm, hmap = load(c, "test_map", "f32").reshape(10000, -1), load(c, "holdout_map", "f32").reshape(len(hm), -1)
        pos = hmap.mean(0)
        row["MKD pos-norm"] = auroc((tm / pos).mean(1), anomalous)
        row["MKD log-mean"] = auroc(np.log(tm).mean(1), anomalous)
        pn, hpn = (tm / pos).mean(1), (hmap / pos).mean(1)
        row["z log, pos-norm"] = auroc(z(np.log(hg), np.log(g)) + z(np.log(hpn), np.log(pn)), anomalous)
    rows[c] = row

if args.gaussians:
    # Test CLS and mean patch tokens from the cached teacher tokens [10000, 197, 192].
    tok = np.memmap(args.cache, np.float32, "r").reshape(10000, 197, -1)
    test_cls = np.array(tok[:, 0, :], np.float64)
    test_pm = np.concatenate([tok[i:i + 500, 1:, :].mean(1) for i in range(0, 10000, 500)]).astype(np.float64)

    def mahalanobis(train, test, kept=None, shrink=0.0, per_component=None):
        """PCA keeping `kept` of the variance (None: all), then a full Gaussian with optional shrinkage to the
        scaled identity (in the whitened space); `per_component`: at most one component per that many samples."""
        mu = train.mean(0)
        lam, v = np.linalg.eigh(np.cov(train - mu, rowvar=False))
        lam, v = lam[::-1], v[:, ::-1]
        k = len(lam) if kept is None else int(np.searchsorted(np.cumsum(lam) / lam.sum(), kept) + 1)
        k = min(k, train.shape[0] - 2, int((lam > lam[0] * 1e-10).sum()))
        if per_component:
            k = max(1, min(k, train.shape[0] // per_component))
        components[kept, per_component] = k
        p = v[:, :k] / np.sqrt(lam[:k])
        u, ut = (train - mu) @ p, (test - mu) @ p
        mh = u.mean(0)
        s = np.cov(u - mh, rowvar=False, bias=True)
        s = (1 - shrink) * s + shrink * np.trace(s) / k * np.eye(k) + 1e-6 * np.eye(k)
        d = ut - mh
        return np.einsum("ij,ij->i", d @ np.linalg.inv(s), d)

    components = {}
    for c in classes:
        anomalous = labels != c
        held = set(load(c, "holdout_index", "i64").tolist())
        train_idx = [i for i in range(1000) if i not in held]
        tc = load(c, "train_cls", "f32").reshape(1000, -1).astype(np.float64)[train_idx]
        tp = load(c, "train_patchmean", "f32").reshape(1000, -1).astype(np.float64)[train_idx]
        for kept in (0.8, 0.9, 0.95, 0.99):
            rows[c][f"G cls {kept}"] = auroc(mahalanobis(tc, test_cls, kept), anomalous)
        rows[c]["G cls all shrink .1"] = auroc(mahalanobis(tc, test_cls, None, 0.1), anomalous)
        rows[c]["G patchmean 0.9"] = auroc(mahalanobis(tp, test_pm, 0.9), anomalous)
        both, test_both = np.hstack([tc, tp]), np.hstack([test_cls, test_pm])
        rows[c]["G cls+pm 0.9"] = auroc(mahalanobis(both, test_both, 0.9), anomalous)
        rows[c]["G cls+pm 0.99"] = auroc(mahalanobis(both, test_both, 0.99), anomalous)
        rows[c]["G cls LW"] = auroc(ledoit_wolf(tc, test_cls), anomalous)
        rows[c]["G cls 0.99 n/10"] = auroc(mahalanobis(tc, test_cls, 0.99, per_component=10), anomalous)
        rows[c]["G cls 0.99 n/5"] = auroc(mahalanobis(tc, test_cls, 0.99, per_component=5), anomalous)
        print(f"class {c}: components kept {components}", file=sys.stderr)
        rows[c]["G cls+pm LW"] = auroc(ledoit_wolf(both, test_both), anomalous)
        # The daemon's fusion (raw z-scores) with other Gaussians; held-out scores from the held-out frames' features.
        m, hm = load(c, "test_mkd", "f64"), load(c, "holdout_mkd", "f64")
        if m is not None:
            hidx = sorted(held)
            hc = load(c, "train_cls", "f32").reshape(1000, -1).astype(np.float64)[hidx]
            hp = load(c, "train_patchmean", "f32").reshape(1000, -1).astype(np.float64)[hidx]
            hboth = np.hstack([hc, hp])
            variants = {
                "fused, G 0.9": lambda x: mahalanobis(tc, x, 0.9),
                "fused, G 0.95": lambda x: mahalanobis(tc, x, 0.95),
                "fused, G 0.99": lambda x: mahalanobis(tc, x, 0.99),
                "fused, G LW": lambda x: ledoit_wolf(tc, x),
                "fused, G 0.99 n/10": lambda x: mahalanobis(tc, x, 0.99, per_component=10),
                "fused, G 0.99 n/5": lambda x: mahalanobis(tc, x, 0.99, per_component=5),
            }
            for name, f in variants.items():
                rows[c][name] = auroc(z(f(hc), f(test_cls)) + z(hm, m), anomalous)
            for name, f in {"fused, G cls+pm 0.99": lambda x: mahalanobis(both, x, 0.99),
                            "fused, G cls+pm LW": lambda x: ledoit_wolf(both, x)}.items():
                rows[c][name] = auroc(z(f(hboth), f(test_both)) + z(hm, m), anomalous)


if args.layers:
    n_patch, depth = 196, 12
    side = np.fromfile(args.cache + ".side", np.float32).reshape(10000, -1)
    width = (side.shape[1] - n_patch) // (2 * depth)
    test_att, test_blk = side[:, :n_patch], side[:, n_patch:].reshape(10000, depth, 2, width).astype(np.float64)
    tok = np.memmap(args.cache, np.float32, "r").reshape(10000, 197, -1)
    test_final = np.hstack([np.array(tok[:, 0, :], np.float64),
                            np.concatenate([tok[i:i + 500, 1:, :].mean(1) for i in range(0, 10000, 500)])])
    for c in classes:
        anomalous = labels != c
        held = load(c, "holdout_index", "i64")
        hidx = sorted(set(held.tolist()))
        tidx = [i for i in range(1000) if i not in set(hidx)]
        ts = load(c, "train_side", "f32").reshape(1000, -1)
        att, blk = ts[:, :n_patch], ts[:, n_patch:].reshape(1000, depth, 2, width).astype(np.float64)
        final = np.hstack([load(c, "train_cls", "f32").reshape(1000, -1), load(c, "train_patchmean", "f32").reshape(1000, -1)]).astype(np.float64)
        row = rows[c]

        def feats(blocks, t_blk, t_final):
            parts = [t_final if b == "final" else t_blk[:, b].reshape(len(t_blk), -1) for b in blocks]
            return np.hstack(parts)

        gauss = {}
        for name, blocks in {"G LW final": ["final"], "G LW 9+final": [9, "final"], "G LW 6+9+final": [6, 9, "final"],
                             "G LW 3+6+9+final": [3, 6, 9, "final"], "G LW 8+10+final": [8, 10, "final"]}.items():
            tr, te, ho = feats(blocks, blk[tidx], final[tidx]), feats(blocks, test_blk, test_final), feats(blocks, blk[hidx], final[hidx])
            sc = ledoit_wolf(tr, np.vstack([te, ho]))
            gauss[name] = (sc[:10000], sc[10000:])
            row[name] = auroc(sc[:10000], anomalous)
        # Sum over blocks of per-block LW distances, each standardised on the held-out frames.
        per = {}
        for b in list(range(depth - 1)) + ["final"]:
            tr, te, ho = feats([b], blk[tidx], final[tidx]), feats([b], test_blk, test_final), feats([b], blk[hidx], final[hidx])
            sc = ledoit_wolf(tr, np.vstack([te, ho]))
            per[b] = (z(sc[10000:], sc[:10000]), z(sc[10000:], sc[10000:]))
        zsum = lambda blocks, i: sum(per[b][i] for b in blocks)
        row["G LW z-sum all blocks"] = auroc(zsum(per, 0), anomalous)
        late = [6, 7, 8, 9, 10, "final"]
        row["G LW z-sum 6..final"] = auroc(zsum(late, 0), anomalous)
        gauss["G z-sum 6..final"] = (zsum(late, 0), zsum(late, 1))
        m = load(c, "test_mkd", "f64")
        if m is None:
            continue
        hm = load(c, "holdout_mkd", "f64")
        tm, hmap = load(c, "test_map", "f32").reshape(10000, -1), load(c, "holdout_map", "f32").reshape(len(hm), -1)
        hatt = att[hidx]
        variants = {"MKD": (m, hm)}
        for name, power in {"MKD att": 1.0, "MKD att^0.5": 0.5, "MKD att^2": 2.0}.items():
            wt, wh = test_att ** power, hatt ** power
            variants[name] = ((tm * wt).sum(1) / wt.sum(1), (hmap * wh).sum(1) / wh.sum(1))
        def topatt(mp, a, k=98):
            idx = np.argsort(-a, 1)[:, :k]
            return np.take_along_axis(mp, idx, 1).mean(1)
        variants["MKD top-98 att"] = (topatt(tm, test_att), topatt(hmap, hatt))
        for name, (x, h) in variants.items():
            row[name] = auroc(x, anomalous)
        # The student's per-channel error profiles (MKDScores.profiles): a Ledoit-Wolf Gaussian of the training
        # images' profiles (the daemon's mkd_profile uses their logs), scored on the test and held-out images.
        tr_prof, te_prof = load(c, "train_profile", "f32"), load(c, "test_profile", "f32")
        if tr_prof is not None:
            tr_prof, te_prof = tr_prof.reshape(1000, -1).astype(np.float64), te_prof.reshape(10000, -1).astype(np.float64)
            for name, f in {"profile": lambda x: x, "log profile": np.log}.items():
                sc = ledoit_wolf(f(tr_prof[tidx]), np.vstack([f(te_prof), f(tr_prof[hidx])]))
                variants[name] = (sc[:10000], sc[10000:])
                row[name] = auroc(sc[:10000], anomalous)
        for gname in ["G LW final", "G LW 9+final", "G LW 6+9+final", "G z-sum 6..final"]:
            gx, gh = gauss[gname]
            for name, (x, h) in variants.items():
                row[f"{gname} + {name}"] = auroc(z(gh, gx) + z(h, x), anomalous)
            for name in ["profile", "log profile"]:
                if name in variants:
                    (x, h), (mx, mh) = variants[name], variants["MKD"]
                    row[f"{gname} + MKD + {name}"] = auroc(z(gh, gx) + z(h, x) + z(mh, mx), anomalous)

cols = list(next(iter(rows.values())).keys())
print("| class | " + " | ".join(cols) + " |")
print("|---" * (len(cols) + 1) + "|")
for c, row in rows.items():
    print(f"| {c} | " + " | ".join(f"{100 * row[k]:.1f}" for k in cols) + " |")
print("| mean | " + " | ".join(f"**{100 * np.mean([r[k] for r in rows.values()]):.1f}**" for k in cols) + " |")
