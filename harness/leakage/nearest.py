"""Exact Euclidean nearest neighbours of window features, by a clustered search that proves what it skips.

Brute force compares every evaluation window with every training window: at UCF-Crime's size (about 220,000
training and 55,000 evaluation windows of 192 values) that is about a minute a look-up on 2 cores, and the probe
makes eleven. Most of those comparisons cannot matter: a window's nearest training window is usually close by
(the same scene), and whole groups of training windows are provably farther.

``WindowSearch`` clusters every window once (k-means on a sample; the clustering only decides how much work is
skipped, never the answer), and keeps each window's exact distance to its cluster's centre. A look-up then:

1. searches each evaluation window's few nearest clusters by brute force, which gives an upper bound ``b`` on its
   nearest distance;
2. skips a cluster ``c`` for it only when the triangle inequality proves every training member farther:
   ``|q - x| >= |q - m_c| - r_c``, with ``m_c`` the centre and ``r_c`` the largest member distance among the
   look-up's training windows, so ``|q - m_c| > r_c + sqrt(b)`` (with a margin far above float rounding) rules the
   cluster out; every other cluster is searched by brute force.

The answer is the exact nearest training window (squared distances in float64 on centred features, expanded as
``|q|^2 + |x|^2 - 2 q.x`` for matrix products, which only shortlist: every member within their rounding of the
least is measured again from the differences); ties are broken by the lower row of ``train_ids``, as in a
brute-force argmin, so exact copies of a window resolve the same way wherever the products rounded. The tests hold
it to brute force and to scikit-learn's. On the synthetic set at a quarter of UCF-Crime's size, the search compares 1% (frame split) to 10%
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
SAMPLE_PER_CLUSTER = 16  # k-means runs on this many windows per cluster (a sample: it only steers the search)
KMEANS_ITERATIONS = 5    # ... for this many rounds: a rough clustering prunes nearly as well as a converged one
_ROUND = 1e-9        # relative margin on every bound: float64 rounding is ~1e-16 of the same magnitudes
_CHUNK = 4096        # evaluation windows a thread searches at once (their distances to every centre: 4096 x k)


def n_clusters(n: int) -> int:
    """3.5 sqrt(n) clusters (16 to 4,096): the centre distances and per-cluster calls against the pairs they let the
    search skip (at UCF-Crime's size, 2,017 clusters: the video split's look-up 17 s, against 21 s with 1,152 and
    15 s with 3,000, whose frame split took 7 s against 4)."""
    return int(np.clip(round(3.5 * np.sqrt(n)), 16, 4096))


class WindowSearch:
    """Every window's cluster and exact distance to its centre, computed once for all the look-ups of one run, and
    the centred features in float64 stored by cluster (about 0.5 GB at UCF-Crime's size), so that a look-up gathers
    its training windows from nearby rows instead of converting every one again."""

    def __init__(self, features: np.ndarray, clusters: int | None = None, seed: int = 0, threads: int = 2) -> None:
        n, dims = features.shape
        self.threads = max(1, threads)
        mean = features.mean(axis=0, dtype=np.float64) if n else np.zeros(dims)
        k = min(clusters or n_clusters(n), n)
        self.cluster, self.centres = np.zeros(n, np.int64), np.zeros((k, dims))
        if k:
            rng = np.random.default_rng(seed)
            sample = features[rng.choice(n, min(n, SAMPLE_PER_CLUSTER * k), replace=False)]
            with threadpool_limits(self.threads), warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # copies make fewer distinct clusters: no harm
                kmeans = KMeans(k, init="random", n_init=1, max_iter=KMEANS_ITERATIONS, random_state=seed).fit(sample)
                self.cluster = kmeans.predict(features).astype(np.int64)
            self.centres = kmeans.cluster_centers_.astype(np.float64) - mean
        self.order = np.argsort(self.cluster, kind="stable")  # windows by cluster, then by id
        self.position = np.empty(n, np.int64)
        self.position[self.order] = np.arange(n)
        self.x, self.radius = np.empty((n, dims)), np.empty(n)  # in self.order's order
        for start in range(0, n, _CHUNK):  # centred, and each window's exact distance to the centre it was assigned
            rows = slice(start, start + _CHUNK)
            self.x[rows] = features[self.order[rows]]
            self.x[rows] -= mean
            offset = self.x[rows] - self.centres[self.cluster[self.order[rows]]]
            self.radius[rows] = np.sqrt(np.einsum("ij,ij->i", offset, offset))

    def nearest(self, train_ids: np.ndarray, eval_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row in ``train_ids`` of each evaluation window's nearest training window, and the squared distance."""
        train_ids, eval_ids = np.asarray(train_ids, np.int64), np.asarray(eval_ids, np.int64)
        if len(train_ids) == 0:
            raise ValueError("no training windows to search")
        cluster, stored = self.cluster[train_ids], self.position[train_ids]
        order = np.argsort(cluster, kind="stable")  # by cluster, then by row of train_ids (a tie goes to the lower row)
        radius = np.full(len(self.centres), -np.inf)
        np.maximum.at(radius, cluster, self.radius[stored])
        members = _Members(self.x[stored[order]], order, np.searchsorted(cluster[order], np.arange(len(radius) + 1)),
                           self.centres, radius)
        chunks = [eval_ids[i : i + _CHUNK] for i in range(0, len(eval_ids), _CHUNK)]
        with threadpool_limits(1), ThreadPoolExecutor(self.threads) as pool:  # BLAS releases the GIL
            results = list(pool.map(lambda chunk: self._search(members, self.x[self.position[chunk]]), chunks))
        if not results:
            return np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])

    @staticmethod
    def _search(members: _Members, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The search of centred evaluation windows ``q``: row in train_ids of each one's nearest, and its distance."""
        qn = np.einsum("ij,ij->i", q, q)
        best, row = np.full(len(q), np.inf), np.full(len(q), -1, np.int64)
        occupied, centres, r, cn = members.occupied, members.centres, members.radius, members.centre_norms
        if len(q) == 0 or len(occupied) == 0:
            return row, best
        # 1. each window's FIRST nearest centres (least |m|^2 - 2 q.m), their clusters searched: an upper bound
        products = q @ centres.T
        products *= -2
        products += cn
        searched = np.zeros(products.shape, bool)
        for _ in range(min(FIRST, len(occupied))):  # a few argmins: a tenth of the time of an argpartition here
            nearest = products.argmin(axis=1)[:, None]
            np.put_along_axis(searched, nearest, True, axis=1)
            np.put_along_axis(products, nearest, np.inf, axis=1)
        for j, column in enumerate(np.ascontiguousarray(searched.T)):  # by cluster: a contiguous row each
            members.search(occupied[j], np.flatnonzero(column), q, qn, best, row)
        # 2. every other cluster the bound cannot rule out: |q - m| <= r + s (s = sqrt(best)), squared and widened by
        # _ROUND of every term, with the cross term 2 r s folded into one product of [q, s] and [m, r]
        s = (1 + _ROUND) * np.sqrt(best)
        products = np.hstack([q, s[:, None]]) @ members.centres_and_radii.T
        products *= 2
        products -= ((1 - _ROUND) * cn - (1 + _ROUND) * r * r)[None, :]
        needed = products >= ((1 - _ROUND) * qn - (1 + _ROUND) * s * s)[:, None]
        needed &= ~searched
        for j, column in enumerate(np.ascontiguousarray(needed.T)):
            members.search(occupied[j], np.flatnonzero(column), q, qn, best, row)
        return row, best


class _Members:
    """One look-up's training windows grouped by cluster (rows ``starts[c]:starts[c + 1]``), and the clusters that
    hold any (``occupied``) with their centres and radii, shared by every chunk of evaluation windows."""

    def __init__(self, x: np.ndarray, order: np.ndarray, starts: np.ndarray, centres: np.ndarray,
                 radius: np.ndarray) -> None:
        self.x, self.order, self.starts = x, order, starts
        self.norms = np.einsum("ij,ij->i", x, x)
        self.largest = float(self.norms.max(initial=0.0))
        self.occupied = np.flatnonzero(np.diff(starts) > 0)
        self.centres, self.radius = centres[self.occupied], radius[self.occupied]
        self.centre_norms = np.einsum("ij,ij->i", self.centres, self.centres)
        self.centres_and_radii = np.hstack([self.centres, self.radius[:, None]])  # step 2's product, [m, r]

    def search(self, c: int, which: np.ndarray, q: np.ndarray, qn: np.ndarray, best: np.ndarray, row: np.ndarray) -> None:
        """Brute force of the evaluation windows ``which`` against cluster ``c``'s members, keeping the nearer.

        The expanded distances (one matrix product) only shortlist: every member within their rounding of a window's
        smallest is measured again from the differences, and the least of those, then the lowest row, is kept, so a
        tie between copies does not depend on where the product rounded."""
        lo, hi = self.starts[c], self.starts[c + 1]
        if len(which) == 0 or hi == lo:
            return
        d = qn[which, None] + self.norms[None, lo:hi] - 2 * q[which] @ self.x[lo:hi].T
        smallest = d.min(axis=1)
        slack = _ROUND * (qn[which] + self.largest)  # far above float64 rounding of the expanded form
        hope = smallest <= best[which] + slack  # only windows this cluster may improve are measured again
        if not hope.any():
            return
        which, d, smallest, slack = which[hope], d[hope], smallest[hope], slack[hope]
        i, j = np.nonzero(d <= (smallest + slack)[:, None])
        offset = q[which[i]] - self.x[lo + j]
        exact, candidate = np.einsum("ij,ij->i", offset, offset), self.order[lo + j]
        ranked = np.lexsort((candidate, exact, i))  # per window: least distance, then lowest row
        first = ranked[np.r_[True, i[ranked][1:] != i[ranked][:-1]]]
        window, value, candidate = which[i[first]], exact[first], candidate[first]
        better = (value < best[window]) | ((value == best[window]) & (candidate < row[window]))
        best[window[better]], row[window[better]] = value[better], candidate[better]
