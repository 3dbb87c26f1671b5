"""The training loop, with every technique the write-up names.

AdamW; OneCycleLR stepped once per optimizer step; gradient accumulation; gradient clipping at the
configured norm; mixed precision (fp16 autocast + GradScaler on CUDA, bf16 autocast on CPU, or fp32);
a WeightedRandomSampler-equivalent draw with 1/sqrt(class count) weights (``train.sampler``); progressive unfreezing of the
backbone (only a pretrained one, in eval mode while frozen); early stopping and the best checkpoint on validation
macro-F1 or weighted F1 (``train.monitor``); checkpoints (best, last, every N epochs) loaded with
``weights_only=True``; resume after an interruption; dvclive metrics per epoch; tqdm progress.

Data parallel (``train.nproc_per_node`` > 1, see harness.distributed): ``batch_size`` is per process, so
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

import dataclasses
import hashlib
import json
import logging
import math
import multiprocessing
import shutil
import sys
import time
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, f1_score
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from harness.config import TrainConfig
from harness.data.dataset import SAMPLER_POWER, ClipDataset, SeededSampler, inverse_frequency_weights
from harness.distributed import SINGLE, Ranks, barrier, broadcast, gather, sum_across, sync_buffers
from harness.errors import ConfigError, HarnessError
from harness.io import atomic_path

log = logging.getLogger("harness")


# --------------------------------------------------------------------------- precision
@dataclass(frozen=True)
class Precision:
    """What ``train.precision`` means on a device."""

    name: str  # fp32 | fp16-amp | bf16-amp
    dtype: torch.dtype | None  # autocast dtype, None for fp32
    scaler: bool  # GradScaler (fp16 only)
    device_type: str

    def autocast(self):
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)


def resolve_precision(precision: str, device: torch.device) -> Precision:
    if precision == "fp32":
        return Precision("fp32", None, False, device.type)
    if device.type == "cuda":
        return Precision("fp16-amp", torch.float16, True, "cuda")
    return Precision("bf16-amp", torch.bfloat16, False, device.type)


# --------------------------------------------------------------------------- one epoch of steps
def move(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


class StepRunner:
    """Forward, loss, backward with accumulation, then unscale, clip, step, schedule.

    ``run`` must be given a whole number of accumulation groups; each optimizer step sees exactly
    ``accumulation_steps`` batches, and the loss of each is divided by that number, so two accumulated
    half-batches give the update of one whole batch (for per-sample losses and batch-independent layers).
    """

    def __init__(self, model: nn.Module, loss_fn, optimizer: torch.optim.Optimizer, scheduler, precision: Precision,
                 accumulation_steps: int, grad_clip: float, device: torch.device, ranks: Ranks = SINGLE):
        self.model, self.loss_fn, self.optimizer, self.scheduler = model, loss_fn, optimizer, scheduler
        self.precision, self.accumulation, self.grad_clip, self.device = precision, accumulation_steps, grad_clip, device
        self.ranks = ranks
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision.scaler)

    def _sync(self, last_of_group: bool):
        """DDP all-reduces gradients on the last batch of an accumulation group only."""
        if isinstance(self.model, DistributedDataParallel) and not last_of_group:
            return self.model.no_sync()
        return nullcontext()

    def run(self, batches: Iterable[dict[str, torch.Tensor]], progress: tqdm | None = None) -> dict[str, float]:
        self.model.train()
        backbone = getattr(self.model.module if isinstance(self.model, DistributedDataParallel) else self.model,
                           "backbone", None)
        if backbone is not None and not any(p.requires_grad for p in backbone.parameters()):
            backbone.eval()  # frozen: BatchNorm keeps the pretrained statistics
        sums: dict[str, float] = {}
        correct = seen = steps = n_batches = 0
        grad_norms = []
        self.optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(batches):
            batch = move(batch, self.device)
            with self._sync((i + 1) % self.accumulation == 0):
                with self.precision.autocast():
                    out = self.model(batch["clip"], batch.get("future"))
                    loss, parts = self.loss_fn(out, batch)
                self.scaler.scale(loss / self.accumulation).backward()
            for name, value in {"total": loss, **parts}.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach())
            correct += int((out["logits"].argmax(dim=1) == batch["label"]).sum())
            seen += len(batch["label"])
            if (i + 1) % self.accumulation == 0:
                self.scaler.unscale_(self.optimizer)
                norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
                grad_norms.append(float(norm))
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)
                self.scheduler.step()
                steps += 1
            n_batches += 1
            if progress is not None:
                progress.update(1)
                progress.set_postfix(loss=f"{loss.item():.3f}")
        totals = sum_across(self.ranks, {**{f"loss/{k}": v for k, v in sums.items()}, "correct": correct,
                                         "seen": seen, "batches": n_batches, "grad_norms": sum(grad_norms),
                                         "steps": steps})
        n_batches, seen = max(totals.pop("batches"), 1), totals.pop("seen")
        stats = {k: v / n_batches for k, v in totals.items() if k.startswith("loss/")}
        stats["accuracy"] = totals["correct"] / seen if seen else float("nan")
        # every rank clips the same all-reduced gradients, so the norm is the mean over ranks too
        stats["grad_norm"] = totals["grad_norms"] / totals["steps"] if totals["steps"] else float("nan")
        stats["optimizer_steps"] = steps
        return stats


@torch.no_grad()
def predict(model: nn.Module, loader: DataLoader, precision: Precision, device: torch.device,
            progress: str | None = None) -> dict[str, np.ndarray]:
    """Class probabilities for every window of ``loader``'s dataset, in dataset order."""
    model.eval()
    probs, labels, windows = [], [], []
    for batch in tqdm(loader, desc=progress, unit="batch", leave=False, disable=progress is None):
        clip = batch["clip"].to(device, non_blocking=True)
        with precision.autocast():
            logits = model(clip)["logits"]
        probs.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
        labels.append(batch["label"].numpy())
        windows.append(batch["window_id"].numpy())
    return {"probs": np.concatenate(probs), "labels": np.concatenate(labels), "window_id": np.concatenate(windows)}


