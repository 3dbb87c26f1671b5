"""A trained model's class probabilities for every window of an evaluation set (scored by harness.metrics)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from harness.data.dataset import ClipDataset
from harness.training import TrainConfig, eval_loader, predict, resolve_precision


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
