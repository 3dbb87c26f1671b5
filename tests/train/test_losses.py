"""Losses against hand-computed values and against torch's own definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import compose, section

from harness.train.losses import (
    LossConfig,
    MultiTaskLoss,
    focal_alpha,
    focal_loss,
    mil_ranking_batch_mean,
    mil_ranking_video_bags,
    vae_loss,
)


def logits_for(probabilities: list[float], n_classes: int = 2) -> torch.Tensor:
    """Two-class logits whose softmax puts ``p`` on class 0."""
    return torch.tensor([[math.log(p), math.log(1 - p)] for p in probabilities], dtype=torch.float64)


def test_focal_equals_cross_entropy_at_gamma_zero():
    torch.manual_seed(0)
    logits, targets = torch.randn(32, 14), torch.randint(0, 14, (32,))
    assert torch.allclose(focal_loss(logits, targets, 0.0, None), F.cross_entropy(logits, targets))


def test_focal_matches_hand_computed_values():
    # p_t = 0.99: (1 - 0.99)^2 * -ln(0.99) = 1.005e-6 (the write-up prints 0.0001)
    # p_t = 0.60: (1 - 0.60)^2 * -ln(0.60) = 0.0817
    per_sample = [focal_loss(logits_for([p]), torch.tensor([0]), 2.0, None).item() for p in (0.99, 0.60)]
    assert per_sample[0] == pytest.approx(0.01**2 * -math.log(0.99), rel=1e-4)  # 1 - p_t in float32
    assert per_sample[0] == pytest.approx(1.005e-6, rel=1e-3)
    assert per_sample[1] == pytest.approx(0.16 * -math.log(0.6), rel=1e-5)
    assert per_sample[1] == pytest.approx(0.0817, abs=1e-4)
    mean = focal_loss(logits_for([0.99, 0.60]), torch.tensor([0, 0]), 2.0, None).item()
    assert mean == pytest.approx(sum(per_sample) / 2, rel=1e-5)


def test_alpha_is_one_over_sqrt_frequency():
    labels = np.array([0] * 760 + [1] * 235 + [2] * 5)
    alpha = focal_alpha(labels, 4).numpy()
    assert alpha[0] == pytest.approx(1 / math.sqrt(0.760), rel=1e-6)  # the write-up: NormalVideos 76% -> 1.14
    assert alpha[2] == pytest.approx(1 / math.sqrt(0.005), rel=1e-6)  # Shooting 0.5% -> 14.14
    assert alpha[3] == 0  # absent class
    weighted = focal_loss(logits_for([0.6]), torch.tensor([0]), 2.0, torch.tensor([2.0, 1.0])).item()
    assert weighted == pytest.approx(2 * 0.16 * -math.log(0.6), rel=1e-5)


def test_mil_batch_mean_is_the_writeups_code():
    scores = torch.tensor([[0.1, 0.9], [0.2, 0.3], [0.7, 0.4], [0.5, 0.6]])
    anomalous = torch.tensor([True, False, True, False])
    # mean of max over abnormal (0.9, 0.7) = 0.8; over normal (0.3, 0.6) = 0.45 -> relu(0.5 + 0.45 - 0.8)
    assert mil_ranking_batch_mean(scores, anomalous, 0.5).item() == pytest.approx(0.15)
    assert mil_ranking_batch_mean(scores, torch.ones(4, dtype=torch.bool), 0.5).item() == 0.0


def test_mil_video_bags_ranks_every_pair_of_bags():
    scores = torch.tensor([[0.1, 0.9], [0.2, 0.3], [0.7, 0.4], [0.5, 0.6]])
    anomalous = torch.tensor([True, False, True, False])
    video = torch.tensor([0, 1, 0, 2])  # windows 0 and 2 form one anomalous bag (max 0.9)
    # pairs: (0.9 vs 0.3) -> relu(0.5 - 0.9 + 0.3) = 0; (0.9 vs 0.6) -> 0.2; mean 0.1
    assert mil_ranking_video_bags(scores, anomalous, video, 0.5, 0.0, 0.0).item() == pytest.approx(0.1)
    smooth = ((0.9 - 0.1) ** 2 + (0.4 - 0.7) ** 2) / 2
    sparse = (1.0 + 1.1) / 2
    total = mil_ranking_video_bags(scores, anomalous, video, 0.5, 0.01, 0.001).item()
    assert total == pytest.approx(0.1 + 0.01 * smooth + 0.001 * sparse)


def test_vae_kl_vanishes_at_the_prior():
    x = torch.randn(8, 16)
    assert vae_loss(x, x, torch.zeros(8, 4), torch.zeros(8, 4), 0.01).item() == pytest.approx(0.0, abs=1e-7)
    mu = torch.ones(8, 4)
    assert vae_loss(x, x, mu, torch.zeros(8, 4), 0.5).item() == pytest.approx(0.5 * 0.5 * 4)


def test_weighted_sum_and_components():
    params = compose()
    cfg = section(params, "loss", LossConfig)
    loss = MultiTaskLoss(cfg, None, normal_label=7)
    torch.manual_seed(0)
    out = {"logits": torch.randn(6, 14), "regression": torch.randn(6, 8), "regression_target": torch.randn(6, 8),
           "mil_scores": torch.rand(6, 16), "vae_recon": torch.randn(6, 8), "embedding": torch.randn(6, 8),
           "vae_mu": torch.randn(6, 4), "vae_logvar": torch.randn(6, 4)}
    batch = {"label": torch.tensor([7, 1, 7, 3, 7, 0]), "video": torch.arange(6)}
    total, parts = loss(out, batch)
    assert set(parts) == {"regression", "classification", "mil", "vae"}
    expected = 1.0 * parts["regression"] + 0.5 * parts["classification"] + 0.3 * parts["mil"] + 0.3 * parts["vae"]
    assert torch.allclose(total, expected)
    assert (cfg.weights.regression, cfg.weights.classification, cfg.weights.mil, cfg.weights.vae) == (1.0, 0.5, 0.3, 0.3)


def test_mil_from_the_classifier_ranks_one_minus_p_normal():
    """recipe=code: no MIL head; a window's anomaly score is 1 - softmax(logits)[normal]."""
    from harness.train.losses import anomaly_from_classifier, mil_ranking_batch_mean

    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0], [2.0, 2.0, 0.0]])
    scores = anomaly_from_classifier(logits, normal_label=1)
    expected = 1 - torch.softmax(logits, dim=1)[:, 1]
    assert scores.shape == (4, 1) and torch.allclose(scores[:, 0], expected)
    is_anomaly = torch.tensor([True, False, True, False])
    hinge = mil_ranking_batch_mean(scores, is_anomaly, 0.5)
    assert hinge.item() == pytest.approx(max(0.0, 0.5 + expected[[1, 3]].mean() - expected[[0, 2]].mean()))
