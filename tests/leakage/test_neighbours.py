"""The multi-index nearest-neighbour search against its all-pairs definition, and the chance search's bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import flip_bits, random_hashes
from scipy.stats import binom

from harness.leakage.evidence import rate_curve
from harness.leakage.neighbours import NO_MATCH, nearest_bruteforce, plan_blocks, search


def planted(rng, n_reference=1500, max_flips=14):
    """Random references (some repeated, so ties occur) and queries planted 0..max_flips bits from them."""
    reference = random_hashes(rng, n_reference)
    reference[100:140] = reference[:40]  # the same hash under two indices: ties go to the smaller one
    queries = np.concatenate([flip_bits(rng, reference[rng.integers(0, n_reference, 25)], k) for k in range(max_flips)]
                             + [random_hashes(rng, 100), reference[:10]])
    return queries, reference


def assert_same(found, expected):
    np.testing.assert_array_equal(found.distance, expected.distance)
    np.testing.assert_array_equal(found.index, expected.index)


@pytest.mark.parametrize("radius", [0, 1, 2, 3, 4, 5, 6, 12])
def test_nearest_and_nearest_of_another_group_equal_brute_force(radius):
    rng = np.random.default_rng(radius)
    queries, reference = planted(rng)
    query_group, reference_group = rng.integers(0, 3, len(queries)), rng.integers(0, 3, len(reference))
    found, other = search(queries, reference, radius, query_group, reference_group)
    assert_same(found, nearest_bruteforce(queries, reference, radius))
    assert_same(other, nearest_bruteforce(queries, reference, radius, query_group, reference_group))
    assert found.found.sum() > 25 * min(radius + 1, 14)  # the planted neighbours are matched
    assert (other.distance >= found.distance).all()


def test_clustered_hashes_large_buckets_and_empty_inputs():
    rng = np.random.default_rng(1)
    reference = (random_hashes(rng, 3000) & np.uint64(0xFFFFFFFF00000000)) | np.uint64(0x1234)
    queries = np.concatenate([flip_bits(rng, reference[:200], 3), flip_bits(rng, reference[:200], 7), reference[:50]])
    assert_same(search(queries, reference, 4)[0], nearest_bruteforce(queries, reference, 4))
    empty = np.array([], np.uint64)
    assert search(empty, reference, 4)[0].distance.shape == (0,)
    none = search(queries, empty, 4)[0]
    assert (none.index == -1).all() and (none.distance == NO_MATCH).all()


def test_plans_cover_the_radius_with_disjoint_blocks():
    for radius in range(17):
        for n in (10, 10_000, 1_300_000):
            blocks = plan_blocks(radius, n, 100_000)
            assert sum(b.radius + 1 for b in blocks) >= radius + 1
            assert all(a.offset + a.width <= b.offset for a, b in zip(blocks, blocks[1:], strict=False))
            assert blocks[-1].offset + blocks[-1].width <= 64


def test_rate_curve_is_monotone_and_matches_each_radius():
    rng = np.random.default_rng(3)
    queries, reference = planted(rng)
    curve = rate_curve(search(queries, reference, 12)[0].distance, 12)
    values = [curve[str(r)] for r in range(13)]
    assert values == sorted(values) and values[-1] > values[0]
    for r in (0, 3, 7, 12):  # one search at 12 gives what a search at r gives
        assert curve[str(r)] == pytest.approx(search(queries, reference, r)[0].found.mean(), abs=1e-6)


def test_chance_rate_on_uniform_hashes_stays_below_a_binomial_bound():
    """Uniformly random hashes: a query has some other-group reference within r with probability at most
    n_reference x P(Binomial(64, 1/2) <= r) (union bound); the count of matched queries stays below the
    binomial quantile at one in a million."""
    rng = np.random.default_rng(7)
    n_query, n_reference, radius = 5000, 20_000, 12
    queries, reference = random_hashes(rng, n_query), random_hashes(rng, n_reference)
    _, chance = search(queries, reference, radius, rng.integers(0, 14, n_query), rng.integers(0, 14, n_reference))
    p_within = sum(math.comb(64, k) for k in range(radius + 1)) / 2**64
    bound = binom.ppf(1 - 1e-6, n_query, min(1.0, n_reference * p_within))
    assert chance.found.sum() <= bound


def test_the_result_does_not_depend_on_the_thread_count():
    rng = np.random.default_rng(11)
    queries, reference = planted(rng, n_reference=3000)
    groups = rng.integers(0, 4, len(queries)), rng.integers(0, 4, len(reference))
    one = search(queries, reference, 8, *groups, workers=1)
    three = search(queries, reference, 8, *groups, workers=3)
    for a, b in zip(one, three, strict=True):
        assert_same(a, b)
