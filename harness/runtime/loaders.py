"""The DataLoaders training and scoring use (workers, pinned memory, prefetch, persistent workers from
``train``); the benchmark times the same loader."""

from __future__ import annotations

import multiprocessing
import sys
from typing import Any

import torch
from torch.utils.data import DataLoader

from harness.config import TrainConfig
from harness.data.dataset import SeededSampler


def _worker_context():
    """DataLoader workers' start method: the platform's standard one. A joblib (loky) worker process, where
    sweep jobs run under hydra/launcher=joblib, makes its own context the default, and DataLoader cannot
    start workers with it ('Process' object has no attribute 'env')."""
    if multiprocessing.get_start_method(allow_none=True) in (None, "fork", "spawn", "forkserver"):
        return None
    return multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")


def make_loader(dataset, cfg: TrainConfig, device: torch.device, batch_size: int, sampler=None) -> DataLoader:
    """The DataLoader training and scoring use: workers, pinned memory, prefetch and persistence from ``cfg``."""
    kwargs: dict[str, Any] = {
        "batch_size": batch_size,
        "sampler": sampler,
        "shuffle": False,
        "num_workers": cfg.num_workers,
        "pin_memory": cfg.pin_memory and device.type == "cuda",
        # the loader's own generator: creating an iterator must not consume the global RNG
        "generator": torch.Generator().manual_seed(0),
    }
    if cfg.num_workers > 0:
        kwargs.update(prefetch_factor=cfg.prefetch_factor, persistent_workers=cfg.persistent_workers,
                      multiprocessing_context=_worker_context())
    return DataLoader(dataset, **kwargs)


def eval_loader(dataset, cfg: TrainConfig, device: torch.device, seed: int) -> DataLoader:
    """Every window of ``dataset`` once, in order; with ``validation_augment`` each window gets the same
    augmentation draw every time it is scored (seeded by the run seed), so validation stays deterministic."""
    sampler = SeededSampler(None, len(dataset), seed, shuffle=False, size=len(dataset)) if cfg.validation_augment else None
    return make_loader(dataset, cfg, device, cfg.eval_batch_size, sampler)
