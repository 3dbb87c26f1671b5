"""The clustered nearest-neighbour search against brute force: the same rows, ties to the lower row."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from harness.leakage.nearest import WindowSearch


def brute(features: np.ndarray, train: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row in ``train`` of each query's nearest training window (float64 differences; ties to the lower row)."""
    x = features.astype(np.float64)
    d = ((x[queries][:, None, :] - x[train][None, :, :]) ** 2).sum(-1)
    return d.argmin(axis=1), d.min(axis=1)


def scenes(rng: np.random.Generator, videos: int, length: int, dims: int = 24) -> np.ndarray:
    """Window features as the probe sees them: each video a slow walk around its own scene."""
    centres = rng.normal(0, 40, (videos, dims))
    steps = rng.normal(0, 1, (videos, length, dims)).cumsum(axis=1)
    return (centres[:, None, :] + steps).reshape(-1, dims).astype(np.float32)


@pytest.mark.parametrize("clusters", [None, 1, 7, 400])
def test_the_search_finds_brute_forces_nearest_window_on_every_split(clusters):
    rng = np.random.default_rng(0)
    features = scenes(rng, videos=30, length=40)
    video = np.repeat(np.arange(30), 40)
    search = WindowSearch(features, clusters=clusters, seed=1)
    frame = rng.permutation(len(features))  # windows of every video on both sides
    held_out = np.isin(video, rng.choice(30, 6, replace=False))  # whole videos held out: far neighbours
    splits = {"frame": (frame[:960], frame[960:]), "video": (np.flatnonzero(~held_out), np.flatnonzero(held_out)),
              "few": (np.array([5, 900]), np.arange(0, 1200, 7))}
    for name, (train, queries) in splits.items():
        row, distance = search.nearest(train, queries)
        expected_row, expected_distance = brute(features, train, queries)
        np.testing.assert_array_equal(row, expected_row, err_msg=name)
        np.testing.assert_allclose(distance, expected_distance, rtol=1e-9, atol=1e-6, err_msg=name)


def test_the_search_agrees_with_scikit_learns_brute_force_in_192_dimensions():
    rng = np.random.default_rng(2)
    features = rng.integers(0, 256, (3000, 192)).astype(np.float32)
    train, queries = np.arange(0, 3000, 2), np.arange(1, 3000, 2)
    reference = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(features[train])
    row, _ = WindowSearch(features).nearest(train, queries)
    np.testing.assert_array_equal(row, reference.kneighbors(features[queries], return_distance=False)[:, 0])


def test_ties_go_to_the_lower_training_row_wherever_the_copies_were_clustered():
    rng = np.random.default_rng(4)
    base = scenes(rng, videos=8, length=30)
    features = np.concatenate([base, base, base])  # every window three times: rows i, i + 240, i + 480
    train = rng.permutation(len(features))[:500]
    queries = np.arange(len(features))
    for clusters in (None, 3, 50):
        row, distance = WindowSearch(features, clusters=clusters).nearest(train, queries)
        expected_row, _ = brute(features, train, queries)
        np.testing.assert_array_equal(row, expected_row)
        copies = np.isin(queries % 240, train % 240)  # a copy of the query is in training: distance 0
        assert (distance[copies] == 0).all()


def test_a_search_with_no_training_windows_says_so():
    features = np.zeros((10, 4), np.float32)
    with pytest.raises(ValueError, match="no training windows"):
        WindowSearch(features).nearest(np.array([], np.int64), np.arange(3))
    row, distance = WindowSearch(features).nearest(np.arange(5), np.array([], np.int64))
    assert row.shape == distance.shape == (0,)
