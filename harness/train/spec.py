"""What one training run is made of (``RunSpec``): built by harness.train.run_setup, trained by harness.train.loop,
checked against a checkpoint by harness.train.checkpoints. Its own module, so that the loop and the checkpoints
both take it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from harness.config import TrainConfig
from harness.runtime.distributed import SINGLE, Ranks


@dataclass
class RunSpec:
    """Everything one training run needs, validated by the stage that builds it."""

    model_name: str
    model: nn.Module
    loss_fn: Any
    train: TrainConfig
    seed: int
    deterministic: bool
    device: torch.device
    paths: np.ndarray  # index paths, by index row
    train_windows: pd.DataFrame
    val_windows: pd.DataFrame
    train_labels: np.ndarray  # the labels trained on (shuffled for the control)
    val_labels: np.ndarray
    n_classes: int
    window_cfg: Any
    image_size: int
    out_dir: Path
    run_fingerprint: str  # settings and data (harness.train.checkpoints.fingerprint)
    code_hash: str  # the code the run's entry point runs (harness.sources.code_hash)
    ranks: Ranks = SINGLE
