"""Scores against scikit-learn on hand-made predictions, the video-level aggregation, and a bootstrap
that resamples videos (not windows); the auditor's table on fixed evaluations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from harness.config import EvaluateConfig
from harness.scoring.audit import audit
from harness.scoring.metrics import (
    bootstrap_counts,
    difference_interval,
    per_class,
    per_video_confusion,
    score_with_intervals,
    scores_from_confusion,
    sklearn_scores,
    video_level,
)


def test_hand_made_predictions_score_as_computed_by_hand():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    scores = sklearn_scores(y_true, y_pred)
    assert scores["accuracy"] == pytest.approx(4 / 6)
    # per class: precision 1, 1/2, 1/2; recall 2/3, 1/2, 1; F1 0.8, 0.5, 2/3
    assert scores["macro_precision"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert scores["macro_recall"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert scores["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert scores["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6)
    table = per_class(y_true, y_pred, ("a", "b", "c", "d"))
    assert list(table["support"]) == [3, 2, 1, 0]
    assert table.loc[0, "f1"] == pytest.approx(0.8)


@pytest.mark.parametrize("seed", range(5))
def test_scores_from_confusion_equal_scikit_learn(seed):
    """The bootstrap's vectorised scores are scikit-learn's, including classes absent from truth or prediction."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 5, 200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 6, 200))  # class 5 only predicted
    cm = np.zeros((6, 6), np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    ours = {k: float(v) for k, v in scores_from_confusion(cm).items()}
    assert ours["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)
        assert ours[f"{average}_precision"] == pytest.approx(p)
        assert ours[f"{average}_recall"] == pytest.approx(r)
        assert ours[f"{average}_f1"] == pytest.approx(f)
    assert ours == pytest.approx(sklearn_scores(y_true, y_pred))


def test_video_level_averages_window_probabilities():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7],   # video a: mean (0.467, 0.533) -> class 1
                      [0.6, 0.4], [0.6, 0.4]])              # video b: class 0
    labels = np.array([0, 0, 0, 1, 1])
    videos = np.array(["a", "a", "a", "b", "b"])
    table = video_level(probs, labels, videos)
    assert list(table["video_id"]) == ["a", "b"]
    assert list(table["label"]) == [0, 1]
    assert list(table["predicted"]) == [1, 0]  # a majority vote of windows would say 0 for video a


def test_bootstrap_draws_whole_videos():
    counts = bootstrap_counts(7, 500, seed=0)
    assert counts.shape == (500, 7)
    assert (counts.sum(axis=1) == 7).all()  # each resample draws 7 videos with replacement
    assert (counts == 0).any() and (counts >= 2).any()
    videos, cm = per_video_confusion(np.array([0, 1, 1]), np.array([0, 1, 0]), np.array(["v2", "v1", "v2"]), 2)
    assert list(videos) == ["v1", "v2"]
    assert cm[1].tolist() == [[1, 0], [1, 0]]


def test_copying_windows_does_not_narrow_the_interval():
    """Ten identical windows per video carry no more information than one: a bootstrap over videos
    gives the same interval for both; a bootstrap over windows would shrink it by about sqrt(10)."""
    rng = np.random.default_rng(1)
    n_videos = 40
    correct = rng.random(n_videos) < 0.7
    y_true = rng.integers(0, 3, n_videos)
    y_pred = np.where(correct, y_true, (y_true + 1) % 3)
    ids = np.array([f"v{i:02d}" for i in range(n_videos)])
    one = score_with_intervals(y_true, y_pred, ids, 3, 2000, 0.95, seed=0)
    ten = score_with_intervals(np.repeat(y_true, 10), np.repeat(y_pred, 10), np.repeat(ids, 10), 3, 2000, 0.95, seed=0)
    assert one.point["accuracy"] == pytest.approx(ten.point["accuracy"])
    assert (one.low["accuracy"], one.high["accuracy"]) == pytest.approx((ten.low["accuracy"], ten.high["accuracy"]))
    assert ten.n_windows == 400 and ten.n_videos == 40
    assert one.low["accuracy"] < one.point["accuracy"] < one.high["accuracy"]
    assert one.high["accuracy"] - one.low["accuracy"] > 0.15  # 40 videos: about +-0.14


