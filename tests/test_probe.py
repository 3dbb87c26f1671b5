"""The memorisation probe's parts against brute force and hand-worked cases."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.config import EvaluateConfig, ProbeConfig
from harness.probe import nearest_training_window, permutation_scores, probe

CLASSES = ("A", "B", "C")


def test_nearest_training_window_is_the_brute_force_argmin():
    rng = np.random.default_rng(0)
    train, queries = rng.normal(size=(500, 12)), rng.normal(size=(80, 12))
    distances = ((queries[:, None, :] - train[None, :, :]) ** 2).sum(-1)
    np.testing.assert_array_equal(nearest_training_window(train, queries), distances.argmin(axis=1))


def manifest_rows(videos: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """Windows of ``videos`` (id -> (label, windows)), window ids counting up."""
    rows = [(video, label) for video, (label, n) in videos.items() for _ in range(n)]
    frame = pd.DataFrame(rows, columns=["video_id", "label"])
    frame.insert(0, "window_id", np.arange(len(frame)))
    return frame


def test_a_look_up_of_the_same_videos_is_significant_and_a_label_free_one_is_not():
    # six training videos, two per class; evaluation windows are copies of training windows (the frame split)
    train = manifest_rows({f"v{i}": (i % 3, 5) for i in range(6)})
    features = np.eye(len(train))  # every window distinct
    evaluation = train.iloc[::2].copy()  # near-copies: the nearest training window is the window itself
    cfg, evaluate = ProbeConfig(thumbnail_size=8, permutations=199, seed=0), EvaluateConfig(
        bootstrap_resamples=200, confidence=0.95, seed=0)
    predictions, scores = probe(features, train, evaluation, CLASSES, cfg, evaluate)
    assert (predictions["predicted"] == predictions["label"]).all()
    assert scores["window"]["accuracy"] == 1.0 and scores["window"]["neighbour_in_same_video"] == 1.0
    # 6 videos, labels (0,1,2,0,1,2): a permutation scores 1.0 only when each video keeps its class
    # (2!^3 = 8 of 720 assignments), so p is about (1 + 199 * 8/720) / 200
    assert scores["permutation"]["accuracy_p_value"] < 0.05
    assert 0.2 < scores["permutation"]["accuracy_chance_mean"] < 0.5


def test_permuted_scores_use_one_label_per_video_and_keep_the_class_counts():
    videos = np.repeat(["a", "b", "c", "d"], 3)
    labels = np.repeat([0, 0, 1, 1], 3)
    neighbour = np.arange(12)  # each evaluation window's neighbour is the training window of the same position
    scores = permutation_scores(videos, labels, neighbour, labels, permutations=400, seed=1)
    # two classes of two videos each: a permutation gets every window right when both class-0 labels stay on
    # videos a and b (2! x 2! = 4 of the 4! = 24 permutations), half of them or none otherwise
    assert set(np.round(scores["accuracy"], 6)) <= {0.0, 0.5, 1.0}
    assert abs(np.mean(scores["accuracy"] == 1.0) - 4 / 24) < 0.06