def shard(dataset, ranks: Ranks):
    """This rank's share of ``dataset``: every world_size-th item (all of it in a single process)."""
    return Subset(dataset, range(ranks.rank, len(dataset), ranks.world_size)) if ranks.enabled else dataset


def predict_gathered(model: nn.Module, loader: DataLoader, precision: Precision, device: torch.device,
                     ranks: Ranks) -> dict[str, np.ndarray]:
    """``predict`` over this rank's loader (its shard); every rank's predictions, merged in window order."""
    if not ranks.enabled:
        return predict(model, loader, precision, device)
    parts = gather(ranks, predict(model, loader, precision, device) if len(loader.dataset) else None)
    parts = [p for p in parts if p is not None]
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(merged["window_id"], kind="stable")
    return {k: v[order] for k, v in merged.items()}


def classification_scores(labels: np.ndarray, probs: np.ndarray, n_classes: int) -> dict[str, float]:
    predictions = probs.argmax(axis=1)
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "macro_f1": float(f1_score(labels, predictions, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(labels, predictions, average="weighted", zero_division=0)),
    }


# --------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; a damaged file is one clear error."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise HarnessError(f"checkpoint {path} does not exist; run the train stage first") from None
    except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError, zipfile errors...
        raise HarnessError(
            f"checkpoint {path} is corrupt or truncated ({type(e).__name__}); delete it to train from scratch"
        ) from None