def predictions(videos: list[str], labels: list[int], predicted: list[int], windows: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"video_id": np.repeat(videos, windows), "label": np.repeat(labels, windows),
                         "predicted": np.repeat(predicted, windows)})


def test_difference_is_paired_on_shared_videos_and_independent_otherwise():
    videos = [f"v{i}" for i in range(30)]
    truth = [i % 2 for i in range(30)]
    a = predictions(videos, truth, truth)  # all right
    b = predictions(videos, truth, [t if i % 3 else 1 - t for i, t in enumerate(truth)])  # a third wrong
    paired = difference_interval(a, b, 2, "accuracy", 1000, 0.95, seed=0)
    assert paired["paired"] and paired["shared_videos"] == 30
    assert paired["difference"] == pytest.approx(1 / 3)
    assert 0.15 < paired["ci_low"] < 1 / 3 < paired["ci_high"] <= 0.5
    other = predictions([f"w{i}" for i in range(30)], truth, [t if i % 3 else 1 - t for i, t in enumerate(truth)])
    independent = difference_interval(a, other, 2, "accuracy", 1000, 0.95, seed=0)
    assert not independent["paired"] and independent["shared_videos"] == 0
    assert independent["difference"] == pytest.approx(1 / 3)


def test_audit_table_rows_floors_and_drops():
    def entry(model, strategy, preds, labels="true"):
        y, yhat = preds["label"].to_numpy(), preds["predicted"].to_numpy()
        scored = score_with_intervals(y, yhat, preds["video_id"].to_numpy(), 2, 500, 0.95, seed=0)
        window = {"windows": scored.n_windows, "videos": scored.n_videos, "majority_class_rate": 0.5, **scored.flat()}
        return {"metrics": {"model": model, "strategy": strategy, "labels": labels, "eval_set": "test",
                            "data_source": "synthetic", "window": window, "video": window},
                "predictions": preds}

    videos = [f"v{i}" for i in range(20)]
    truth = [i % 2 for i in range(20)]
    evaluations = {
        "multitask-frame": entry("multitask", "frame", predictions(videos, truth, truth)),
        "multitask-video": entry("multitask", "video", predictions(videos, truth, [0] * 20)),
    }
    leakage = {"frame": {"test": {"videos_shared_with_train": 20, "windows_sharing_at_least_1_frames": 1.0,
                                  "near_duplicate_rate": 0.99}}}
    table, metrics = audit(evaluations, leakage, 2, EvaluateConfig(bootstrap_resamples=500, confidence=0.95, seed=0))
    assert list(table["strategy"]) == ["frame", "video"]
    frame, video = table.iloc[0], table.iloc[1]
    assert frame["accuracy"] == 1.0 and frame["accuracy_above_floor"]
    assert video["accuracy"] == 0.5 and not video["accuracy_above_floor"]
    assert frame["videos_shared_with_train"] == 20 and pd.isna(video["near_duplicate_rate"])
    drop = metrics["drops"]["multitask"]["frame_minus_video_accuracy"]
    assert drop["difference"] == pytest.approx(0.5) and drop["ci_low"] > 0.2
    assert metrics["scores"]["multitask"]["video"]["accuracy"] == 0.5
    assert f1_score([0, 1], [0, 1], average="macro") == metrics["scores"]["multitask"]["frame"]["macro_f1"]
    assert metrics["not_applicable"] == {} and "not_run" not in metrics
    # a strategy that does not apply and a model-free audit's skipped runs: no row, said in the metrics
    skipped = {"multitask-gap": {"metrics": {"model": "multitask", "strategy": "gap", "labels": "true",
                                             "not_applicable": "the gap split has nothing to evaluate"}},
               "baseline-video": {"metrics": {"model": "baseline", "strategy": "video", "labels": "true",
                                              "not_run": "a model-free audit"}}}
    table, metrics = audit({**evaluations, **skipped}, leakage, 2,
                           EvaluateConfig(bootstrap_resamples=500, confidence=0.95, seed=0))
    assert list(table["strategy"]) == ["frame", "video"] and set(table["model"]) == {"multitask"}
    assert metrics["not_applicable"] == {"gap": "the gap split has nothing to evaluate"}
    assert metrics["not_run"] == "a model-free audit" and set(metrics["scores"]) == {"multitask"}
