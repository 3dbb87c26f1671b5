"""The write-up's two models and the config schemas that build them."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from harness.models.baseline import BaselineCNN
from harness.models.multitask import MultiTaskModel

MODELS = ("baseline", "multitask")


def build_model(name: str, model_params: dict[str, Any], n_classes: int) -> nn.Module:
    """Build ``name`` from its params.yaml section (``model.<name>``), validated."""
    from harness.config import BaselineConfig, MultiTaskConfig, parse_section

    if name == "baseline":
        return BaselineCNN(parse_section(BaselineConfig, model_params, "model.baseline"), n_classes)
    if name == "multitask":
        return MultiTaskModel(parse_section(MultiTaskConfig, model_params, "model.multitask"), n_classes)
    from harness.errors import ConfigError

    raise ConfigError(f"params.yaml: model {name!r} is not one of {', '.join(MODELS)}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class Normalise(nn.Module):
    """uint8 frames -> float, scaled to [0, 1] and standardised with ImageNet statistics (timm's default)."""

    def __init__(self, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.float() / 255.0 if frames.dtype == torch.uint8 else frames
        return (x - self.mean) / self.std