def fingerprint(*parts: Any) -> str:
    """A hash of everything that determines a run, to refuse resuming a checkpoint of another config."""
    text = json.dumps(parts, sort_keys=True, default=lambda o: dataclasses.asdict(o) if dataclasses.is_dataclass(o) else str(o))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stale_checkpoint(checkpoint: dict[str, Any], spec: RunSpec) -> str | None:
    """Why ``checkpoint`` must not be resumed by ``spec``'s run (None when it may): written by other code,
    or for other settings or data."""
    if checkpoint.get("code_hash") != spec.code_hash:
        return f"it was written by other code (code hash {checkpoint.get('code_hash')}, now {spec.code_hash})"
    if checkpoint.get("fingerprint") != spec.run_fingerprint:
        return "it belongs to other settings or data"
    return None


# --------------------------------------------------------------------------- a whole run
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
    run_fingerprint: str  # settings and data (harness.training.fingerprint)
    code_hash: str  # the code the run's entry point runs (harness.sources.code_hash)
    ranks: Ranks = SINGLE


def frozen_epochs(model: nn.Module, cfg: TrainConfig) -> int:
    """Epochs progressive unfreezing keeps the backbone frozen: ``unfreeze_after_epochs`` for a pretrained
    backbone, none for a randomly initialised one (there is nothing learnt to protect, and a frozen random
    backbone only slows training)."""
    if not getattr(model, "pretrained_backbone", False):
        if cfg.unfreeze_after_epochs and getattr(model, "backbone", None) is not None:
            log.info("train.unfreeze_after_epochs = %d ignored: the backbone is randomly initialised "
                     "(no model.*.pretrained_weights), so it trains from the first epoch", cfg.unfreeze_after_epochs)
        return 0
    return cfg.unfreeze_after_epochs


def set_backbone_trainable(model: nn.Module, trainable: bool) -> None:
    """Freeze or unfreeze the backbone (StepRunner keeps a frozen one in eval mode)."""
    backbone = getattr(model, "backbone", None)
    if backbone is not None:
        backbone.requires_grad_(trainable)


