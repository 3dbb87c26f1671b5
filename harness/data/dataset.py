"""Clips of windows, read from PNGs on disk, and the samplers that draw them.

A clip is the window's 16 frames plus its future target frame, decoded with the same conversion the
indexer used, augmented with one draw for the whole clip, and returned as uint8 (the model scales and
normalises on its device, so loader workers and pinned memory move a quarter of the bytes).

Randomness is a pure function of what the sampler yields: samplers yield ``(window, augmentation
seed)`` pairs drawn from a generator seeded by (run seed, epoch). The same epoch therefore sees the
same windows with the same augmentation whatever the number of workers, and a run resumed at epoch k
replays epoch k exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Sampler

from harness.config import WindowConfig
from harness.data.frames import read_frame
from harness.data.transforms import build_augmentation, clip_to_tensor
from harness.data.windows import frame_rows, target_rows


class ClipDataset(Dataset):
    """Windows of a manifest as clips. Item ``i`` or ``(i, seed)``; the seed drives augmentation."""

    def __init__(
        self,
        paths: Sequence[str],
        windows: pd.DataFrame,
        window_cfg: WindowConfig,
        image_size: int,
        labels: np.ndarray | None = None,
        augment: str = "none",
        with_future: bool = True,
        input_size: int | None = None,
        cache_frames: bool = False,
        augment_per_frame: bool = False,
    ):
        # one OpenCV thread in this process and in the loader workers forked from it: frames are small,
        # and cv2.setNumThreads inside a forked worker deadlocks once the parent has used OpenCV's pool
        cv2.setNumThreads(1)
        self.paths = np.asarray(paths, dtype=object)
        # the window arithmetic of harness.data.windows (tested there): input frames and the future frame
        self.rows = frame_rows(windows, window_cfg)
        self.targets = target_rows(windows, window_cfg) if with_future and window_cfg.future_steps > 0 else None
        self.labels = np.asarray(windows["label"] if labels is None else labels, np.int64)
        self.window_ids = windows["window_id"].to_numpy(np.int64)
        self.video_codes = pd.factorize(windows["video_id"])[0].astype(np.int64)
        self.image_size = image_size
        self.input_size = input_size or image_size  # frames are resized to this after augmentation
        self.augment = build_augmentation(augment)
        self.augment_per_frame = augment_per_frame  # a draw per frame (the write-up's code), not one per clip
        # decoded frames kept per process (each loader worker fills its own); for data that fits in memory
        self.cache: dict[int, np.ndarray] | None = {} if cache_frames else None

    def __len__(self) -> int:
        return len(self.rows)

    def _frame(self, row: int) -> np.ndarray:
        if self.cache is None:
            return read_frame(self.paths[row], self.image_size)
        frame = self.cache.get(row)
        if frame is None:
            frame = self.cache[row] = read_frame(self.paths[row], self.image_size)
        return frame

    def _augment_one(self, frame: np.ndarray, seed: int) -> np.ndarray:
        self.augment.set_random_seed(seed)
        return self.augment(image=frame)["image"]

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = item if isinstance(item, tuple) else (item, None)
        rows = self.rows[index]
        if self.targets is not None:
            rows = np.append(rows, self.targets[index])
        frames = np.stack([self._frame(int(r)) for r in rows])
        if self.augment is not None and self.augment_per_frame:
            draws = np.random.default_rng(seed).integers(2**31 - 1, size=len(frames))
            frames = np.stack([self._augment_one(frame, int(s)) for frame, s in zip(frames, draws, strict=True)])
        elif self.augment is not None:
            self.augment.set_random_seed(seed)
            frames = self.augment(images=frames)["images"]
        if self.input_size != self.image_size:
            size = (self.input_size, self.input_size)
            frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
        clip = clip_to_tensor(frames)
        sample = {
            "label": torch.tensor(self.labels[index]),
            "video": torch.tensor(self.video_codes[index]),
            "window_id": torch.tensor(self.window_ids[index]),
        }
        if self.targets is not None:
            sample["clip"], sample["future"] = clip[:-1], clip[-1]
        else:
            sample["clip"] = clip
        return sample


def inverse_frequency_weights(labels: np.ndarray, n_classes: int, power: float) -> np.ndarray:
    """Per-sample weights 1/count^power of the sample's class; 0 weight for no class."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    class_weight = np.divide(1.0, counts**power, out=np.zeros_like(counts), where=counts > 0)
    return class_weight[labels]


def sqrt_inverse_frequency_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-sample weights 1/sqrt(count of the sample's class): the write-up's sampler (section 2.3)."""
    return inverse_frequency_weights(labels, n_classes, 0.5)


SAMPLER_POWER = {"sqrt_inverse_frequency": 0.5, "inverse_frequency": 1.0}  # train.sampler -> power (its code: 1/count)


def expected_class_mix(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """The class shares the sqrt-weighted sampler draws: sqrt(n_c) / sum_k sqrt(n_k)."""
    root = np.sqrt(np.bincount(labels, minlength=n_classes).astype(np.float64))
    return root / root.sum()


class SeededSampler(Sampler):
    """Draws ``num_samples`` windows per epoch (weighted or uniform, with replacement) plus a seed each.

    ``set_epoch`` fixes the generator to (seed, epoch), so epochs replay exactly after a resume.
    With ``rank``/``world_size`` each process takes its share of the same draw (distributed training).
    """

    def __init__(
        self,
        weights: np.ndarray | None,
        num_samples: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        size: int | None = None,
    ):
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.double)
        self.size = size if size is not None else len(weights)
        self.num_samples = num_samples
        self.seed = seed
        self.epoch = 0
        self.rank, self.world_size = rank, world_size
        self.shuffle = shuffle

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def draw(self) -> tuple[np.ndarray, np.ndarray]:
        """(window indices, augmentation seeds) of the whole epoch, for every rank."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        if not self.shuffle:
            indices = torch.arange(self.num_samples) % self.size
        elif self.weights is not None:
            indices = torch.multinomial(self.weights, self.num_samples, replacement=True, generator=generator)
        else:
            indices = torch.randint(self.size, (self.num_samples,), generator=generator)
        seeds = torch.randint(2**31 - 1, (self.num_samples,), generator=generator)
        return indices.numpy(), seeds.numpy()

    def __iter__(self) -> Iterator[tuple[int, int]]:
        indices, seeds = self.draw()
        mine = slice(self.rank, None, self.world_size)
        return iter(zip(indices[mine].tolist(), seeds[mine].tolist(), strict=True))

    def __len__(self) -> int:
        return len(range(self.rank, self.num_samples, self.world_size))
