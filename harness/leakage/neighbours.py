"""The nearest reference hash within a Hamming radius, for every query, by multi-index hashing.

Exact, not approximate: ``d(q, x) <= r`` splits over disjoint bit blocks as ``sum(d_i) <= r``, so with
block radii ``r_i`` and ``sum(r_i + 1) >= r + 1`` some block has ``d_i <= r_i`` (the pigeonhole
principle of Norouzi, Punjani and Fleet's multi-index hashing). Each block indexes the references by
their bits in it (a dense table of bucket offsets); a query probes every key within ``r_i`` of its own
in each block, and every reference within ``r`` of it turns up as a candidate at least once. The
candidates are checked with a popcount and the nearest kept: smallest distance, then smallest
reference index, so ties are decided the same way however the blocks fall.

The same candidates answer a second question at no extra probing: the nearest reference of *another
group* (for leakage, another class: a match there cannot carry the label). A reference of another
group within ``r`` is a candidate like any other, so filtering the candidates before taking the
minimum finds the nearest eligible one, not the nearest one filtered away.

Block widths and radii are planned per call from the radius and the reference count (a cost model:
probes, candidates, table size), so radius 4 and radius 12 each get a layout that suits them. For
1.3 M references, radius 4 takes three blocks of 21-22 bits probed within (1, 1, 0) bits (about 45
probes a query), radius 12 the same blocks within (4, 3, 3) bits (about 12,000): the curve to radius 12
costs several times the single radius, and the search runs on threads to pay for it.
"""

from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

NO_MATCH = 65  # the distance reported where no reference lies within the radius: more than any 64-bit distance
_MAX_WIDTH = 22  # widest block: its dense table has 2**22 buckets (16 MB of int32 offsets)
_MAX_PROBES = 20_000  # most keys a query probes in one block
_PROBE_BUDGET = 1 << 18  # probe keys generated at once: small enough to stay in cache
_NONE = np.uint64(0xFFFFFFFFFFFFFFFF)
# cost model, in units of one candidate check: a probe is a gather from a table, a bucket a table entry built
_PROBE_COST, _TABLE_COST = 0.2, 0.05  # measured: a probe costs a fifth of a candidate check


@dataclass(frozen=True)
class Nearest:
    """Per query: the nearest reference within the radius (``index`` -1 and ``distance`` NO_MATCH if none)."""

    distance: np.ndarray  # int16
    index: np.ndarray  # int64 row of the reference array

    @property
    def found(self) -> np.ndarray:
        return self.index >= 0


@dataclass(frozen=True)
class Block:
    offset: int  # lowest bit
    width: int  # bits
    radius: int  # probe keys within this many bits of the query's


def _volume(width: int, radius: int) -> int:
    """Keys within ``radius`` bits of a ``width``-bit key."""
    return sum(math.comb(width, k) for k in range(radius + 1))


