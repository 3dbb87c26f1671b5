"""Split strategies: which windows train, which select the model (val), which are scored (test).

- ``frame``: the write-up's own. Every window of Train in one dataset, ``torch.utils.data.random_split``
  80/20 with seed 42, and the validation part reused as the test set.
- ``video``: video-disjoint and class-stratified at the video level (``hold_out_videos``), separate
  validation and test, all from Train.
- ``official``: test = the Test folder (the dataset's video-level split); validation carved from Train
  by video.

A manifest maps every window to train / val / test; its content hash (``manifest_hash``) covers the
windows and the frames they point at. ``video`` and
``official`` manifests pass a guard that refuses any video on two sides.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from harness.config import DataConfig, SplitsConfig, WindowConfig
from harness.data.windows import windows_per_video
from harness.errors import HarnessError
from harness.io import read_json, write_json, write_parquet

ROLES = ("train", "val", "test")
MANIFEST_COLUMNS = ["window_id", "video_id", "label", "start", "first_row", "split"]


class LeakageGuardError(HarnessError):
    """A manifest that promises video-disjoint sets has a video on two sides."""


@dataclass(frozen=True)
class Manifest:
    strategy: str
    windows: pd.DataFrame  # MANIFEST_COLUMNS; split in train | val | test
    test_set: str  # the role scored as "test": "test", or "val" where the write-up reused validation

    def role(self, name: str) -> pd.DataFrame:
        """Windows of ``name`` (train | val | test); test resolves to val where test = val."""
        if name == "test":
            name = self.test_set
        return self.windows[self.windows["split"] == name]


def describe_eval_set(test_set: str) -> str:
    """What a manifest's scored set is, for metrics files and the report."""
    return "validation (the write-up's test = validation)" if test_set == "val" else "test"


def save_manifest(path: Path, manifest: Manifest, index: pd.DataFrame, window_cfg: WindowConfig,
                  data: DataConfig) -> dict[str, Any]:
    """Write the manifest (``path``, parquet) and its metadata (manifest.json beside it); returns the metadata.
    ``load_manifest`` reads both back: the format lives here and nowhere else."""
    video_lengths = index.groupby("video_id").size()
    too_short = video_lengths[windows_per_video(video_lengths.to_numpy(), window_cfg) == 0]
    roles = manifest.windows.groupby("split")
    meta = {
        "strategy": manifest.strategy,
        "data_source": data.source,
        "content_hash": manifest_hash(manifest.windows, index),
        "test_set": manifest.test_set,
        "windows": roles.size().to_dict(),
        "videos": roles["video_id"].nunique().to_dict(),
        "windows_by_class": {
            role: {data.classes[k]: int(v) for k, v in g["label"].value_counts().sort_index().items()}
            for role, g in roles
        },
        "videos_too_short_for_a_window": len(too_short),
        # which videos yield no window (fewer PNGs than one window spans), with their PNG counts
        "too_short_videos": {str(video): int(n) for video, n in too_short.items()},
        "window_span_frames": window_cfg.span,
    }
    write_parquet(path, manifest.windows)
    write_json(path.with_suffix(".json"), meta)
    return meta


def load_manifest(path: Path) -> tuple[Manifest, dict[str, Any]]:
    """A manifest written by the split stage, with its metadata (manifest.json beside it)."""
    meta = read_json(path.with_suffix(".json"))
    return Manifest(meta["strategy"], pd.read_parquet(path), meta["test_set"]), meta


def manifest_hash(windows: pd.DataFrame, index: pd.DataFrame) -> str:
    """SHA-256 of what a manifest means: every window (video, label, start, index row, role) and the
    content of the frames it points at (each index row's path and CRC-32). Independent of row order.

    Training runs resume only from checkpoints of the same manifest hash, so anything that changes
    the frames (regenerated data, a re-extracted video, other synthetic knobs) changes the hash.
    """
    ordered = windows.sort_values("window_id")
    digest = hashlib.sha256()
    for column in ("window_id", "label", "start", "first_row"):
        digest.update(ordered[column].to_numpy(np.int64).tobytes())
    for column in ("video_id", "split"):
        digest.update("\n".join(ordered[column].astype(str)).encode())
    digest.update("\n".join(index["path"].astype(str)).encode())
    digest.update(index["crc32"].to_numpy(np.uint32).tobytes())
    return digest.hexdigest()


def hold_out_videos(windows: pd.DataFrame, fractions: dict[str, float], seed: int) -> np.ndarray:
    """Each window's role when whole videos are held out per class: ``fractions`` maps a held-out role
    (test, val) to its share of each class's videos; the rest train.

    Stratified at the video level: within each class, round(share x videos) are drawn at random for each
    held-out role, and a class with more videos than held-out roles gives every role at least one, so
    every class sits in every set whenever it can. (scikit-learn's StratifiedGroupKFold balances window
    counts instead; on the synthetic default, with four or five videos per anomaly class, it left 8 of 14
    classes out of validation and 2 out of test.)
    """
    videos = windows.groupby("video_id", sort=True)["label"].first()
    if len(videos) <= len(fractions):
        raise HarnessError(
            f"only {len(videos)} videos to split into train and {' and '.join(fractions)} by video; "
            f"use more videos"
        )
    rng = np.random.default_rng(seed)
    role_of_video: dict[str, str] = {}
    for _, class_videos in videos.groupby(videos, sort=True):
        ids = rng.permutation(class_videos.index.to_numpy())
        n = len(ids)
        counts = {role: round(share * n) for role, share in fractions.items()}
        if n > len(fractions):
            counts = {role: max(1, k) for role, k in counts.items()}
        excess = max(0, sum(counts.values()) - (n - 1))  # always keep one training video
        for role in reversed(list(counts)):  # trimming the last roles first
            cut = min(counts[role], excess)
            counts[role] -= cut
            excess -= cut
        taken = 0
        for role, k in counts.items():
            role_of_video.update(dict.fromkeys(ids[taken : taken + k], role))
            taken += k
    return windows["video_id"].map(role_of_video).fillna("train").to_numpy(dtype=object)


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
    split = hold_out_videos(train_windows, {"test": c.test_fraction, "val": c.val_fraction}, c.seed)
    manifest = Manifest("video", train_windows.assign(split=split)[MANIFEST_COLUMNS], test_set="test")
    assert_video_disjoint(manifest)
    return manifest


def official_split(windows: pd.DataFrame, cfg: SplitsConfig) -> Manifest:
    """Test = the Test folder; validation carved from Train by video."""
    train_windows = windows[windows["official_split"] == "train"].reset_index(drop=True)
    test_windows = windows[windows["official_split"] == "test"].reset_index(drop=True)
    if test_windows.empty:
        raise HarnessError("the official strategy needs a Test/ folder with windows, and the index has none")
    split = hold_out_videos(train_windows, {"val": cfg.official.val_fraction}, cfg.official.seed)
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
