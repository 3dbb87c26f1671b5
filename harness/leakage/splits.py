"""Split strategies: which windows train, which select the model (val), which are scored (test).

- ``frame``: the write-up's own. Every window of Train in one dataset, ``torch.utils.data.random_split``
  80/20 with seed 42, and the validation part reused as the test set.
- ``video``: video-disjoint and class-stratified at the video level (``hold_out_videos``), separate
  validation and test, all from Train.
- ``official``: test = the Test folder (the dataset's video-level split); validation carved from Train
  by video.
- ``gap``: the time-gap split, all from Train. Inside each video the last (1 - train_fraction) of its
  windows evaluate (as the write-up's reused validation, so that against ``frame`` only the gap changes)
  and the earlier windows that end at least ``frames`` PNGs before the first evaluation window train;
  the windows in between are dropped. No window shares a frame across the gap. The curve of a score
  against the gap lies between ``frame`` (shared frames) and ``video`` (no same-scene data).

A manifest maps every window to train / val / test; its content hash (``manifest_hash``) covers the
windows and the frames they point at. ``video`` and
``official`` manifests pass a guard that refuses any video on two sides; ``gap`` manifests one that refuses
a video whose training and evaluation windows come closer than the gap.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.config import DataConfig, SplitsConfig, WindowConfig
from harness.data.windows import windows_per_video
from harness.errors import HarnessError
from harness.io import read_json, write_json, write_parquet

ROLES = ("train", "val", "test")
MANIFEST_COLUMNS = ["window_id", "video_id", "label", "start", "first_row", "split"]


class NotApplicable(HarnessError):
    """A strategy that cannot apply to this data (the gap split on videos too short for two windows and a gap, the
    official split without a Test folder, a video split with too few videos). The pipeline skips it, saying why
    (``not_applicable_manifest``), and every other strategy runs to the end."""


class LeakageGuardError(HarnessError):
    """A manifest that promises video-disjoint sets has a video on two sides, or a gap manifest has a video whose
    training and evaluation windows come closer than its gap."""


@dataclass(frozen=True)
class Manifest:
    strategy: str
    windows: pd.DataFrame  # MANIFEST_COLUMNS; split in train | val | test
    test_set: str  # the role scored as "test": "test", or "val" where the write-up reused validation
    details: dict[str, Any] = field(default_factory=dict)  # strategy-specific facts for manifest.json

    @property
    def not_applicable(self) -> str | None:
        """Why the strategy does not apply to this data (the manifest is then empty), or None."""
        return self.details.get("not_applicable")

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
        **manifest.details,
    }
    write_parquet(path, manifest.windows)
    write_json(path.with_suffix(".json"), meta)
    return meta


def load_manifest(path: Path) -> tuple[Manifest, dict[str, Any]]:
    """A manifest written by the split stage, with its metadata (manifest.json beside it)."""
    meta = read_json(path.with_suffix(".json"))
    details = {"not_applicable": meta["not_applicable"]} if meta.get("not_applicable") else {}
    return Manifest(meta["strategy"], pd.read_parquet(path), meta["test_set"], details), meta


def not_applicable_manifest(strategy: str, reason: str) -> Manifest:
    """The empty manifest of a strategy that cannot apply to this data; its metadata carries the reason, which
    every later stage passes on instead of training or scoring (the one place the fact lives)."""
    empty = pd.DataFrame({c: pd.Series(dtype="int64" if c in ("window_id", "label", "start", "first_row") else object)
                          for c in MANIFEST_COLUMNS})
    return Manifest(strategy, empty, test_set="test", details={"not_applicable": reason})


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
        raise NotApplicable(
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
    import torch  # here, not at the top: only this strategy needs torch's generator (1.5 s to import a stage)

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
        raise NotApplicable("the official split needs a Test/ folder with windows, and the index has none")
    split = hold_out_videos(train_windows, {"val": cfg.official.val_fraction}, cfg.official.seed)
    out = pd.concat(
        [train_windows.assign(split=split), test_windows.assign(split="test")], ignore_index=True
    )[MANIFEST_COLUMNS]
    manifest = Manifest("official", out, test_set="test")
    assert_video_disjoint(manifest)
    return manifest


def gap_split(windows: pd.DataFrame, cfg: SplitsConfig, window_cfg: WindowConfig) -> Manifest:
    """Earlier windows of each Train video train, later ones evaluate (test = validation), with a gap of at least
    ``cfg.gap.frames`` PNGs between a video's last training frame (a window's last frame is its regression
    target, ``start + span - 1``) and its first evaluation frame.

    The cut comes after the first ``train_fraction`` of a video's windows (at least one window evaluates); the
    windows before it that reach within the gap of the first evaluation window are dropped, so a video's
    evaluation windows do not depend on the gap and only its training part shrinks as the gap grows. A video
    with no training window left (too short for a window, the gap and a window) contributes all its windows to
    training and none to evaluation; manifest.json counts the videos that evaluate.
    """
    gap, fraction = cfg.gap.frames, cfg.gap.train_fraction
    if gap < 0:  # the schema refuses it too; the frame split is the shared-frames case
        raise HarnessError(f"splits.gap.frames = {gap} must not be negative: use the frame strategy for shared frames")
    train_windows = windows[windows["official_split"] == "train"].sort_values(
        ["video_id", "start"], kind="stable", ignore_index=True)
    by_video = train_windows.groupby("video_id", sort=False)
    n = by_video["start"].transform("size").to_numpy()
    rank = by_video.cumcount().to_numpy()
    n_eval = np.maximum(1, np.floor((1 - fraction) * n + 0.5)).astype(np.int64)
    evaluates = rank >= n - n_eval
    starts = train_windows["start"].to_numpy(np.int64)
    first_eval_start = pd.Series(np.where(evaluates, starts, np.iinfo(np.int64).max)).groupby(
        train_windows["video_id"]).transform("min").to_numpy()
    # PNGs strictly between the window's last frame (start + span - 1) and the first evaluation frame
    clears_gap = ~evaluates & (first_eval_start - (starts + window_cfg.span) >= gap)
    has_train = pd.Series(clears_gap).groupby(train_windows["video_id"]).transform("any").to_numpy()
    split = np.where(~has_train, "train", np.where(evaluates, "val", np.where(clears_gap, "train", "")))
    keep = split != ""
    out = train_windows.assign(split=split.astype(object))[keep].sort_values("window_id", ignore_index=True)
    n_videos = train_windows["video_id"].nunique()
    n_evaluating = int(train_windows.loc[has_train, "video_id"].nunique())
    details = {"gap_frames": gap, "gap_train_fraction": fraction, "videos_evaluated": n_evaluating,
               "videos_train_only": n_videos - n_evaluating, "windows_dropped_in_gap": int((~keep).sum())}
    manifest = Manifest("gap", out[MANIFEST_COLUMNS], test_set="val", details=details)
    assert_gap_respected(manifest, window_cfg, gap)
    return manifest


STRATEGIES = {"frame": frame_split, "video": video_split, "official": official_split, "gap": gap_split}


def make_manifest(strategy: str, windows: pd.DataFrame, cfg: SplitsConfig,
                  window_cfg: WindowConfig | None = None) -> Manifest:
    """The ``strategy`` manifest of ``windows``; ``window_cfg`` (where a window ends) is needed by ``gap`` only."""
    if strategy not in STRATEGIES:
        raise HarnessError(f"unknown split strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    train_windows = windows[windows["official_split"] == "train"]
    if train_windows.empty:
        raise HarnessError("the index has no Train windows: every Train video is shorter than one window")
    if strategy == "gap":
        if window_cfg is None:
            raise HarnessError("the gap strategy needs the windows section (where a window ends) to place its gap")
        manifest = gap_split(windows, cfg, window_cfg)
        if manifest.role("test").empty:
            raise NotApplicable(
                f"the gap split has nothing to evaluate: no Train video is long enough for a training window, a gap "
                f"of {cfg.gap.frames} PNGs (splits.gap.frames) and an evaluation window ({window_cfg.span} PNGs each); "
                f"longer videos or a smaller splits.gap.frames would let it apply"
            )
    else:
        manifest = STRATEGIES[strategy](windows, cfg)
    for role in ("train", "test"):
        if manifest.role(role).empty:
            raise NotApplicable(f"the {strategy} split leaves no window to {'train on' if role == 'train' else 'score'} "
                                f"with these videos ({windows['video_id'].nunique()} with at least one window)")
    return manifest


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


def assert_gap_respected(manifest: Manifest, window_cfg: WindowConfig, gap: int) -> None:
    """Refuse a gap manifest in which a video's training and evaluation windows share a frame, interleave, or
    come closer than ``gap`` PNGs (a window's frames run from ``start`` to ``start + span - 1``)."""
    rows = manifest.windows
    starts = rows["start"].to_numpy(np.int64)
    ends = starts + window_cfg.span - 1
    last_train_end = pd.Series(np.where(rows["split"] == "train", ends, -1)).groupby(rows["video_id"].to_numpy()).max()
    first_eval_start = pd.Series(np.where(rows["split"] == manifest.test_set, starts, np.iinfo(np.int64).max)).groupby(
        rows["video_id"].to_numpy()).min()
    both_sides = (first_eval_start < np.iinfo(np.int64).max) & (last_train_end >= 0)
    measured = (first_eval_start - last_train_end - 1)[both_sides]
    short = measured[measured < gap]
    if len(short):
        example = short.index[0]
        raise LeakageGuardError(
            f"refusing to write the {manifest.strategy} manifest: in {len(short)} videos the evaluation windows come "
            f"within {int(short.iloc[0])} PNGs of a training window (for example {example!r}), closer than the gap "
            f"of {gap}"
        )
