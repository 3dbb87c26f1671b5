"""Scoring a trained model on its split's evaluation set: class probabilities of every window
(``predict_windows``), then window- and video-level scores with intervals (harness.scoring.metrics), as the
tables the train stage and sweep jobs write (``evaluate_run``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from harness.config import EvaluateConfig, TrainConfig
from harness.data.dataset import ClipDataset
from harness.leakage.splits import Manifest, describe_eval_set
from harness.runtime.loaders import eval_loader
from harness.runtime.precision import resolve_precision
from harness.scoring.inference import predict
from harness.scoring.metrics import score_predictions


def predict_windows(model: torch.nn.Module, paths: np.ndarray, windows: pd.DataFrame, labels: np.ndarray,
                    window_cfg, image_size: int, train: TrainConfig, device: torch.device, seed: int) -> pd.DataFrame:
    """Class probabilities of every window, with its video and label (through the training transform where
    ``train.validation_augment`` says the write-up's code scored that way)."""
    dataset = ClipDataset(paths, windows, window_cfg, image_size, labels=labels,
                          augment=train.augment if train.validation_augment else "none", with_future=False,
                          input_size=train.input_size or image_size, augment_per_frame=train.augment_per_frame,
                          cache_frames=train.cache_frames)
    loader = eval_loader(dataset, train, device, seed)
    out = predict(model, loader, resolve_precision(train.precision, device), device, progress="predict")
    frame = pd.DataFrame(out["probs"], columns=[f"p{i}" for i in range(out["probs"].shape[1])])
    frame.insert(0, "window_id", out["window_id"])
    frame.insert(1, "video_id", windows["video_id"].to_numpy())
    frame.insert(2, "label", out["labels"])
    frame.insert(3, "predicted", out["probs"].argmax(axis=1))
    return frame


def evaluate_run(model: torch.nn.Module, paths: np.ndarray, manifest: Manifest, labels: np.ndarray | None,
                 class_names: tuple[str, ...], window_cfg, image_size: int, train: TrainConfig, cfg: EvaluateConfig,
                 device: torch.device, seed: int) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """``model`` on ``manifest``'s test set (its validation set where test = validation); ``labels`` are the
    labels it was trained on for those windows (shuffled for the control), None for the true ones.

    Returns metrics.json's scores (strategy, evaluation set, window and video level with intervals) and the
    tables: predictions.csv (every window with its 14 class probabilities p_<class>), video_predictions.csv
    and per_class.csv."""
    windows = manifest.role("test").reset_index(drop=True)
    labels = windows["label"].to_numpy(np.int64) if labels is None else labels
    predictions = predict_windows(model, paths, windows, labels, window_cfg, image_size, train, device, seed)
    scores = score_predictions(predictions, class_names, cfg)
    metrics = {"strategy": manifest.strategy, "eval_set": describe_eval_set(manifest.test_set),
               "window": scores["window"], "video": scores["video"]}
    names = np.array(class_names)
    probabilities = predictions[[f"p{i}" for i in range(len(names))]]
    table = predictions[["window_id", "video_id", "label", "predicted"]].assign(
        actual=names[predictions["label"]], predicted_class=names[predictions["predicted"]],
        confidence=probabilities.max(axis=1).round(6),
        # all 14 class probabilities, named by class: ROC curves, calibration, other decision rules
        **{f"p_{name}": probabilities[f"p{i}"].round(6) for i, name in enumerate(names)})
    video = scores["video_predictions"]
    tables = {
        "predictions.csv": table,
        "video_predictions.csv": video.assign(actual=names[video["label"]], predicted_class=names[video["predicted"]]),
        "per_class.csv": pd.concat([scores["per_class_window"].assign(level="window"),
                                    scores["per_class_video"].assign(level="video")]),
    }
    return metrics, tables
