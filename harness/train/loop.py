"""The training loop (``train_model``), with every technique the write-up names.

Its parts live in rooms of their own: the optimisation step (harness.train.optimisation), precision
(harness.runtime.precision), loaders (harness.runtime.loaders), scoring (harness.scoring.inference), checkpoints and
fingerprints (harness.train.checkpoints).

AdamW; OneCycleLR stepped once per optimizer step; gradient accumulation; gradient clipping at the
configured norm; mixed precision (fp16 autocast + GradScaler on CUDA, bf16 autocast on CPU, or fp32);
a WeightedRandomSampler-equivalent draw with 1/sqrt(class count) weights (``train.sampler``); progressive unfreezing of the
backbone (only a pretrained one, in eval mode while frozen); early stopping and the best checkpoint on validation
macro-F1 or weighted F1 (``train.monitor``); checkpoints (best, last, every N epochs) loaded with
``weights_only=True``; resume after an interruption; dvclive metrics per epoch; tqdm progress.

Data parallel (``train.nproc_per_node`` > 1, see harness.runtime.distributed): ``batch_size`` is per process, so
the global batch is batch_size x accumulation_steps x world size and an epoch has that many fewer
optimizer steps. Every rank draws the same epoch from the sampler and takes every world_size-th window,
so global batch k holds the same windows (and augmentation seeds) as batch k of one process with the
whole global batch. Gradients are averaged by DDP (synchronised once per accumulation group), training
statistics are summed across ranks, validation is sharded and gathered, rank 0 alone decides early
stopping (broadcast to all) and writes checkpoints and dvclive files; each rank's RNG state is kept in
the checkpoint for resume.

Determinism: with ``run.deterministic`` the run is a pure function of its config. Epoch k's windows and
augmentation come from a generator seeded by (seed, k); the checkpoint carries the torch RNG state;
so a run killed mid-epoch and resumed from its last checkpoint ends exactly where an uninterrupted
run does.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from harness.config import TrainConfig
from harness.data.dataset import SAMPLER_POWER, ClipDataset, SeededSampler, inverse_frequency_weights
from harness.runtime.distributed import Ranks, barrier, broadcast, gather, sync_buffers
from harness.runtime.loaders import eval_loader, make_loader
from harness.runtime.precision import resolve_precision
from harness.scoring.inference import classification_scores, predict_gathered, shard
from harness.train.checkpoints import load_checkpoint, save_checkpoint, stale_checkpoint
from harness.train.optimisation import (
    StepRunner,
    batches_per_epoch,
    frozen_epochs,
    make_optimizer,
    make_scheduler,
    set_backbone_trainable,
)
from harness.train.spec import RunSpec

log = logging.getLogger("harness")


# --------------------------------------------------------------------------- a whole run
def _wrap(model: nn.Module, ranks: Ranks, device: torch.device) -> nn.Module:
    """``model`` under DDP when there are several ranks. DDP registers the parameters that need gradients
    when it is built, so it is built again whenever progressive unfreezing changes them."""
    if not ranks.enabled:
        return model
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def _live(out_dir: Path, history: list[dict[str, float]]):
    """A fresh dvclive folder holding ``history``: on resume the checkpoint's history is the truth."""
    from dvclive import Live

    live_dir = out_dir / "live"
    shutil.rmtree(live_dir, ignore_errors=True)
    live = Live(str(live_dir), dvcyaml=False, save_dvc_exp=False, report=None)
    for record in history:
        _log_epoch(live, record)
    return live


_LOGGED = ("train/", "val/", "lr", "grad_norm", "backbone_trainable")


def _log_epoch(live, record: dict[str, float]) -> None:
    for key, value in record.items():
        if key.startswith(_LOGGED) and isinstance(value, (int, float)) and math.isfinite(value):
            live.log_metric(key, value)
    live.next_step()


@dataclass
class TrainState:
    """What the loop carries from epoch to epoch; saved in every checkpoint (under these keys) and resumed."""

    epoch: int = 0
    best_score: float = -1.0
    best_epoch: int = 0
    stale: int = 0  # epochs since the monitored score last improved
    history: list[dict[str, float]] = field(default_factory=list)

    def patience_spent(self, cfg: TrainConfig) -> bool:
        return self.stale >= cfg.early_stopping_patience


@dataclass
class Trainer:
    """The objects one run trains with, built once from its RunSpec."""

    spec: RunSpec
    runner: StepRunner
    precision: Any
    sampler: SeededSampler
    train_loader: Any
    val_loader: Any
    n_batches: int
    steps_per_epoch: int
    input_size: int
    frozen_for: int
    ckpt_dir: Path

    @property
    def main(self) -> bool:
        return self.spec.ranks.is_main


