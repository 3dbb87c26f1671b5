"""The write-up's losses and their weighted sum.

- focal loss (section 2.2), exactly the write-up's code: alpha_t * (1 - p_t)^gamma * CE, averaged,
  with alpha = 1 / sqrt(class frequency) computed from the training windows;
- MIL ranking (section 2.4): the write-up's code ranks batch means of each window's maximum instance
  score, ``relu(margin + mean(max normal) - mean(max abnormal))``; the scores come from the MIL head
  (the prose) or, as its code did, from the classifier (``mil_source: classifier``: 1 - P(normal)); ``video_bags`` instead ranks every
  anomalous bag against every normal bag, a bag being one video's windows in the batch, and adds
  Sultani et al.'s temporal smoothness and sparsity terms;
- VAE: reconstruction MSE + beta * KL;
- regression: smooth-L1 between predicted and actual future-frame features;
- total: 1.0 x regression + 0.5 x focal + 0.3 x MIL + 0.3 x VAE, each component returned for logging.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from harness.config import LossConfig


def focal_alpha(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """alpha_c = 1 / sqrt(frequency_c), frequency = share of training windows; 0 for absent classes."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    frequency = counts / counts.sum()
    alpha = np.divide(1.0, np.sqrt(frequency), out=np.zeros_like(frequency), where=frequency > 0)
    return torch.tensor(alpha, dtype=torch.float32)


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float, alpha: torch.Tensor | None) -> torch.Tensor:
    ce = F.cross_entropy(logits.float(), targets, reduction="none")
    p_t = torch.exp(-ce)
    loss = (1 - p_t) ** gamma * ce
    if alpha is not None:
        loss = alpha.to(logits.device)[targets] * loss
    return loss.mean()


def mil_ranking_batch_mean(scores: torch.Tensor, is_anomaly: torch.Tensor, margin: float) -> torch.Tensor:
    """The write-up's code: hinge on the batch means of each window's maximum instance score."""
    bag_max = scores.float().max(dim=1).values
    normal, abnormal = bag_max[~is_anomaly], bag_max[is_anomaly]
    if len(normal) == 0 or len(abnormal) == 0:
        return scores.sum() * 0.0  # no pair to rank in this batch; keeps the graph
    return torch.clamp(margin + normal.mean() - abnormal.mean(), min=0.0)


def mil_ranking_video_bags(
    scores: torch.Tensor, is_anomaly: torch.Tensor, video: torch.Tensor, margin: float, smoothness: float, sparsity: float
) -> torch.Tensor:
    """Sultani et al.: every anomalous video bag ranked above every normal bag, plus smoothness and sparsity."""
    scores = scores.float()
    videos, inverse = torch.unique(video, return_inverse=True)
    bag_max = torch.full((len(videos),), -1.0, device=scores.device).scatter_reduce(
        0, inverse, scores.max(dim=1).values, reduce="amax")
    bag_anomalous = torch.zeros(len(videos), dtype=torch.bool, device=scores.device).scatter_reduce(
        0, inverse, is_anomaly, reduce="amax")
    normal, abnormal = bag_max[~bag_anomalous], bag_max[bag_anomalous]
    if len(normal) == 0 or len(abnormal) == 0:
        return scores.sum() * 0.0
    ranking = torch.clamp(margin - abnormal[:, None] + normal[None, :], min=0.0).mean()
    anomalous_scores = scores[is_anomaly]
    smooth = ((anomalous_scores[:, 1:] - anomalous_scores[:, :-1]) ** 2).sum(dim=1).mean()
    sparse = anomalous_scores.sum(dim=1).mean()
    return ranking + smoothness * smooth + sparsity * sparse


def anomaly_from_classifier(logits: torch.Tensor, normal_label: int) -> torch.Tensor:
    """The write-up's code has no MIL head: a window's anomaly score is 1 - P(normal) from the classifier, one
    instance per bag, shaped (B, 1) like the head's per-step scores."""
    return (1.0 - torch.softmax(logits.float(), dim=1)[:, normal_label]).unsqueeze(1)


def vae_loss(recon: torch.Tensor, target: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float) -> torch.Tensor:
    reconstruction = F.mse_loss(recon.float(), target.float())
    kl = -0.5 * torch.mean(torch.sum(1 + logvar.float() - mu.float() ** 2 - logvar.float().exp(), dim=1))
    return reconstruction + beta * kl


class MultiTaskLoss:
    """The weighted sum of the four losses; ``__call__`` returns (total, components for logging)."""

    def __init__(self, cfg: LossConfig, alpha: torch.Tensor | None, normal_label: int):
        self.cfg, self.alpha, self.normal_label = cfg, alpha, normal_label

    def __call__(self, out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg, w = self.cfg, self.cfg.weights
        labels = batch["label"]
        is_anomaly = labels != self.normal_label
        parts = {
            "regression": F.smooth_l1_loss(out["regression"].float(), out["regression_target"].float()),
            "classification": focal_loss(out["logits"], labels, cfg.focal_gamma, self.alpha),
            "vae": vae_loss(out["vae_recon"], out["embedding"], out["vae_mu"], out["vae_logvar"], cfg.vae_beta),
        }
        scores = out["mil_scores"] if cfg.mil_source == "mil_head" else anomaly_from_classifier(
            out["logits"], self.normal_label)
        if cfg.mil_mode == "batch_mean":
            parts["mil"] = mil_ranking_batch_mean(scores, is_anomaly, cfg.mil_margin)
        else:
            parts["mil"] = mil_ranking_video_bags(scores, is_anomaly, batch["video"], cfg.mil_margin,
                                                  cfg.mil_smoothness, cfg.mil_sparsity)
        total = (w.regression * parts["regression"] + w.classification * parts["classification"]
                 + w.mil * parts["mil"] + w.vae * parts["vae"])
        return total, parts


class CrossEntropyLoss:
    """The baseline's single task."""

    def __call__(self, out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss = F.cross_entropy(out["logits"].float(), batch["label"])
        return loss, {"classification": loss}