def plan_blocks(radius: int, n_reference: int, n_query: int) -> list[Block]:
    """The cheapest layout of disjoint blocks whose radii cover ``radius`` (sum(r_i + 1) = radius + 1), for
    uniformly spread hashes: per query, probes plus expected candidates; per block, its table."""
    best: tuple[float, list[Block]] | None = None
    for m in range(1, radius + 2):
        bits = min(64, _MAX_WIDTH * m)
        widths = [bits // m + (i < bits % m) for i in range(m)]  # widest first: they take the larger radii
        radii = [(radius + 1) // m + (i < (radius + 1) % m) - 1 for i in range(m)]
        if _volume(widths[0], radii[0]) > _MAX_PROBES:
            continue
        cost = sum(n_query * _volume(w, r) * (_PROBE_COST + n_reference / 2**w) + _TABLE_COST * 2**w
                   for w, r in zip(widths, radii, strict=True))
        if best is None or cost < best[0]:
            offsets = np.cumsum([0, *widths[:-1]])
            best = (cost, [Block(int(o), w, r) for o, w, r in zip(offsets, widths, radii, strict=True)])
    assert best is not None, "radius too large for multi-index hashing over 64 bits"
    return best[1]


@lru_cache(maxsize=64)
def _masks(width: int, radius: int) -> np.ndarray:
    """Every ``width``-bit XOR mask with at most ``radius`` bits set (int32)."""
    masks = [sum(1 << b for b in bits) for k in range(radius + 1) for bits in itertools.combinations(range(width), k)]
    return np.sort(np.array(masks, np.int32))  # ascending: consecutive probes fall on nearby table entries


def _keys(hashes: np.ndarray, block: Block) -> np.ndarray:
    return ((hashes >> np.uint64(block.offset)) & np.uint64((1 << block.width) - 1)).astype(np.int32)


def _runs(*keys: np.ndarray, tiebreak: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows sorted by ``keys`` (the first is the primary key; then ``tiebreak``) and the sorted position
    where each run of equal keys starts."""
    order = np.lexsort(((tiebreak,) if tiebreak is not None else ()) + keys[::-1])
    new = np.zeros(len(order), bool)
    new[:1] = True
    for key in keys:
        ordered = key[order]
        new[1:] |= ordered[1:] != ordered[:-1]
    return order, np.flatnonzero(new)


@dataclass
class _Index:
    """One block's table over the distinct references: bucket sizes and starts, references in bucket order.

    Gathers go through ``np.take`` and masks are boolean: both several times faster in numpy than fancy
    indexing and integer nonzero, and this loop is nothing but gathers and masks."""

    block: Block
    occupied: np.ndarray  # bool per bucket (a quarter of the offsets' size: stays in cache)
    bounds: np.ndarray  # int32, one more than the buckets: bucket k holds positions bounds[k]..bounds[k + 1]
    hashes: np.ndarray
    rows: np.ndarray  # position in the distinct references

    @classmethod
    def build(cls, hashes: np.ndarray, block: Block) -> _Index:
        keys = _keys(hashes, block)
        counts = np.bincount(keys, minlength=1 << block.width)
        order = np.argsort(keys, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        return cls(block, counts > 0, bounds, np.take(hashes, order), order)

    def candidates(self, query: np.ndarray, keys: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query position, distinct-reference position, distance) of the references within ``radius`` of
        ``query`` (whose block keys are ``keys``) among those within the block's radius in this block."""
        masks = _masks(self.block.width, self.block.radius)
        # mask-major: one mask over neighbouring (sorted) queries touches neighbouring buckets
        probes = (masks[:, None] ^ keys[None, :]).ravel()
        hit = np.flatnonzero(np.take(self.occupied, probes))
        if len(hit) == 0:
            return hit, hit, hit
        n = len(keys)  # chunks of a power of two queries turn the modulo into a mask
        owner = hit & (n - 1) if n & (n - 1) == 0 else hit % n
        probes = np.take(probes, hit)
        first = np.take(self.bounds, probes)
        sizes = np.take(self.bounds, probes + 1) - first  # the same cache line as ``first``
        ends = np.cumsum(sizes)
        # each hit's bucket is a run of consecutive positions: a cumulative sum of steps of one, with a
        # jump to the next bucket's start where a run ends (cheaper than repeat + arange per candidate)
        step = np.ones(int(ends[-1]), np.int32)
        step[0] = first[0]
        step[ends[:-1]] = first[1:] - (first[:-1] + sizes[:-1] - 1)
        position = np.cumsum(step)
        distance = np.bitwise_count(np.take(self.hashes, position) ^ np.repeat(np.take(query, owner), sizes))
        close = np.flatnonzero(distance <= radius)
        owner = np.take(owner, np.searchsorted(ends, close, "right"))
        return owner, np.take(self.rows, np.take(position, close)), np.take(distance, close)


def _distinct_references(reference: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per distinct (hash, group): its hash, group and smallest original index."""
    order, starts = _runs(reference, group, tiebreak=np.arange(len(reference)))
    keep = order[starts]
    return reference[keep], group[keep], keep.astype(np.int64)


def _to_nearest(best: np.ndarray) -> Nearest:
    found = best != _NONE
    distance = np.where(found, best >> np.uint64(32), NO_MATCH).astype(np.int16)
    index = np.where(found, (best & np.uint64(0xFFFFFFFF)).astype(np.int64), -1)
    return Nearest(distance, index)


def search(
    query: np.ndarray,
    reference: np.ndarray,
    radius: int,
    query_group: np.ndarray | None = None,
    reference_group: np.ndarray | None = None,
    workers: int | None = None,
) -> tuple[Nearest, Nearest]:
    """For each query hash: the nearest reference within ``radius``, and the nearest whose group differs
    from the query's (with no groups given, every reference shares one group: the second finds nothing).

    Ties go to the smallest reference index. Inputs are uint64 hashes and integer group labels;
    ``workers`` threads check candidates (default: the cores this process may use).
    """
    query, reference = np.asarray(query, np.uint64), np.asarray(reference, np.uint64)
    if len(reference) >= 1 << 31:
        raise ValueError("at most 2**31 reference hashes")
    query_group = np.zeros(len(query), np.int64) if query_group is None else np.asarray(query_group, np.int64)
    reference_group = np.zeros(len(reference), np.int64) if reference_group is None else np.asarray(reference_group, np.int64)
    best_any = np.full(len(query), _NONE)
    best_other = np.full(len(query), _NONE)
    if len(query) and len(reference):
        ref_hash, ref_group, ref_index = _distinct_references(reference, reference_group)
        q_order, q_starts = _runs(query, query_group)
        q_hash, q_group = query[q_order[q_starts]], query_group[q_order[q_starts]]
        workers = workers or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
        any_, other = _search_distinct(q_hash, q_group, ref_hash, ref_group, ref_index, radius, workers)
        is_start = np.zeros(len(query), bool)
        is_start[q_starts] = True
        run = np.cumsum(is_start) - 1  # each sorted query's distinct row
        best_any[q_order], best_other[q_order] = any_[run], other[run]
    return _to_nearest(best_any), _to_nearest(best_other)


def _search_distinct(q_hash, q_group, ref_hash, ref_group, ref_index, radius, workers):
    """``search`` on distinct queries and references: the packed (distance << 32 | index) minima.

    Query chunks are checked on ``workers`` threads (numpy's gathers and bit operations release the GIL);
    the minima are taken here, in chunk order, so the result does not depend on the thread count."""
    indexes = [_Index.build(ref_hash, block) for block in plan_blocks(radius, len(ref_hash), len(q_hash))]
    best_any = np.full(len(q_hash), _NONE)
    best_other = np.full(len(q_hash), _NONE)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for index in indexes:
            keys = _keys(q_hash, index.block)
            order = np.argsort(keys, kind="stable")  # neighbouring queries probe neighbouring buckets
            step = 1 << max(0, (_PROBE_BUDGET // len(_masks(index.block.width, index.block.radius))).bit_length() - 1)
            chunks = [order[start : start + step] for start in range(0, len(q_hash), step)]

            def check(chunk, index=index, keys=keys):
                return chunk, index.candidates(np.take(q_hash, chunk), np.take(keys, chunk), radius)

            for chunk, (owner, row, distance) in pool.map(check, chunks):
                packed = (distance.astype(np.uint64) << np.uint64(32)) | np.take(ref_index, row).astype(np.uint64)
                owner = np.take(chunk, owner)
                np.minimum.at(best_any, owner, packed)
                other = np.flatnonzero(np.take(ref_group, row) != np.take(q_group, owner))
                np.minimum.at(best_other, np.take(owner, other), np.take(packed, other))
    return best_any, best_other


def nearest(query: np.ndarray, reference: np.ndarray, radius: int) -> Nearest:
    """For each query hash, the nearest reference hash within ``radius`` bits (ties: smallest index)."""
    return search(query, reference, radius)[0]


def nearest_bruteforce(
    query: np.ndarray,
    reference: np.ndarray,
    radius: int,
    query_group: np.ndarray | None = None,
    reference_group: np.ndarray | None = None,
) -> Nearest:
    """The all-pairs definition (with groups: references of another group only); for tests on small inputs."""
    query, reference = np.asarray(query, np.uint64), np.asarray(reference, np.uint64)
    distance = np.bitwise_count(query[:, None] ^ reference[None, :]).astype(np.int16)
    if query_group is not None:
        distance[np.asarray(query_group)[:, None] == np.asarray(reference_group)[None, :]] = NO_MATCH
    distance[distance > radius] = NO_MATCH
    if len(reference) == 0:
        return Nearest(np.full(len(query), NO_MATCH, np.int16), np.full(len(query), -1, np.int64))
    index = np.argmin(distance, axis=1)  # first of the smallest: ties go to the smallest index
    nearest_distance = distance[np.arange(len(query)), index]
    return Nearest(nearest_distance, np.where(nearest_distance <= radius, index, -1).astype(np.int64))
