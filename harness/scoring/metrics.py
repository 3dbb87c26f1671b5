"""Scores with honest uncertainty: window level and video level, 95% intervals from a bootstrap that
resamples videos (clusters), never windows.

Windows of one video are not independent (neighbours share 14 of 16 frames), so a window bootstrap
would give intervals far too narrow. Each bootstrap draw picks videos with replacement and takes all
their windows. Point estimates come from scikit-learn; inside the bootstrap every score is computed
from summed per-video confusion matrices (one matrix product for all draws), and ``scores_from_confusion``
is tested to equal scikit-learn on the same predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from harness.config import EvaluateConfig

SCORES = ("accuracy", "balanced_accuracy", "macro_precision", "macro_recall", "macro_f1",
          "weighted_precision", "weighted_recall", "weighted_f1")


def sklearn_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """The point estimates, from scikit-learn (macro over classes present in truth or prediction)."""
    out = {"accuracy": float(accuracy_score(y_true, y_pred))}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)
        out.update({f"{average}_precision": float(p), f"{average}_recall": float(r), f"{average}_f1": float(f)})
    present = np.unique(y_true)
    per_class_recall = precision_recall_fscore_support(y_true, y_pred, labels=present, zero_division=0)[1]
    out["balanced_accuracy"] = float(per_class_recall.mean())
    return {k: out[k] for k in SCORES}


def scores_from_confusion(cm: np.ndarray) -> dict[str, np.ndarray]:
    """The SCORES of one or many confusion matrices (..., K, K), rows = truth, as scikit-learn defines them."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support = cm.sum(axis=-1)  # true count per class
    predicted = cm.sum(axis=-2)
    total = support.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        labelled = (support + predicted) > 0  # sklearn's macro: labels in truth or prediction
        n_labelled = labelled.sum(axis=-1)
        in_truth = support > 0
        out = {
            "accuracy": tp.sum(axis=-1) / total,
            "balanced_accuracy": (recall * in_truth).sum(axis=-1) / in_truth.sum(axis=-1),
            "macro_precision": (precision * labelled).sum(axis=-1) / n_labelled,
            "macro_recall": (recall * labelled).sum(axis=-1) / n_labelled,
            "macro_f1": (f1 * labelled).sum(axis=-1) / n_labelled,
            "weighted_precision": (precision * support).sum(axis=-1) / total,
            "weighted_recall": (recall * support).sum(axis=-1) / total,
            "weighted_f1": (f1 * support).sum(axis=-1) / total,
        }
    return out