def batches_per_epoch(cfg: TrainConfig, n_train: int, world_size: int = 1) -> int:
    """Batches per epoch and process: whole accumulation groups of global batches out of ``samples_per_epoch``."""
    samples = cfg.samples_per_epoch or n_train
    global_step = cfg.batch_size * cfg.accumulation_steps * world_size
    groups = samples // global_step
    if groups == 0:
        raise ConfigError(
            f"params.yaml: train.samples_per_epoch = {samples} is less than one optimizer step "
            f"(batch_size x accumulation_steps x processes = {global_step})"
        )
    return groups * cfg.accumulation_steps


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over every parameter; frozen ones (progressive unfreezing) have no gradient and are skipped."""
    return torch.optim.AdamW(model.parameters(), lr=cfg.max_lr / cfg.div_factor, weight_decay=cfg.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int):
    """OneCycleLR as the write-up configures it, stepped once per optimizer step.

    Starts at max_lr / div_factor, peaks at max_lr after pct_start of the steps, anneals (cosine) to
    max_lr / div_factor / final_div_factor. Early stopping ends a run wherever the schedule is.
    """
    if cfg.schedule_unit == "batches":
        # the write-up's code: the cycle's length counted in batches, stepped once per optimizer step, so it
        # runs at 1/accumulation_steps speed (its peak at epoch 40 of 100 instead of 20)
        steps_per_epoch *= cfg.accumulation_steps
    pct_start = cfg.pct_start
    if abs(pct_start * cfg.epochs * steps_per_epoch - 1.0) < 1e-9:
        # torch divides by zero when the warm-up is exactly one step long; a hair more keeps the schedule
        pct_start *= 1 + 1e-6
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.max_lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch, pct_start=pct_start,
        anneal_strategy="cos", div_factor=cfg.div_factor, final_div_factor=cfg.final_div_factor)


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


def train_model(spec: RunSpec) -> dict[str, Any]:
    """Train ``spec.model``; returns the run's summary. Checkpoints and dvclive files go to spec.out_dir
    (written by rank 0 alone when data parallel)."""
    cfg, device, model, ranks = spec.train, spec.device, spec.model, spec.ranks
    main = ranks.is_main
    ckpt_dir = spec.out_dir / "checkpoints"
    if main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    precision = resolve_precision(cfg.precision, device)
    n_batches = batches_per_epoch(cfg, len(spec.train_windows), ranks.world_size)
    steps_per_epoch = n_batches // cfg.accumulation_steps
    input_size = cfg.input_size or spec.image_size

    train_set = ClipDataset(spec.paths, spec.train_windows, spec.window_cfg, spec.image_size, labels=spec.train_labels,
                            augment=cfg.augment, with_future=True, input_size=input_size,
                            cache_frames=cfg.cache_frames, augment_per_frame=cfg.augment_per_frame)
    val_set = ClipDataset(spec.paths, spec.val_windows, spec.window_cfg, spec.image_size, labels=spec.val_labels,
                          augment=cfg.augment if cfg.validation_augment else "none", with_future=False,
                          input_size=input_size, cache_frames=cfg.cache_frames, augment_per_frame=cfg.augment_per_frame)
    weights = (inverse_frequency_weights(spec.train_labels, spec.n_classes, SAMPLER_POWER[cfg.sampler])
               if cfg.sampler != "uniform" else None)
    sampler = SeededSampler(weights, n_batches * cfg.batch_size * ranks.world_size, spec.seed, rank=ranks.rank,
                            world_size=ranks.world_size, size=len(train_set))
    train_loader = make_loader(train_set, cfg, device, cfg.batch_size, sampler)
    val_loader = eval_loader(shard(val_set, ranks), cfg, device, spec.seed)  # built once: workers persist

    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, cfg, steps_per_epoch)
    runner = StepRunner(model, spec.loss_fn, optimizer, scheduler, precision, cfg.accumulation_steps, cfg.grad_clip,
                        device, ranks)

    state = {"epoch": 0, "best_score": -1.0, "best_epoch": 0, "stale": 0, "history": []}
    frozen_for = frozen_epochs(model, cfg)
    last = ckpt_dir / "last.pt"
    resumed_from = None
    # on the CPU: RNG states must stay CPU byte tensors; load_state_dict moves the rest to the model's device
    checkpoint = load_checkpoint(last, map_location="cpu") if last.exists() else None
    barrier(ranks)  # every rank has read last.pt before rank 0 may delete it
    stale = checkpoint is not None and stale_checkpoint(checkpoint, spec)
    if stale:
        log.info("not resuming %s: %s; training from scratch", last, stale)
        if main:
            shutil.rmtree(ckpt_dir)
            ckpt_dir.mkdir(parents=True)
    elif checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        runner.scaler.load_state_dict(checkpoint["scaler"])
        torch.set_rng_state(checkpoint["rng_cpu"][ranks.rank])
        if device.type == "cuda" and checkpoint.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(checkpoint["rng_cuda"][ranks.rank], device)
        state = {k: checkpoint[k] for k in state}
        resumed_from = state["epoch"]
        log.info("resuming from %s after epoch %d", last, state["epoch"])
    del checkpoint
    live = _live(spec.out_dir, state["history"]) if main else None

    stop_reason = "epochs"
    if state["stale"] >= cfg.early_stopping_patience:
        stop_reason = "early_stopping"
    started = time.perf_counter()
    epoch = state["epoch"]
    wrapped_for = None  # the trainability DDP was last built for
    while epoch < cfg.epochs and stop_reason == "epochs":
        epoch += 1
        trainable = epoch > frozen_for
        set_backbone_trainable(model, trainable)
        if wrapped_for != trainable:
            runner.model, wrapped_for = _wrap(model, ranks, device), trainable
        sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        with tqdm(total=n_batches, desc=f"{spec.out_dir.name} epoch {epoch}/{cfg.epochs}", unit="batch",
                  leave=False, disable=not main) as bar:
            train_stats = runner.run(train_loader, bar)
        t1 = time.perf_counter()
        sync_buffers(ranks, model)  # BatchNorm statistics: every rank scores rank 0's model, the one saved
        val = predict_gathered(model, val_loader, precision, device, ranks)
        t2 = time.perf_counter()
        rng_cpu = gather(ranks, torch.get_rng_state())
        rng_cuda = gather(ranks, torch.cuda.get_rng_state(device)) if device.type == "cuda" else None
        if main:  # rank 0 decides; the others take its state
            val_scores = classification_scores(val["labels"], val["probs"], spec.n_classes)
            record = {
                "epoch": epoch,
                **{f"train/{k}": v for k, v in train_stats.items() if k != "optimizer_steps"},
                "val/accuracy": val_scores["accuracy"],
                "val/macro_f1": val_scores["macro_f1"],
                "val/weighted_f1": val_scores["weighted_f1"],
                "lr": scheduler.get_last_lr()[0],
                "grad_norm": train_stats["grad_norm"],
                "backbone_trainable": float(trainable),
                "seconds/train": t1 - t0,
                "seconds/val": t2 - t1,
            }
            state["history"].append(record)
            score = val_scores[cfg.monitor]
            improved = score > state["best_score"]
            if improved:
                state["best_score"], state["best_epoch"], state["stale"] = score, epoch, 0
            else:
                state["stale"] += 1
            state["epoch"] = epoch
            checkpoint = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": runner.scaler.state_dict(),
                "rng_cpu": rng_cpu,
                "rng_cuda": rng_cuda,
                "fingerprint": spec.run_fingerprint,
                "code_hash": spec.code_hash,
                "world_size": ranks.world_size,
                **state,
            }
            if improved:
                save_checkpoint(ckpt_dir / "best.pt", {"model": model.state_dict(), "epoch": epoch,
                                                       f"val_{cfg.monitor}": score,
                                                       "fingerprint": spec.run_fingerprint,
                                                       "code_hash": spec.code_hash})
            if epoch % cfg.checkpoint_every == 0:
                save_checkpoint(ckpt_dir / f"epoch_{epoch:03d}.pt", checkpoint)
            save_checkpoint(last, checkpoint)
            _log_epoch(live, record)
            log.info("epoch %d: loss %.4f, train acc %.3f, val acc %.3f, val macro-F1 %.3f%s (%.1f s)",
                     epoch, train_stats["loss/total"], train_stats["accuracy"], val_scores["accuracy"],
                     val_scores["macro_f1"], " *" if improved else "", t2 - t0)
        state = broadcast(ranks, state)
        if state["stale"] >= cfg.early_stopping_patience:
            stop_reason = "early_stopping"
    if live is not None:
        live.end()
    barrier(ranks)

    history = state["history"]
    return {
        "model": spec.model_name,
        "epochs_run": state["epoch"],
        "epochs_configured": cfg.epochs,
        "stopped_by": stop_reason,
        "best_epoch": state["best_epoch"],
        "monitor": f"val/{cfg.monitor}",
        "best_val_score": state["best_score"],
        "backbone_frozen_epochs": frozen_for,
        "resumed_after_epoch": resumed_from,
        "run_fingerprint": spec.run_fingerprint,
        "code_hash": spec.code_hash,
        "precision": precision.name,
        "device": str(device),
        "world_size": ranks.world_size,
        "dist_backend": ranks.backend,
        "global_batch_size": cfg.batch_size * cfg.accumulation_steps * ranks.world_size,
        "batches_per_epoch": n_batches,
        "optimizer_steps_per_epoch": steps_per_epoch,
        "samples_per_epoch": n_batches * cfg.batch_size * ranks.world_size,
        "input_size": input_size,
        "train_windows": len(spec.train_windows),
        "val_windows": len(spec.val_windows),
        "seconds_this_session": round(time.perf_counter() - started, 2),
        "seconds_training_total": round(sum(r["seconds/train"] + r["seconds/val"] for r in history), 2),
        "seconds_per_epoch": round(float(np.mean([r["seconds/train"] + r["seconds/val"] for r in history])), 3) if history else None,
        "history": history,
    }
