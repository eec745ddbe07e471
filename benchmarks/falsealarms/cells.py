"""Where the patch memory's map puts normal frames' evidence on the shift, and what a per-cell level would change.

Usage: cells.py SCORES.jsonl TRUTH.json [LEARN_S] [WINDOW_S]
  SCORES: `anomalyd score --maps --model BUNDLE --sample-fps FPS shift-60min.mp4` (a bundle with the patch memory)
Normal frames are those after LEARN_S (300) and more than 3 s from any novel object. Prints, before and after the
light step, in which map row normal frames peak and each row's 0.999 quantile; then, for three frame statistics,
the normal frames' 0.99 and 0.999 quantiles and maximum against each object's peak while fully in view:
the map's largest cell (what the patch score rests on), the largest cell of the rows inside the outermost ones,
and the largest cell after each cell's own 0.99 quantile over the previous WINDOW_S (300) seconds is taken away
(a per-cell level that follows the scene, as DSPOT follows drift; an experiment, not what the daemon does).
Last, the decision: each statistic alone and fused with the Gaussian (min-p), every tail fitted on the normal frames
of LEARN_S to LEARN_S + 600 s as a burn-in that knew the truth would learn them, the budget's cut (1 false episode an
hour) over one second of evidence, episodes and objects counted from then on.
"""
import json, sys
import numpy as np
from tails import Tail, fused_surprise

scores, truth_path = sys.argv[1], sys.argv[2]
learn_s = float(sys.argv[3]) if len(sys.argv) > 3 else 300.0
window_s = float(sys.argv[4]) if len(sys.argv) > 4 else 300.0
rows = [json.loads(l) for l in open(scores)]
truth = json.load(open(truth_path))
t = np.array([r["pts_seconds"] for r in rows])
maps = np.array([r["map"] for r in rows], float)
g = int(round(maps.shape[1] ** 0.5))
fps = 1 / np.median(np.diff(t))
near = np.zeros(len(t), bool)
for n in truth["novel"]:
    near |= (t >= n["start"] - 3) & (t <= n["end"] + 3)
normal = (t > learn_s) & ~near
step = (truth.get("light_step") or [truth["seconds"] / 2])[0]

for lo, hi in [(learn_s, step), (step, truth["seconds"])]:
    m = normal & (t >= lo) & (t < hi)
    lit = maps[m].max(1) > 0
    peak_rows = maps[m].argmax(1) // g
    print(f"{lo:.0f}-{hi:.0f} s: {m.sum()} normal frames, {lit.mean():.0%} with a cell beyond the baseline; "
          f"frames peaking in each row: {np.bincount(peak_rows[lit], minlength=g).tolist()}")
    print("   each row's 0.999 quantile:", np.quantile(maps[m].reshape(-1, g, g), 0.999, axis=(0, 2)).round(2).tolist())

window = int(round(window_s * fps))
levelled = maps.max(1).copy()
for i in np.flatnonzero(t > learn_s):
    levelled[i] = (maps[i] - np.quantile(maps[max(0, i - window):i], 0.99, axis=0)).max()
stats = {"largest cell": maps.max(1),
         "largest cell, outermost rows left out": maps.reshape(-1, g, g)[:, 1:g - 1].reshape(len(t), -1).max(1),
         f"largest cell beyond its own 0.99 quantile of the last {window_s:g} s": levelled}
for name, x in stats.items():
    peaks = np.array([x[(t >= n["start"]) & (t <= n["end"])].max() for n in truth["novel"]])
    q99, q999 = np.quantile(x[normal], [0.99, 0.999])
    print(f"{name}: normal 0.99 / 0.999 / max {q99:.2f} / {q999:.2f} / {x[normal].max():.2f}; objects' peaks "
          f"min {peaks.min():.2f}, median {np.median(peaks):.2f}; objects above the normal 0.999 quantile "
          f"{(peaks > q999).sum()}/{len(peaks)}, above every normal frame {(peaks > x[normal].max()).sum()}/{len(peaks)}")

fit = normal & (t < learn_s + 600)
F = max(2, int(round(fps)))
cut = -np.log10(F / (3600 * fps))
later = [n for n in truth["novel"] if n["start"] > learn_s + 600]
print(f"decisions after {learn_s + 600:.0f} s, tails from {fit.sum()} normal frames, {F} frames of evidence, cut at surprise {cut:.2f}:")
gaussian = np.array([r["gaussian"] for r in rows])
candidates = {"patch score": np.array([r["patch"] for r in rows]), **stats}
for name, comps in [("gaussian", [gaussian])] + [(f"{k}{w}", ([gaussian] if w else []) + [x])
                                               for k, x in candidates.items() for w in ["", " + gaussian"]]:
    s = fused_surprise([Tail(x[fit]) for x in comps], comps)
    ev, ep, episodes = 0, None, []
    for i in np.flatnonzero(t > learn_s + 600):     # DecisionStage: +1 above, -2 below; F below in a row end it
        above = s[i] >= cut
        if ep is None:
            if above:
                start = t[i] if ev == 0 else start
                ev += 1
                if ev >= F: ep, ev, below = [start, t[i]], 0, 0
            else:
                ev = max(0, ev - 2)
        else:
            ep[1], below = t[i], 0 if above else below + 1
            if below >= F: episodes.append(ep); ep = None
    hit = lambda e, n: e[0] <= n["end"] + 1 and e[1] >= n["start"] - 1
    caught = sum(any(hit(e, n) for e in episodes) for n in later)
    false = [round(e[0]) for e in episodes if not any(hit(e, n) for n in later)]
    print(f"   {name}: caught {caught}/{len(later)}, false episodes {len(false)} {false}")