def per_video_confusion(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(video ids, confusion matrix of each video's windows), shaped (V,) and (V, K, K)."""
    codes, videos = pd.factorize(pd.Series(groups), sort=True)
    cm = np.zeros((len(videos), n_classes, n_classes), np.int64)
    np.add.at(cm, (codes, np.asarray(y_true), np.asarray(y_pred)), 1)
    return np.asarray(videos), cm


def bootstrap_counts(n_videos: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n_videos): how often each video is drawn in each bootstrap resample."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_videos, size=(resamples, n_videos))
    counts = np.zeros((resamples, n_videos), np.int64)
    np.add.at(counts, (np.arange(resamples)[:, None], draws), 1)
    return counts


def bootstrap_scores(video_cm: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Every score for every resample: summed confusion matrices weighted by draw counts."""
    k = video_cm.shape[-1]
    summed = (counts @ video_cm.reshape(len(video_cm), -1)).reshape(len(counts), k, k)
    return scores_from_confusion(summed)


def interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if len(finite) == 0:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class Scored:
    """Scores of one set of predictions, with clustered-bootstrap intervals."""

    point: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]
    n_windows: int
    n_videos: int

    def flat(self, prefix: str = "") -> dict[str, float]:
        out = {}
        for name in SCORES:
            out[f"{prefix}{name}"] = round(self.point[name], 6)
            out[f"{prefix}{name}_ci_low"] = round(self.low[name], 6)
            out[f"{prefix}{name}_ci_high"] = round(self.high[name], 6)
        return out


def score_with_intervals(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray, n_classes: int,
                         resamples: int, confidence: float, seed: int) -> Scored:
    """Point scores (scikit-learn) and intervals from resampling the videos in ``groups``."""
    point = sklearn_scores(y_true, y_pred)
    _, video_cm = per_video_confusion(y_true, y_pred, groups, n_classes)
    samples = bootstrap_scores(video_cm, bootstrap_counts(len(video_cm), resamples, seed))
    bounds = {name: interval(samples[name], confidence) for name in SCORES}
    return Scored(point, {k: v[0] for k, v in bounds.items()}, {k: v[1] for k, v in bounds.items()},
                  n_windows=len(y_true), n_videos=len(video_cm))


def video_level(probs: np.ndarray, labels: np.ndarray, videos: np.ndarray) -> pd.DataFrame:
    """One row per video: its label and the class of its mean window probability (torchvision's
    video-level accuracy: clip scores averaged over the video)."""
    frame = pd.DataFrame(probs)
    frame["video_id"] = videos
    mean_probs = frame.groupby("video_id", sort=True).mean()
    label = pd.Series(labels, index=videos).groupby(level=0, sort=True).first()
    return pd.DataFrame({"video_id": mean_probs.index, "label": label.loc[mean_probs.index].to_numpy(),
                         "predicted": mean_probs.to_numpy().argmax(axis=1)})


def per_class(y_true: np.ndarray, y_pred: np.ndarray, class_names: tuple[str, ...]) -> pd.DataFrame:
    labels = np.arange(len(class_names))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return pd.DataFrame({"class_name": class_names, "precision": p, "recall": r, "f1": f, "support": s})


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    return confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))


def majority_rate(labels: np.ndarray) -> float:
    """The accuracy of always answering the commonest class: the floor a score must clear."""
    return float(np.bincount(labels).max() / len(labels)) if len(labels) else float("nan")


def difference_interval(a: pd.DataFrame, b: pd.DataFrame, n_classes: int, score: str, resamples: int,
                        confidence: float, seed: int) -> dict[str, float | int | bool]:
    """score(a) - score(b) with a clustered bootstrap interval; ``a`` and ``b`` hold predictions
    (columns video_id, label, predicted).

    When the two sets draw on the same videos (the frame and video splits both score Train videos) the
    bootstrap is paired: each draw resamples the union of their videos once and scores both sets on it,
    so shared sampling noise cancels in the difference. Sets with no video in common (frame vs the
    official Test folder) are resampled independently.
    """
    videos_a, videos_b = np.unique(a["video_id"]), np.unique(b["video_id"])
    shared = np.intersect1d(videos_a, videos_b)
    paired = len(shared) > 0

    def samples(frame: pd.DataFrame, population: np.ndarray, counts: np.ndarray) -> np.ndarray:
        ids, cm = per_video_confusion(frame["label"].to_numpy(), frame["predicted"].to_numpy(),
                                      frame["video_id"].to_numpy(), n_classes)
        full = np.zeros((len(population), n_classes, n_classes), np.int64)
        full[np.searchsorted(population, ids)] = cm
        return bootstrap_scores(full, counts)[score]

    if paired:
        union = np.union1d(videos_a, videos_b)
        counts = bootstrap_counts(len(union), resamples, seed)
        diff = samples(a, union, counts) - samples(b, union, counts)
    else:
        diff = (samples(a, videos_a, bootstrap_counts(len(videos_a), resamples, seed))
                - samples(b, videos_b, bootstrap_counts(len(videos_b), resamples, seed + 1)))
    point = (sklearn_scores(a["label"].to_numpy(), a["predicted"].to_numpy())[score]
             - sklearn_scores(b["label"].to_numpy(), b["predicted"].to_numpy())[score])
    low, high = interval(diff, confidence)
    return {"difference": round(point, 6), "ci_low": round(low, 6), "ci_high": round(high, 6),
            "paired": paired, "shared_videos": int(len(shared))}


def drops_from_frame(predictions: dict[str, pd.DataFrame], n_classes: int, cfg: EvaluateConfig) -> dict[str, Any]:
    """``frame_minus_<strategy>_{accuracy,macro_f1}``: the drop from the write-up's frame split to every
    other strategy in ``predictions`` (strategy -> predictions), with ``difference_interval``'s bootstrap."""
    if "frame" not in predictions:
        return {}
    return {f"frame_minus_{strategy}_{score}": difference_interval(predictions["frame"], other, n_classes, score,
                                                                   cfg.bootstrap_resamples, cfg.confidence, cfg.seed)
            for strategy, other in sorted(predictions.items()) if strategy != "frame"
            for score in ("accuracy", "macro_f1")}


def score_predictions(predictions: pd.DataFrame, class_names: tuple[str, ...], cfg: EvaluateConfig) -> dict[str, Any]:
    """Window-level and video-level scores with clustered-bootstrap intervals, floors and tables.

    ``predictions`` has columns video_id, label, predicted and p0..p{K-1} (class probabilities; a
    look-up without probabilities gives one-hot rows, so a video's class is its windows' majority)."""
    n_classes = len(class_names)
    probs = predictions[[f"p{i}" for i in range(n_classes)]].to_numpy()
    y, yhat, videos = predictions["label"].to_numpy(), predictions["predicted"].to_numpy(), predictions["video_id"].to_numpy()
    windows = score_with_intervals(y, yhat, videos, n_classes, cfg.bootstrap_resamples, cfg.confidence, cfg.seed)
    per_video = video_level(probs, y, videos)
    vy, vyhat, vids = per_video["label"].to_numpy(), per_video["predicted"].to_numpy(), per_video["video_id"].to_numpy()
    video = score_with_intervals(vy, vyhat, vids, n_classes, cfg.bootstrap_resamples, cfg.confidence, cfg.seed)
    return {
        "window": {"windows": windows.n_windows, "videos": windows.n_videos,
                   "majority_class_rate": round(majority_rate(y), 6), **windows.flat()},
        "video": {"videos": video.n_videos, "majority_class_rate": round(majority_rate(vy), 6), **video.flat()},
        "per_class_window": per_class(y, yhat, class_names),
        "per_class_video": per_class(vy, vyhat, class_names),
        "confusion_window": confusion(y, yhat, n_classes),
        "confusion_video": confusion(vy, vyhat, n_classes),
        "video_predictions": per_video,
    }
