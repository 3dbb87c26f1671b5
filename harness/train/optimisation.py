"""The optimisation step the pipeline trains with: AdamW, OneCycleLR stepped once per optimizer step,
gradient accumulation, gradient clipping, mixed precision with GradScaler (``StepRunner``). The benchmark
times this same step (harness.bench.workbench)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import nullcontext

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from harness.config import TrainConfig
from harness.errors import ConfigError
from harness.runtime.distributed import SINGLE, Ranks, sum_across
from harness.runtime.precision import Precision, move

log = logging.getLogger("harness")


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


# --------------------------------------------------------------------------- progressive unfreezing
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