def build(spec: RunSpec) -> Trainer:
    """Model on its device, datasets, sampler, loaders, optimizer, schedule and step runner."""
    cfg, device, model, ranks = spec.train, spec.device, spec.model, spec.ranks
    ckpt_dir = spec.out_dir / "checkpoints"
    if ranks.is_main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    precision = resolve_precision(cfg.precision, device)
    n_batches = batches_per_epoch(cfg, len(spec.train_windows), ranks.world_size)
    steps_per_epoch = n_batches // cfg.accumulation_steps
    input_size = cfg.input_size or spec.image_size

    common = {"input_size": input_size, "cache_frames": cfg.cache_frames, "augment_per_frame": cfg.augment_per_frame}
    train_set = ClipDataset(spec.paths, spec.train_windows, spec.window_cfg, spec.image_size, labels=spec.train_labels,
                            augment=cfg.augment, with_future=True, **common)
    val_set = ClipDataset(spec.paths, spec.val_windows, spec.window_cfg, spec.image_size, labels=spec.val_labels,
                          augment=cfg.augment if cfg.validation_augment else "none", with_future=False, **common)
    weights = (inverse_frequency_weights(spec.train_labels, spec.n_classes, SAMPLER_POWER[cfg.sampler])
               if cfg.sampler != "uniform" else None)
    sampler = SeededSampler(weights, n_batches * cfg.batch_size * ranks.world_size, spec.seed, rank=ranks.rank,
                            world_size=ranks.world_size, size=len(train_set))
    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, cfg, steps_per_epoch)
    return Trainer(
        spec=spec,
        runner=StepRunner(model, spec.loss_fn, optimizer, scheduler, precision, cfg.accumulation_steps, cfg.grad_clip,
                          device, ranks),
        precision=precision, sampler=sampler,
        train_loader=make_loader(train_set, cfg, device, cfg.batch_size, sampler),
        val_loader=eval_loader(shard(val_set, ranks), cfg, device, spec.seed),  # built once: workers persist
        n_batches=n_batches, steps_per_epoch=steps_per_epoch, input_size=input_size,
        frozen_for=frozen_epochs(model, cfg), ckpt_dir=ckpt_dir,
    )


def resume(t: Trainer) -> tuple[TrainState, int | None]:
    """The state to start from: last.pt's when it was written by this run's code, settings and data (the
    model, optimizer, schedule, scaler and RNG states are restored too); a fresh one otherwise, after
    deleting a stale checkpoint folder. Also returns the epoch resumed after (None when starting fresh)."""
    spec, ranks, runner = t.spec, t.spec.ranks, t.runner
    last = t.ckpt_dir / "last.pt"
    # on the CPU: RNG states must stay CPU byte tensors; load_state_dict moves the rest to the model's device
    checkpoint = load_checkpoint(last, map_location="cpu") if last.exists() else None
    barrier(ranks)  # every rank has read last.pt before rank 0 may delete it
    if checkpoint is None:
        return TrainState(), None
    stale = stale_checkpoint(checkpoint, spec)
    if stale:
        log.info("not resuming %s: %s; training from scratch", last, stale)
        if ranks.is_main:
            shutil.rmtree(t.ckpt_dir)
            t.ckpt_dir.mkdir(parents=True)
        return TrainState(), None
    spec.model.load_state_dict(checkpoint["model"])
    runner.optimizer.load_state_dict(checkpoint["optimizer"])
    runner.scheduler.load_state_dict(checkpoint["scheduler"])
    runner.scaler.load_state_dict(checkpoint["scaler"])
    torch.set_rng_state(checkpoint["rng_cpu"][ranks.rank])
    if spec.device.type == "cuda" and checkpoint.get("rng_cuda") is not None:
        torch.cuda.set_rng_state(checkpoint["rng_cuda"][ranks.rank], spec.device)
    state = TrainState(**{f.name: checkpoint[f.name] for f in fields(TrainState)})
    log.info("resuming from %s after epoch %d", last, state.epoch)
    return state, state.epoch


def run_epoch(t: Trainer, epoch: int) -> dict[str, Any]:
    """One epoch of training, then validation on every rank; the epoch's raw results and timings."""
    spec, cfg = t.spec, t.spec.train
    t.sampler.set_epoch(epoch)
    t0 = time.perf_counter()
    with tqdm(total=t.n_batches, desc=f"{spec.out_dir.name} epoch {epoch}/{cfg.epochs}", unit="batch",
              leave=False, disable=None if t.main else True) as bar:  # None: off when not a terminal
        train_stats = t.runner.run(t.train_loader, bar)
    t1 = time.perf_counter()
    sync_buffers(spec.ranks, spec.model)  # BatchNorm statistics: every rank scores rank 0's model, the one saved
    val = predict_gathered(spec.model, t.val_loader, t.precision, spec.device, spec.ranks)
    t2 = time.perf_counter()
    return {"train_stats": train_stats, "val": val, "seconds/train": t1 - t0, "seconds/val": t2 - t1}


