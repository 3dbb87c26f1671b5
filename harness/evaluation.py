"""Scoring a trained model on its split's evaluation set: windows, videos, classes, intervals, floors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from harness.config import nonneg, positive, unit
from harness.data.dataset import ClipDataset
from harness.metrics import (
    confusion,
    majority_rate,
    per_class,
    score_with_intervals,
    video_level,
)
from harness.training import TrainConfig, _loader, predict, resolve_precision


@dataclass(frozen=True, kw_only=True)
class EvaluateConfig:
    bootstrap_resamples: int = positive()
    confidence: float = unit()
    seed: int = nonneg()


def describe_eval_set(test_set: str) -> str:
    """What a manifest's scored set is, for metrics files and the report."""
    return "validation (the write-up's test = validation)" if test_set == "val" else "test"


def predict_windows(model: torch.nn.Module, paths: np.ndarray, windows: pd.DataFrame, labels: np.ndarray,
                    window_cfg, image_size: int, train: TrainConfig, device: torch.device) -> pd.DataFrame:
    """Class probabilities of every window, with its video and label."""
    dataset = ClipDataset(paths, windows, window_cfg, image_size, labels=labels, augment="none", with_future=False,
                          input_size=train.input_size or image_size)
    loader = _loader(dataset, train, device, train.eval_batch_size)
    out = predict(model, loader, resolve_precision(train.precision, device), device, progress="predict")
    frame = pd.DataFrame(out["probs"], columns=[f"p{i}" for i in range(out["probs"].shape[1])])
    frame.insert(0, "window_id", out["window_id"])
    frame.insert(1, "video_id", windows["video_id"].to_numpy())
    frame.insert(2, "label", out["labels"])
    frame.insert(3, "predicted", out["probs"].argmax(axis=1))
    return frame


def score_predictions(predictions: pd.DataFrame, class_names: tuple[str, ...], cfg: EvaluateConfig) -> dict[str, Any]:
    """Window-level and video-level scores with clustered-bootstrap intervals, floors and tables."""
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
