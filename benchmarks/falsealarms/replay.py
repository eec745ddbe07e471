"""Offline replay of the daemon's decision and burn-in on `anomalyd score` output of the shift (issue 15).

Usage: replay.py SCORES.jsonl TRUTH.json BUNDLE/calibration.json COMPONENTS [FPS] [LEARN_S]
  SCORES: `anomalyd score --model BUNDLE --sample-fps FPS shift-60min.mp4` (every frame at FPS frames/s)
  COMPONENTS: comma-separated, e.g. gaussian,patch
Replays at FPS what `Pipeline/LiveCalibration.swift` and `Decisions/DecisionStage.swift` do: the budget's per-frame
cut (1 false episode an hour, frames_to_start 2 at 2 frames/s), min-p fusion of the components' tails (the
generalized Pareto fitted by scipy, as `ScoreTail`), the counting evidence (+1 above, -2 below), and the burn-in's
refits of each tail (from 50 accepted frames, as they grow by a quarter, 600 s) with the frames it accepts: every
quiet frame ("all quiet", before session 15), or only those at least MARGIN seconds from any evidence.
"""
import json, sys
import numpy as np
from scipy.stats import genpareto

scores_path, truth_path, calib_path, comps = sys.argv[1:5]
FPS = float(sys.argv[5]) if len(sys.argv) > 5 else 2.0
LEARN = float(sys.argv[6]) if len(sys.argv) > 6 else 300.0
COMPS = comps.split(",")
F, FEND, BELOW = 2, 4, 2
BURN_FRAMES = int(600 * FPS)
CUT = -np.log10(1 * F / (3600 * FPS))

truth = json.load(open(truth_path))
rows = [json.loads(l) for l in open(scores_path)]
t = np.array([r["pts_seconds"] for r in rows])
X = {c: np.array([r[c] for r in rows]) for c in COMPS}
learnt = {tt["component"]: np.array(tt["tail"]["sorted"]) for tt in json.load(open(calib_path))["tails"]}


class Tail:
    """`ScoreTail`: empirical in the body, a generalized Pareto over the top 10 % (at least 10), never bounded."""
    def __init__(self, s):
        s = np.sort(np.asarray(s)); n = len(s); k = min(n // 2, max(10, round(0.1 * n)))
        self.s, self.u = s, s[n - k - 1]
        exc = s[n - k:] - self.u
        xi, _, sc = genpareto.fit(exc, floc=0)
        self.xi, self.sc = (xi, sc) if xi >= 0 else (0.0, exc.mean())
        self.lograte = np.log((k + 1) / (n + 1))

    def logsf(self, x):
        if x > self.u:
            return self.lograte + genpareto.logsf(x - self.u, self.xi, scale=self.sc)
        return np.log((len(self.s) - np.searchsorted(self.s, x, side="right") + 1) / (len(self.s) + 1))


def replay(margin):
    tails = {c: Tail(learnt[c]) for c in COMPS}
    quiet = {c: [] for c in COMPS}
    accepted = fitted = 0
    held, cooldown, pending = [], 0, []
    ev, ep, episodes, blips, burn_end = 0, None, [], 0, None
    M = int(round(margin * FPS)) if margin is not None else 0
    for i in np.flatnonzero(t > LEARN):
        lp = min(tails[c].logsf(X[c][i]) for c in COMPS) + np.log(len(COMPS))
        above = -min(lp, 0) / np.log(10) >= CUT
        if ep is None:
            if above:
                if ev == 0: start = t[i]
                ev += 1
                if ev >= F: ep, ev, below = [start, t[i]], 0, 0
            elif ev > 0:
                ev = max(0, ev - BELOW)
                if ev == 0: blips += 1
            phase = "episode" if ep else "building" if ev > 0 else "quiet"
        else:
            phase, ep[1] = "episode", t[i]
            below = 0 if above else below + 1
            if below >= FEND: episodes.append(tuple(ep)); ep = None
        if accepted >= BURN_FRAMES:
            continue
        joined = []
        if margin is None:     # before session 15: blips join, episodes and their build-up do not
            if phase == "building": pending.append(i)
            elif phase == "episode": pending = []
            else: joined, pending = pending + [i], []
        elif phase != "quiet":
            held, cooldown = [], M
        elif cooldown > 0:
            cooldown -= 1
        else:
            held.append(i)
            if len(held) > M: joined = [held.pop(0)]
        joined = joined[:BURN_FRAMES - accepted]
        for j in joined:
            for c in COMPS: quiet[c].append(X[c][j])
        accepted += len(joined)
        if joined and ((accepted >= 50 and accepted >= max(fitted, 1) * 1.25) or accepted >= BURN_FRAMES):
            tails = {c: Tail(np.concatenate([learnt[c], quiet[c]])) for c in COMPS}
            fitted = accepted
            if accepted >= BURN_FRAMES: burn_end = t[i]
    if ep: episodes.append(tuple(ep))
    caught, false = set(), []
    for a, b in episodes:
        hit = [k for k, n in enumerate(truth["novel"]) if a <= n["end"] + 1 and b >= n["start"] - 1]
        caught.update(hit)
        if not hit: false.append((a, b))
    name = "all quiet frames" if margin is None else f"margin {margin:g} s"
    missed = [k for k in range(len(truth["novel"])) if k not in caught]
    print(f"{name:18s} caught {len(caught):2d}/{len(truth['novel'])} (missed {missed}); false episodes {len(false)} "
          f"({', '.join(f'{a:.0f} s' for a, _ in false)}); blips {blips}; burn-in over at {burn_end or float('nan'):.0f} s")


print(f"components {COMPS}, {FPS:g} frames/s, cut at surprise {CUT:.2f}")
for margin in [None, 0, 3, 5, 10]:
    replay(margin)