def end_of_epoch(t: Trainer, state: TrainState, epoch: int, result: dict[str, Any], rng: dict[str, Any]) -> dict[str, float]:
    """Rank 0's bookkeeping after an epoch: score validation, update ``state`` (best score, patience), write the
    best / periodic / last checkpoints. Returns the epoch's record (also appended to the state's history)."""
    spec, cfg, runner = t.spec, t.spec.train, t.runner
    stats = result["train_stats"]
    val_scores = classification_scores(result["val"]["labels"], result["val"]["probs"], spec.n_classes)
    record = {
        "epoch": epoch,
        **{f"train/{k}": v for k, v in stats.items() if k != "optimizer_steps"},
        "val/accuracy": val_scores["accuracy"],
        "val/macro_f1": val_scores["macro_f1"],
        "val/weighted_f1": val_scores["weighted_f1"],
        "lr": runner.scheduler.get_last_lr()[0],
        "grad_norm": stats["grad_norm"],
        "backbone_trainable": float(epoch > t.frozen_for),
        "seconds/train": result["seconds/train"],
        "seconds/val": result["seconds/val"],
    }
    state.history.append(record)
    score = val_scores[cfg.monitor]
    improved = score > state.best_score
    if improved:
        state.best_score, state.best_epoch, state.stale = score, epoch, 0
    else:
        state.stale += 1
    state.epoch = epoch
    written_by = {"fingerprint": spec.run_fingerprint, "code_hash": spec.code_hash}
    checkpoint = {
        "model": spec.model.state_dict(),
        "optimizer": runner.optimizer.state_dict(),
        "scheduler": runner.scheduler.state_dict(),
        "scaler": runner.scaler.state_dict(),
        **rng,
        **written_by,
        "world_size": spec.ranks.world_size,
        **asdict(state),
    }
    if improved:
        save_checkpoint(t.ckpt_dir / "best.pt", {"model": spec.model.state_dict(), "epoch": epoch,
                                                 f"val_{cfg.monitor}": score, **written_by})
    if epoch % cfg.checkpoint_every == 0:
        save_checkpoint(t.ckpt_dir / f"epoch_{epoch:03d}.pt", checkpoint)
    save_checkpoint(t.ckpt_dir / "last.pt", checkpoint)
    log.info("epoch %d: loss %.4f, train acc %.3f, val acc %.3f, val macro-F1 %.3f%s (%.1f s)",
             epoch, stats["loss/total"], stats["accuracy"], val_scores["accuracy"], val_scores["macro_f1"],
             " *" if improved else "", result["seconds/train"] + result["seconds/val"])
    return record


def train_model(spec: RunSpec) -> dict[str, Any]:
    """Train ``spec.model``; returns the run's summary. Checkpoints and dvclive files go to spec.out_dir
    (written by rank 0 alone when data parallel)."""
    t = build(spec)
    cfg, ranks, model = spec.train, spec.ranks, spec.model
    state, resumed_from = resume(t)
    live = _live(spec.out_dir, state.history) if t.main else None
    started = time.perf_counter()
    wrapped_for = None  # the trainability DDP was last built for
    while state.epoch < cfg.epochs and not state.patience_spent(cfg):
        epoch = state.epoch + 1
        trainable = epoch > t.frozen_for
        set_backbone_trainable(model, trainable)
        if wrapped_for != trainable:
            t.runner.model, wrapped_for = _wrap(model, ranks, spec.device), trainable
        result = run_epoch(t, epoch)
        rng = {"rng_cpu": gather(ranks, torch.get_rng_state()),
               "rng_cuda": gather(ranks, torch.cuda.get_rng_state(spec.device)) if spec.device.type == "cuda" else None}
        if t.main:  # rank 0 decides; the others take its state
            _log_epoch(live, end_of_epoch(t, state, epoch, result, rng))
        state = broadcast(ranks, state)
    if live is not None:
        live.end()
    barrier(ranks)
    return summarise_run(t, state, resumed_from, time.perf_counter() - started)


def summarise_run(t: Trainer, state: TrainState, resumed_from: int | None, seconds: float) -> dict[str, Any]:
    """The run's summary.json content (without the stage's record of its inputs)."""
    spec, cfg, ranks = t.spec, t.spec.train, t.spec.ranks
    history = state.history
    epoch_seconds = [r["seconds/train"] + r["seconds/val"] for r in history]
    return {
        "model": spec.model_name,
        "epochs_run": state.epoch,
        "epochs_configured": cfg.epochs,
        "stopped_by": "early_stopping" if state.patience_spent(cfg) else "epochs",
        "best_epoch": state.best_epoch,
        "monitor": f"val/{cfg.monitor}",
        "best_val_score": state.best_score,
        "backbone_frozen_epochs": t.frozen_for,
        "resumed_after_epoch": resumed_from,
        "run_fingerprint": spec.run_fingerprint,
        "code_hash": spec.code_hash,
        "precision": t.precision.name,
        "device": str(spec.device),
        "world_size": ranks.world_size,
        "dist_backend": ranks.backend,
        "global_batch_size": cfg.batch_size * cfg.accumulation_steps * ranks.world_size,
        "batches_per_epoch": t.n_batches,
        "optimizer_steps_per_epoch": t.steps_per_epoch,
        "samples_per_epoch": t.n_batches * cfg.batch_size * ranks.world_size,
        "input_size": t.input_size,
        "train_windows": len(spec.train_windows),
        "val_windows": len(spec.val_windows),
        "seconds_this_session": round(seconds, 2),
        "seconds_training_total": round(sum(epoch_seconds), 2),
        "seconds_per_epoch": round(float(np.mean(epoch_seconds)), 3) if history else None,
        "history": history,
    }
