"""The benchmark's bench: the run's params, device and real windows, and the pipeline's own training step
and loader built from them (harness.train.optimisation.StepRunner, harness.runtime.loaders.make_loader), so that the
speed gate times the code training runs."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from harness.bench.timing import environment
from harness.config import (
    BenchConfig,
    DataConfig,
    LossConfig,
    RunConfig,
    TrainConfig,
    WindowConfig,
    load_section,
    parse_section,
)
from harness.data.dataset import ClipDataset
from harness.models import build_model, count_parameters
from harness.runtime.loaders import make_loader
from harness.runtime.precision import Precision, move, resolve_precision
from harness.runtime.runinfo import resolve_device, set_threads
from harness.train.losses import CrossEntropyLoss, MultiTaskLoss
from harness.train.optimisation import StepRunner, make_optimizer, make_scheduler

# the speed gate's power calibration (harness.bench.calibrate) sets it on one side: each training step then
# sleeps that fraction of its own duration (never set outside a calibration)
PLANTED_SLOWDOWN = "HARNESS_BENCH_PLANTED_SLOWDOWN"


@dataclass
class Workbench:
    """Everything a workload needs: params, the device, the clip shape, real windows for the loader."""

    params: dict[str, Any]
    cfg: BenchConfig
    device: torch.device
    paths: np.ndarray
    windows: pd.DataFrame
    n_classes: int
    normal_label: int
    window_cfg: WindowConfig
    image_size: int
    input_size: int

    @property
    def clip_frames(self) -> int:
        return self.window_cfg.sequence_length

    @property
    def train_cfg(self) -> TrainConfig:
        """The run's training settings at the benchmark's batch size (the step and loader under test)."""
        return replace(parse_section(TrainConfig, self.params["train"], "train"), batch_size=self.cfg.batch_size)

    def context(self, model_name: str, model: torch.nn.Module | None = None) -> dict[str, Any]:
        return {"model": model_name,
                "backbone": self.params["model"][model_name].get("backbone"),
                "param_count": count_parameters(model) if model is not None else None,
                "batch_size": self.cfg.batch_size,
                "clip_shape": f"{self.clip_frames}x3x{self.input_size}x{self.input_size}",
                "channels_last": False,
                "warmup_steps": self.cfg.warmup_steps, "timed_steps": self.cfg.timed_steps,
                "repeats": self.cfg.repeats, **environment(self.device)}

    def model(self, name: str) -> torch.nn.Module:
        torch.manual_seed(self.cfg.seed)
        return build_model(name, self.params["model"][name], self.n_classes).to(self.device)

    def loss(self, name: str):
        if name == "multitask":
            return MultiTaskLoss(parse_section(LossConfig, self.params["loss"], "loss"), None, self.normal_label)
        return CrossEntropyLoss()

    def random_batch(self) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(self.cfg.seed)
        b, t, s = self.cfg.batch_size, self.clip_frames, self.input_size
        return move({
            "clip": torch.randint(0, 256, (b, t, 3, s, s), dtype=torch.uint8, generator=g),
            "future": torch.randint(0, 256, (b, 3, s, s), dtype=torch.uint8, generator=g),
            "label": torch.randint(0, self.n_classes, (b,), generator=g),
            "video": torch.arange(b),
        }, self.device)

    def loader(self, workers: int, tuned: bool, with_future: bool = True) -> DataLoader:
        """The training loader (harness.runtime.loaders.make_loader) over real windows: ``workers`` processes, and
        when ``tuned`` the write-up's pinned memory, prefetch and persistent workers."""
        dataset = ClipDataset(self.paths, self.windows, self.window_cfg, self.image_size,
                              labels=self.windows["label"].to_numpy(np.int64), augment=self.cfg.augment,
                              with_future=with_future, input_size=self.input_size, cache_frames=False)
        cfg = replace(self.train_cfg, num_workers=workers, pin_memory=tuned, persistent_workers=tuned and workers > 0,
                      prefetch_factor=self.cfg.loader_prefetch_factor)
        return make_loader(dataset, cfg, self.device, self.cfg.batch_size)


def endless(loader: DataLoader) -> Iterator[dict[str, torch.Tensor]]:
    while True:
        yield from loader


def train_step(bench: Workbench, model: torch.nn.Module, loss_fn, precision: Precision,
               steps: int | None = None) -> Callable[[Iterator[dict]], int]:
    """The pipeline's own optimisation step (harness.train.optimisation.StepRunner) with the run's optimizer, OneCycle
    schedule, gradient accumulation and clipping: each call takes ``accumulation_steps`` batches from
    ``batches`` and makes one optimizer step, exactly as training does; it returns the clips processed."""
    cfg = bench.train_cfg
    optimizer = make_optimizer(model, cfg)
    # a schedule long enough for every step the benchmark takes (OneCycleLR refuses to step past its end):
    # ``steps`` when the caller cannot know it in advance (a measured warm-up)
    steps = steps or bench.cfg.warmup_steps + bench.cfg.timed_steps * bench.cfg.repeats + 2
    scheduler = make_scheduler(optimizer, cfg, steps_per_epoch=-(-steps // cfg.epochs))
    runner = StepRunner(model, loss_fn, optimizer, scheduler, precision, cfg.accumulation_steps, cfg.grad_clip,
                        bench.device)

    planted = float(os.environ.get(PLANTED_SLOWDOWN, "0") or 0)

    def step(batches: Iterator[dict]) -> int:
        group = [next(batches) for _ in range(cfg.accumulation_steps)]
        start = time.perf_counter()
        runner.run(group)
        if planted:  # the speed gate's calibration: this step made `planted` (0.2 = 20%) slower, on purpose
            time.sleep(planted * (time.perf_counter() - start))
        return sum(len(b["label"]) for b in group)

    return step


def amp_name(device: torch.device) -> str:
    return resolve_precision("amp", device).name


def make_workbench(params: dict[str, Any], paths: np.ndarray, windows: pd.DataFrame,
                   cfg: BenchConfig | None = None) -> Workbench:
    """A Workbench from params.yaml, the frame index's paths and a manifest's windows."""

    run = load_section(params, "run", RunConfig)
    data = load_section(params, "data", DataConfig)
    train = load_section(params, "train", TrainConfig)
    set_threads(run)
    return Workbench(params=params, cfg=cfg or load_section(params, "bench", BenchConfig), device=resolve_device(run),
                     paths=np.asarray(paths), windows=windows.reset_index(drop=True), n_classes=len(data.classes),
                     normal_label=data.classes.index(data.normal_class),
                     window_cfg=load_section(params, "windows", WindowConfig), image_size=data.image_size,
                     input_size=train.input_size or data.image_size)
