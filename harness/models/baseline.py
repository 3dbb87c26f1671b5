"""The write-up's baseline: a simple CNN, no dropout, one task, one prediction per window.

Each frame goes through conv-(GroupNorm)-ReLU-maxpool blocks and global average pooling; the window's
frame features are averaged and a linear layer gives the class logits. GroupNorm normalises each
sample on its own: it trains from scratch in the few hundred steps a CPU run has, and, unlike batch
statistics, keeps one optimizer step over two accumulated half-batches equal to one over the whole batch.
"""

from __future__ import annotations

import torch
from torch import nn

from harness.config import BaselineConfig


class BaselineCNN(nn.Module):
    def __init__(self, cfg: BaselineConfig, n_classes: int):
        super().__init__()
        from harness.models import Normalise

        layers: list[nn.Module] = []
        in_channels = 3
        for out_channels in cfg.channels:
            layers.append(nn.Conv2d(in_channels, out_channels, 3, padding=1))
            if cfg.norm == "group":
                layers.append(nn.GroupNorm(min(8, out_channels), out_channels))
            layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            in_channels = out_channels
        self.normalise = Normalise()
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(in_channels, n_classes)

    def forward(self, clip: torch.Tensor, future: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        b, t = clip.shape[:2]
        frames = self.normalise(clip.flatten(0, 1))
        per_frame = self.features(frames).view(b, t, -1)
        return {"logits": self.classifier(per_frame.mean(dim=1))}
