"""Split strategies: which windows train, which select the model (val), which are scored (test).

- ``frame``: the write-up's own. Every window of Train in one dataset, ``torch.utils.data.random_split``
  80/20 with seed 42, and the validation part reused as the test set.
- ``video``: video-disjoint and class-stratified (scikit-learn's StratifiedGroupKFold), separate
  validation and test, all from Train.
- ``official``: test = the Test folder (the dataset's video-level split); validation carved from Train
  by video.

A manifest maps every window to train / val / test and carries a content hash. ``video`` and
``official`` manifests pass a guard that refuses any video on two sides.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import StratifiedGroupKFold

from harness.config import SplitsConfig
from harness.errors import HarnessError

ROLES = ("train", "val", "test")
MANIFEST_COLUMNS = ["window_id", "video_id", "label", "start", "first_row", "split"]


class LeakageGuardError(HarnessError):
    """A manifest that promises video-disjoint sets has a video on two sides."""


@dataclass(frozen=True)
class Manifest:
    strategy: str
    windows: pd.DataFrame  # MANIFEST_COLUMNS; split in train | val | test
    test_set: str  # the role scored as "test": "test", or "val" where the write-up reused validation

    @property
    def content_hash(self) -> str:
        return manifest_hash(self.windows)

    def role(self, name: str) -> pd.DataFrame:
        """Windows of ``name`` (train | val | test); test resolves to val where test = val."""
        if name == "test":
            name = self.test_set
        return self.windows[self.windows["split"] == name]


def manifest_hash(windows: pd.DataFrame) -> str:
    """SHA-256 of the (window_id, split) assignment, independent of row order."""
    ordered = windows.sort_values("window_id")
    digest = hashlib.sha256()
    digest.update(ordered["window_id"].to_numpy(np.int64).tobytes())
    digest.update("\n".join(ordered["split"].astype(str)).encode())
    return digest.hexdigest()


def _group_fold(windows: pd.DataFrame, n_splits: int, seed: int) -> np.ndarray:
    """Boolean mask of the first fold of a stratified, video-grouped K-fold over ``windows``."""
    n_videos = windows["video_id"].nunique()
    if n_videos < n_splits:
        raise HarnessError(
            f"only {n_videos} videos to split into {n_splits} video-disjoint folds; "
            f"lower the split fractions or use more videos"
        )
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # small classes with fewer windows than folds are expected (a class with 2 videos still splits)
        warnings.filterwarnings("ignore", message="The least populated class")
        _, held_out = next(splitter.split(windows, windows["label"], groups=windows["video_id"]))
    mask = np.zeros(len(windows), bool)
    mask[held_out] = True
    return mask


def _folds_for(fraction: float) -> int:
    return max(2, round(1 / fraction))


def frame_split(windows: pd.DataFrame, cfg: SplitsConfig) -> Manifest:
    """The write-up's split: random_split of all Train windows, test = validation."""
    train_windows = windows[windows["official_split"] == "train"].reset_index(drop=True)
    n = len(train_windows)
    n_train = int(cfg.frame.train_fraction * n)
    generator = torch.Generator().manual_seed(cfg.frame.seed)
    train_part, _ = torch.utils.data.random_split(range(n), [n_train, n - n_train], generator=generator)
    split = np.full(n, "val", dtype=object)
    split[np.asarray(train_part.indices, dtype=np.int64)] = "train"
    out = train_windows.assign(split=split)[MANIFEST_COLUMNS]
    return Manifest("frame", out, test_set="val")


def video_split(windows: pd.DataFrame, cfg: SplitsConfig) -> Manifest:
    """Video-disjoint, class-stratified train / val / test, all from Train."""
    train_windows = windows[windows["official_split"] == "train"].reset_index(drop=True)
    c = cfg.video
    split = np.full(len(train_windows), "train", dtype=object)
    test_mask = _group_fold(train_windows, _folds_for(c.test_fraction), c.seed)
    split[test_mask] = "test"
    rest = np.flatnonzero(~test_mask)
    val_share_of_rest = c.val_fraction / (1 - c.test_fraction)
    val_mask = _group_fold(train_windows.iloc[rest], _folds_for(val_share_of_rest), c.seed + 1)
    split[rest[val_mask]] = "val"
    manifest = Manifest("video", train_windows.assign(split=split)[MANIFEST_COLUMNS], test_set="test")
    assert_video_disjoint(manifest)
    return manifest


def official_split(windows: pd.DataFrame, cfg: SplitsConfig) -> Manifest:
    """Test = the Test folder; validation carved from Train by video."""
    train_windows = windows[windows["official_split"] == "train"].reset_index(drop=True)
    test_windows = windows[windows["official_split"] == "test"].reset_index(drop=True)
    if test_windows.empty:
        raise HarnessError("the official strategy needs a Test/ folder with windows, and the index has none")
    split = np.full(len(train_windows), "train", dtype=object)
    split[_group_fold(train_windows, _folds_for(cfg.official.val_fraction), cfg.official.seed)] = "val"
    out = pd.concat(
        [train_windows.assign(split=split), test_windows.assign(split="test")], ignore_index=True
    )[MANIFEST_COLUMNS]
    manifest = Manifest("official", out, test_set="test")
    assert_video_disjoint(manifest)
    return manifest


STRATEGIES = {"frame": frame_split, "video": video_split, "official": official_split}


def make_manifest(strategy: str, windows: pd.DataFrame, cfg: SplitsConfig) -> Manifest:
    if strategy not in STRATEGIES:
        raise HarnessError(f"unknown split strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    train_windows = windows[windows["official_split"] == "train"]
    if train_windows.empty:
        raise HarnessError("the index has no Train windows: every Train video is shorter than one window")
    return STRATEGIES[strategy](windows, cfg)


def assert_video_disjoint(manifest: Manifest) -> None:
    """Refuse a manifest in which any video has windows in more than one role."""
    roles_per_video = manifest.windows.groupby("video_id")["split"].nunique()
    crossing = roles_per_video[roles_per_video > 1]
    if len(crossing):
        example = crossing.index[0]
        raise LeakageGuardError(
            f"refusing to write the {manifest.strategy} manifest: {len(crossing)} videos sit on more than "
            f"one side of the split (for example {example!r})"
        )
