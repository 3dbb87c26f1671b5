"""Exact Euclidean nearest neighbours of window features, by a clustered search that proves what it skips.

Brute force compares every evaluation window with every training window: at UCF-Crime's size (about 270,000
training and 70,000 evaluation windows of 192 values) that is about a minute a look-up on 2 cores, and the probe
makes eleven. Most of those comparisons cannot matter: a window's nearest training window is usually close by
(the same scene), and whole groups of training windows are provably farther.

``WindowSearch`` clusters every window once (k-means on a sample; the clustering only decides how much work is
skipped, never the answer), and keeps each window's exact distance to its cluster's centre. A look-up then:

1. searches each evaluation window's few nearest clusters by brute force, which gives an upper bound ``b`` on its
   nearest distance;
2. skips a cluster ``c`` for it only when the triangle inequality proves every training member farther:
   ``|q - x| >= |q - m_c| - r_c``, with ``m_c`` the centre and ``r_c`` the largest member distance among the
   look-up's training windows, so ``(|q - m_c| - r_c)^2 > b`` (with a margin of float rounding) rules the cluster
   out; every other cluster is searched by brute force.

The answer is the exact nearest training window (squared distances in float64 on centred features, expanded as
``|q|^2 + |x|^2 - 2 q.x`` for matrix products); ties are broken by the lower row of ``train_ids``, as in a
brute-force argmin (exact copies of a window compute to the same value; distances equal only up to float rounding
go to whichever the rounding favours, as they do in any brute force). The tests hold it to scikit-learn's brute
force. On the synthetic set at a quarter of UCF-Crime's size, the search compares 1% (frame split) to 10%
(video split) of the pairs brute force compares.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

FIRST = 3            # clusters searched first for each evaluation window (its nearest centres)
SAMPLE_PER_CLUSTER = 32  # k-means runs on this many windows per cluster (a sample: it only steers the search)
_ROUND = 1e-9        # relative margin on every bound: float64 rounding is ~1e-16 of the same magnitudes
_CHUNK = 4096        # evaluation windows a thread searches at once (their distances to every centre: 4096 x k)


def n_clusters(n: int) -> int:
    """About sqrt(n) clusters (16 to 2,048): cost of the centre distances against the work they let us skip."""
    return int(np.clip(round(2 * np.sqrt(n)), 16, 2048))


class WindowSearch:
    """Every window's cluster and exact distance to its centre, computed once for all the look-ups of one run."""

    def __init__(self, features: np.ndarray, clusters: int | None = None, seed: int = 0, threads: int = 2) -> None:
        n = len(features)
        self.features, self.threads = features, max(1, threads)
        self.mean = features.mean(axis=0, dtype=np.float64) if n else np.zeros(features.shape[1])
        k = min(clusters or n_clusters(n), n)
        self.cluster, self.radius = np.zeros(n, np.int64), np.zeros(n)
        self.centres = np.zeros((k, features.shape[1]))
        if k == 0:
            return
        rng = np.random.default_rng(seed)
        sample = features[rng.choice(n, min(n, SAMPLE_PER_CLUSTER * k), replace=False)]
        with threadpool_limits(self.threads), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # copies make fewer distinct clusters: no harm
            kmeans = KMeans(k, init="random", n_init=1, max_iter=10, random_state=seed).fit(sample)
            self.cluster = kmeans.predict(features).astype(np.int64)
        self.centres = kmeans.cluster_centers_.astype(np.float64) - self.mean
        for start in range(0, n, _CHUNK):  # each window's exact distance to the centre it was assigned
            rows = slice(start, start + _CHUNK)
            offset = self._centred(np.arange(n)[rows]) - self.centres[self.cluster[rows]]
            self.radius[rows] = np.sqrt(np.einsum("ij,ij->i", offset, offset))

    def _centred(self, ids: np.ndarray) -> np.ndarray:
        """Rows ``ids`` of the features in float64, less the mean of all windows."""
        return self.features[ids].astype(np.float64) - self.mean

    def nearest(self, train_ids: np.ndarray, eval_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row in ``train_ids`` of each evaluation window's nearest training window, and the squared distance."""
        train_ids, eval_ids = np.asarray(train_ids, np.int64), np.asarray(eval_ids, np.int64)
        if len(train_ids) == 0:
            raise ValueError("no training windows to search")
        k = len(self.centres)
        order = np.argsort(self.cluster[train_ids], kind="stable")  # by cluster, then by row: ties go to the lower row
        starts = np.searchsorted(self.cluster[train_ids][order], np.arange(k + 1))
        members = _Members(self._centred(train_ids[order]), order, starts)
        radius = np.full(k, -np.inf)
        np.maximum.at(radius, self.cluster[train_ids], self.radius[train_ids])
        chunks = [eval_ids[i : i + _CHUNK] for i in range(0, len(eval_ids), _CHUNK)]
        with threadpool_limits(1), ThreadPoolExecutor(self.threads) as pool:  # BLAS releases the GIL
            results = list(pool.map(lambda chunk: self._search(members, radius, chunk), chunks))
        row = np.concatenate([r[0] for r in results]) if results else np.zeros(0, np.int64)
        # the reported distance from the differences themselves (0 for a copy), not the expanded form the search used
        offset = self._centred(eval_ids) - self._centred(train_ids[row])
        return row, np.einsum("ij,ij->i", offset, offset)

    def _search(self, members: _Members, radius: np.ndarray, eval_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = self._centred(eval_ids)
        qn = np.einsum("ij,ij->i", q, q)
        best, row = np.full(len(q), np.inf), np.full(len(q), -1, np.int64)
        if len(q) == 0:
            return row, best
        occupied = np.flatnonzero(np.diff(members.starts) > 0)
        cn = np.einsum("ij,ij->i", self.centres, self.centres)
        # distance of each evaluation window to each occupied centre (float64, centred)
        centre = np.sqrt(np.maximum(qn[:, None] + cn[None, occupied] - 2 * q @ self.centres[occupied].T, 0))
        first = min(FIRST, len(occupied))
        nearest_centres = np.argpartition(centre, first - 1, axis=1)[:, :first]
        searched = np.zeros(centre.shape, bool)
        np.put_along_axis(searched, nearest_centres, True, axis=1)
        for j in range(len(occupied)):  # 1. each window's nearest clusters: an upper bound on its distance
            members.search(occupied[j], np.flatnonzero(searched[:, j]), q, qn, best, row)
        # 2. every cluster the bound cannot rule out
        gap = centre - radius[occupied][None, :]
        bound = np.where(gap > 0, gap * gap, 0.0)
        needed = (bound * (1 - _ROUND) <= best[:, None] * (1 + _ROUND) + _ROUND * qn[:, None]) & ~searched
        for j in range(len(occupied)):
            members.search(occupied[j], np.flatnonzero(needed[:, j]), q, qn, best, row)
        return row, best


class _Members:
    """The look-up's training windows grouped by cluster (rows ``starts[c]:starts[c + 1]``)."""

    def __init__(self, x: np.ndarray, order: np.ndarray, starts: np.ndarray) -> None:
        self.x, self.order, self.starts = x, order, starts
        self.norms = np.einsum("ij,ij->i", x, x)

    def search(self, c: int, which: np.ndarray, q: np.ndarray, qn: np.ndarray, best: np.ndarray, row: np.ndarray) -> None:
        """Brute force of the evaluation windows ``which`` against cluster ``c``'s members, keeping the nearer."""
        lo, hi = self.starts[c], self.starts[c + 1]
        if len(which) == 0 or hi == lo:
            return
        d = qn[which, None] + self.norms[None, lo:hi] - 2 * q[which] @ self.x[lo:hi].T
        j = d.argmin(axis=1)
        value, candidate = d[np.arange(len(which)), j], self.order[lo + j]
        better = (value < best[which]) | ((value == best[which]) & (candidate < row[which]))
        best[which[better]], row[which[better]] = value[better], candidate[better]
