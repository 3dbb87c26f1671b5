"""Scoring a model: class probabilities for every window (``predict``), sharded across data-parallel
ranks and gathered back in window order, and the scores training monitors."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from torch import nn
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from harness.runtime.distributed import Ranks, gather
from harness.runtime.precision import Precision


@torch.no_grad()
def predict(model: nn.Module, loader: DataLoader, precision: Precision, device: torch.device,
            progress: str | None = None) -> dict[str, np.ndarray]:
    """Class probabilities for every window of ``loader``'s dataset, in dataset order."""
    model.eval()
    probs, labels, windows = [], [], []
    for batch in tqdm(loader, desc=progress, unit="batch", leave=False,
                      disable=True if progress is None else None):  # None: off when not a terminal
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
