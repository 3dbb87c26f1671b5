"""What ``train.precision`` means on a device (fp32, fp16 autocast + GradScaler on CUDA, bf16 autocast on
CPU), and moving a batch to the device."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch


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


def move(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
