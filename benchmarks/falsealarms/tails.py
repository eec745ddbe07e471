"""`ScoreTail` in numpy/scipy, for the offline replays: empirical in the body, a generalized Pareto over the top 10 %
(at least 10 scores), never bounded."""
import numpy as np
from scipy.stats import genpareto


class Tail:
    def __init__(self, s):
        s = np.sort(np.asarray(s)); n = len(s); k = min(n // 2, max(10, round(0.1 * n)))
        self.s, self.u = s, s[n - k - 1]
        exc = s[n - k:] - self.u
        xi, _, sc = genpareto.fit(exc, floc=0)
        self.xi, self.sc = (xi, sc) if xi >= 0 else (0.0, exc.mean())
        self.lograte = np.log((k + 1) / (n + 1))

    def logsf(self, x):
        """ln of the tail probability of every score in the array x."""
        out = np.log((len(self.s) - np.searchsorted(self.s, x, side="right") + 1) / (len(self.s) + 1))
        hi = x > self.u
        out[hi] = self.lograte + genpareto.logsf(x[hi] - self.u, self.xi, scale=self.sc)
        return out


def fused_surprise(tails, scores):
    """−log10(m · min_j p_j) per frame, the daemon's min-p fusion of m components."""
    return -(np.min([tl.logsf(x) for tl, x in zip(tails, scores)], axis=0) + np.log(len(tails))) / np.log(10)
