"""The write-up's augmentation pipeline, in albumentations 2.x terms, and a torchvision counterpart.

The write-up (section 4.1b) used albumentations 1.x arguments, which 2.x silently ignores; they are
translated here and ``strict=True`` rejects any name 2.x does not know (reference.md section 6):

| write-up (1.x)                                          | here (2.0.8)                                               |
|---------------------------------------------------------|------------------------------------------------------------|
| Rotate(limit=15, p=0.5), 1.x border reflect_101          | Rotate(limit=15, border_mode=BORDER_REFLECT_101, p=0.5)    |
| HorizontalFlip(p=0.5)                                   | same                                                        |
| ColorJitter(brightness=0.2, contrast=0.2, p=0.5)         | same, saturation=0.2 and hue=0.2 (the 1.x defaults)         |
| GaussNoise(var_limit=(10, 50), p=0.3) on uint8           | GaussNoise(std_range=(0.012, 0.028), p=0.3): sqrt(var)/255  |
| RandomFog(fog_coef_lower=0.3, p=0.2)                     | RandomFog(fog_coef_range=(0.3, 1.0), p=0.2)                 |
| CoarseDropout(max_holes=8, max_height=32, max_width=32)  | CoarseDropout(num_holes_range=(8, 8), 32x32 holes, p=0.3):  |
|                                                         | 1.x drew min = max when min_* was not given                 |

On 64x64 frames the last one blanks most of the image whenever it fires. A whole clip gets one draw
(``Compose(...)(images=clip)``), so every frame of a window moves together.
"""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
import torch

AUGMENTATIONS = ("writeup", "writeup_without_fog", "none")


def writeup_augmentation(seed: int | None = None, fog: bool = True) -> A.Compose:
    """The write-up's training augmentation for uint8 RGB frames.

    ``fog=False`` leaves out RandomFog: albumentations 2.0.8 blends one full-image copy per fog
    particle, about 8 ms per 64x64 frame (measured here), more than decoding the PNG and more than a
    small model's forward and backward pass; the cpu profile drops it and says so.
    """
    transforms = [
        A.Rotate(limit=15, border_mode=cv2.BORDER_REFLECT_101, p=0.5),
        A.HorizontalFlip(p=0.5),
        A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.2, p=0.5),
        A.GaussNoise(std_range=(0.012, 0.028), p=0.3),
        A.RandomFog(fog_coef_range=(0.3, 1.0), p=0.2),
        A.CoarseDropout(num_holes_range=(8, 8), hole_height_range=(32, 32), hole_width_range=(32, 32), p=0.3),
    ]
    if not fog:
        transforms = [t for t in transforms if not isinstance(t, A.RandomFog)]
    return A.Compose(transforms, strict=True, seed=seed)


def build_augmentation(name: str) -> A.Compose | None:
    """``train.augment``: writeup | writeup_without_fog | none."""
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; known: {', '.join(AUGMENTATIONS)}")
    if name == "none":
        return None
    return writeup_augmentation(fog=name == "writeup")


def benchmark_albumentations() -> A.Compose:
    """Rotate + HorizontalFlip + ColorJitter, always applied: the part of the pipeline both libraries share."""
    return A.Compose(
        [
            A.Rotate(limit=15, border_mode=cv2.BORDER_REFLECT_101, p=1.0),
            A.HorizontalFlip(p=1.0),
            A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.2, p=1.0),
        ],
        strict=True,
        seed=0,
    )


def benchmark_torchvision():
    """The same three transforms in torchvision.transforms.v2, on a uint8 CHW tensor."""
    from torchvision.transforms import v2

    return v2.Compose(
        [
            v2.RandomRotation(15),
            v2.RandomHorizontalFlip(p=1.0),
            v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.2),
        ]
    )


def clip_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, H, W) uint8 tensor. Models scale and normalise on their device."""
    return torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2)))
