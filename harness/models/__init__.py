"""The write-up's two models and the config schemas that build them, in one registry keyed by config.ModelName.

Models know no data source, loop or metric: this room imports only the shared top-level modules."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from harness.config import BaselineConfig, MultiTaskConfig, parse_section
from harness.errors import ConfigError
from harness.models.baseline import BaselineCNN
from harness.models.multitask import MultiTaskModel

# the registry: each model's class and its section's schema, by the names harness.config.ModelName spells
# (tests/models/test_models.py checks the two agree)
REGISTRY: dict[str, tuple[type[nn.Module], type]] = {
    "baseline": (BaselineCNN, BaselineConfig),
    "multitask": (MultiTaskModel, MultiTaskConfig),
}


def build_model(name: str, model_params: dict[str, Any], n_classes: int) -> nn.Module:
    """Build ``name`` from its params.yaml section (``model.<name>``), validated."""
    if name not in REGISTRY:
        raise ConfigError(f"params.yaml: model {name!r} is not one of {', '.join(REGISTRY)}")
    model_cls, schema = REGISTRY[name]
    return model_cls(parse_section(schema, model_params, f"model.{name}"), n_classes)


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
