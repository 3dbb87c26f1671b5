"""The sqrt inverse-frequency sampler: weights, expected class mix, and replayable epochs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import WeightedRandomSampler

from harness.data.dataset import SeededSampler, expected_class_mix, sqrt_inverse_frequency_weights

LABELS = np.array([0] * 760 + [1] * 200 + [2] * 35 + [3] * 5)


def test_weights_are_one_over_sqrt_class_count():
    weights = sqrt_inverse_frequency_weights(LABELS, 5)
    assert weights[0] == pytest.approx(1 / np.sqrt(760))
    assert weights[-1] == pytest.approx(1 / np.sqrt(5))


def test_expected_mix_is_sqrt_counts_over_their_sum():
    mix = expected_class_mix(LABELS, 4)
    root = np.sqrt([760, 200, 35, 5])
    np.testing.assert_allclose(mix, root / root.sum())
    # the write-up's claim for UCF-Crime ("~40% normal") is checked in the report from its own table


def test_empirical_mix_matches_the_formula():
    sampler = SeededSampler(sqrt_inverse_frequency_weights(LABELS, 4), 200_000, seed=3)
    indices, _ = sampler.draw()
    empirical = np.bincount(LABELS[indices], minlength=4) / len(indices)
    np.testing.assert_allclose(empirical, expected_class_mix(LABELS, 4), atol=0.005)


def test_draw_is_torchs_weighted_random_sampler():
    weights = sqrt_inverse_frequency_weights(LABELS, 4)
    ours = SeededSampler(weights, 500, seed=7)
    ours.set_epoch(2)
    generator = torch.Generator().manual_seed(7 * 1_000_003 + 2)
    theirs = list(WeightedRandomSampler(weights, 500, replacement=True, generator=generator))
    assert list(ours.draw()[0]) == theirs


def test_epochs_replay_and_differ():
    sampler = SeededSampler(None, 64, seed=1, size=1000)
    sampler.set_epoch(3)
    first = list(sampler)
    sampler.set_epoch(4)
    other = list(sampler)
    sampler.set_epoch(3)
    assert list(sampler) == first != other
    assert all(isinstance(seed, int) for _, seed in first)


def test_ranks_split_one_draw():
    full = SeededSampler(None, 10, seed=0, size=100)
    parts = [list(SeededSampler(None, 10, seed=0, size=100, rank=r, world_size=2)) for r in (0, 1)]
    assert sorted(parts[0] + parts[1]) == sorted(full)
    assert len(parts[0]) == len(parts[1]) == 5
