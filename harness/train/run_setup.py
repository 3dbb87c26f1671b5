"""Assembling one training run (``build_run``) from params.yaml, a split manifest and the frame index: the
model, loss, labels (shuffled for the control), device, seeds, and the fingerprint and code hash that decide
whether a checkpoint may be resumed."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.config import DataConfig, LossConfig, RunConfig, TrainConfig, WindowConfig, load_section
from harness.leakage.splits import Manifest
from harness.models import build_model, count_parameters
from harness.runtime import distributed
from harness.runtime.runinfo import resolve_device, seed_everything, set_threads
from harness.sources import code_hash
from harness.train.checkpoints import fingerprint
from harness.train.controls import apply_labels, shuffled_video_labels
from harness.train.losses import CrossEntropyLoss, MultiTaskLoss, focal_alpha
from harness.train.spec import RunSpec

TRAINING_CODE_HASH = code_hash(__file__)  # this module and every project file it imports


@dataclasses.dataclass
class RunSetup:
    spec: RunSpec
    record: dict[str, Any]  # what the run's summary says about its inputs
    video_labels: pd.DataFrame | None  # the control's labels, when shuffled


def build_run(
    params: dict[str, Any],
    model_name: str,
    manifest: Manifest,
    manifest_hash: str,
    index: pd.DataFrame,
    out_dir: Path,
    shuffle_labels: bool = False,
) -> RunSetup:
    """One run of ``model_name`` on ``manifest``. Its fingerprint covers the settings and the data, and its
    code hash the code that builds and trains it (this module and everything it imports): a checkpoint of
    other settings, data or code is never resumed. Evaluation code is not part of it: a change there
    re-scores a finished run without retraining it."""
    run = load_section(params, "run", RunConfig)
    data = load_section(params, "data", DataConfig)
    windows_cfg = load_section(params, "windows", WindowConfig)
    train = load_section(params, "train", TrainConfig)
    loss_cfg = load_section(params, "loss", LossConfig)
    model_params = params["model"][model_name]

    ranks, device = distributed.init(train.dist_backend, resolve_device(run))
    threads = set_threads(run, ranks.local_world_size)
    flags = seed_everything(run.seed, run.deterministic)
    n_classes = len(data.classes)
    model = build_model(model_name, model_params, n_classes)  # after seeding: same seed, same weights
    distributed.seed_rank(ranks, run.seed)  # then one random stream per rank (DDP copies rank 0's weights)

    train_windows = manifest.role("train").reset_index(drop=True)
    val_windows = manifest.role("val").reset_index(drop=True)
    video_labels = None
    if shuffle_labels:
        video_labels = shuffled_video_labels(manifest.windows, run.seed)
        train_labels, val_labels = apply_labels(train_windows, video_labels), apply_labels(val_windows, video_labels)
    else:
        train_labels = train_windows["label"].to_numpy(np.int64)
        val_labels = val_windows["label"].to_numpy(np.int64)

    if model_name == "multitask":
        alpha = focal_alpha(train_labels, n_classes) if loss_cfg.focal_alpha == "sqrt_inverse_frequency" else None
        loss_fn = MultiTaskLoss(loss_cfg, alpha, data.classes.index(data.normal_class))
    else:
        loss_fn = CrossEntropyLoss()

    spec = RunSpec(
        model_name=model_name, model=model, loss_fn=loss_fn, train=train, seed=run.seed,
        deterministic=run.deterministic, device=device, paths=index["path"].to_numpy(),
        train_windows=train_windows, val_windows=val_windows, train_labels=train_labels, val_labels=val_labels,
        n_classes=n_classes, window_cfg=windows_cfg, image_size=data.image_size, out_dir=out_dir,
        run_fingerprint=fingerprint(model_name, model_params, train.result_settings(), loss_cfg, windows_cfg, run.seed,
                                    run.deterministic, manifest_hash, shuffle_labels, data.image_size,
                                    ranks.world_size),
        code_hash=TRAINING_CODE_HASH,
        ranks=ranks,
    )
    record = {
        "model": model_name,
        "strategy": manifest.strategy,
        "labels": "shuffled across videos" if shuffle_labels else "true",
        "data_source": data.source,
        "profile": run.profile,
        "manifest_hash": manifest_hash,
        "code_hash": TRAINING_CODE_HASH,
        "parameters": count_parameters(model),
        "backbone": model_params.get("backbone"),
        "torch_threads": threads,
        "determinism": flags,
        "deterministic_mode": run.deterministic,
    }
    return RunSetup(spec, record, video_labels)
