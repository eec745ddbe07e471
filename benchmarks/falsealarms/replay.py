"""Offline replay of the daemon's decision and burn-in on `anomalyd score` output of the shift (issue 15).

Usage: replay.py SCORES.jsonl TRUTH.json BUNDLE/calibration.json COMPONENTS [--fps 10] [--learn-s 300]
                 [--frames-to-start 5 ...] [--margin 5 ...] [--burn-in-s 600] [--detrend-s W]
  SCORES: `anomalyd score --model BUNDLE --sample-fps FPS shift-60min.mp4` (every frame at FPS frames/s)
  COMPONENTS: comma-separated, e.g. gaussian,patch
Replays at FPS what `Pipeline/LiveCalibration.swift` and `Decisions/DecisionStage.swift` do: the budget's per-frame
cut (1 false episode an hour over frames_to_start frames of evidence), min-p fusion of the components' tails (the
generalized Pareto fitted by scipy, as `ScoreTail`), the counting evidence (+1 above, -2 below), and the burn-in's
refits of each tail (from 50 accepted frames, as they grow by a quarter) with the frames it accepts: every quiet frame
("all quiet", before session 15), or only those at least MARGIN seconds from any evidence. Each combination of
--frames-to-start and --margin is one line. --detrend-s W (an experiment, not what the daemon does) first takes each
component's raw score relative to the median of its previous W seconds, as DSPOT (Siffer et al. 2017) takes drift out.
On the session 15 shift at 10 frames/s this replay found the daemon's false episodes at the same seconds.
"""
import argparse, json
import numpy as np
from tails import Tail, fused_surprise

ap = argparse.ArgumentParser()
ap.add_argument("scores"); ap.add_argument("truth"); ap.add_argument("calibration"); ap.add_argument("components")
ap.add_argument("--fps", type=float, default=10.0)
ap.add_argument("--learn-s", type=float, default=300.0)
ap.add_argument("--frames-to-start", type=int, nargs="+", default=[5])
ap.add_argument("--margin", nargs="+", default=["5"], help="seconds, or 'all' for every quiet frame")
ap.add_argument("--burn-in-s", type=float, default=600.0)
ap.add_argument("--detrend-s", type=float, default=0.0)
a = ap.parse_args()
COMPS, FPS, BELOW = a.components.split(","), a.fps, 2

truth = json.load(open(a.truth))
rows = [json.loads(l) for l in open(a.scores)]
t = np.array([r["pts_seconds"] for r in rows])
X = {c: np.array([r[c] for r in rows], float) for c in COMPS}
learnt = {tt["component"]: np.array(tt["tail"]["sorted"]) for tt in json.load(open(a.calibration))["tails"]}
if a.detrend_s > 0:
    n = int(a.detrend_s * FPS)
    for c in COMPS:
        x, base = X[c], np.empty_like(X[c])
        base[0] = x[0]
        for i in range(1, len(x)):
            base[i] = np.median(x[max(0, i - n):i])
        X[c] = np.where(t > a.learn_s, x - base + np.median(learnt[c]), x)


def surprise(tails):
    return fused_surprise([tails[c] for c in COMPS], [X[c] for c in COMPS])


def replay(F, margin):
    cut = -np.log10(1 * F / (3600 * FPS))
    burn = int(a.burn_in_s * FPS)
    tails = {c: Tail(learnt[c]) for c in COMPS}
    S = surprise(tails)
    quiet = {c: [] for c in COMPS}
    accepted = fitted = 0
    held, cooldown, pending = [], 0, []
    ev, ep, episodes, blips, burn_end = 0, None, [], 0, None
    M = int(round(margin * FPS)) if margin is not None else 0
    for i in np.flatnonzero(t > a.learn_s):
        above = S[i] >= cut
        if ep is None:
            if above:
                if ev == 0: start, peak = t[i], 0.0
                ev += 1; peak = max(peak, S[i])
                if ev >= F: ep, ev, below = [start, t[i], peak], 0, 0
            elif ev > 0:
                ev = max(0, ev - BELOW)
                if ev == 0: blips += 1
            phase = "episode" if ep else "building" if ev > 0 else "quiet"
        else:
            phase, ep[1], ep[2] = "episode", t[i], max(ep[2], S[i])
            below = 0 if above else below + 1
            if below >= F: episodes.append(tuple(ep)); ep = None
        if accepted >= burn:
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
        joined = joined[:burn - accepted]
        for j in joined:
            for c in COMPS: quiet[c].append(X[c][j])
        accepted += len(joined)
        if joined and ((accepted >= 50 and accepted >= max(fitted, 1) * 1.25) or accepted >= burn):
            tails = {c: Tail(np.concatenate([learnt[c], quiet[c]])) for c in COMPS}
            S, fitted = surprise(tails), accepted
            if accepted >= burn: burn_end = t[i]
    if ep: episodes.append(tuple(ep))
    # As shift.sh counts: an episode within a second of an object's time in view is the object's.
    hits = lambda e, n: e[0] <= n["end"] + 1 and e[1] >= n["start"] - 1
    delays = [min(e[0] for e in episodes if hits(e, n)) - n["start"] for n in truth["novel"]
              if any(hits(e, n) for e in episodes)]
    missed = [k for k, n in enumerate(truth["novel"]) if not any(hits(e, n) for e in episodes)]
    false = [e for e in episodes if not any(hits(e, n) for n in truth["novel"])]
    name = "all quiet frames" if margin is None else f"margin {margin:g} s"
    print(f"frames_to_start {F:2d} (cut {cut:.2f}), {name:16s}: caught {len(truth['novel']) - len(missed):2d}/"
          f"{len(truth['novel'])} (missed {missed}), median delay {np.median(delays) if delays else np.nan:+.2f} s; "
          f"false episodes {len(false)} ({', '.join(f'{s:.0f} s for {e - s:.1f} s, peak {p:.1f}' for s, e, p in false)});"
          f" blips {blips}; burn-in over at {burn_end or np.nan:.0f} s", flush=True)


print(f"components {COMPS}, {FPS:g} frames/s" + (f", detrended over {a.detrend_s:g} s" if a.detrend_s else ""))
for F in a.frames_to_start:
    for m in a.margin:
        replay(F, None if m == "all" else float(m))
