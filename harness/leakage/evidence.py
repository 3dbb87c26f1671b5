"""Model-free leakage evidence: what an evaluation set shares with training before any model is fit.

Per split strategy and evaluation set:
- videos with windows on both sides;
- the share of evaluation windows that share at least k frames with some single training window;
- the cross-split near-duplicate rate: evaluation frames whose pHash lies within Hamming radius r of
  some training frame (deepchecks' SimilarImageLeakage idea), found by multi-index hashing
  (``harness.leakage.neighbours``) rather than an all-pairs scan, so it runs on the 1.38 M frames of the real set;
- that rate as a curve over radius 0..R beside a *chance* curve: the same search restricted to training
  frames of other classes (a video has one class, so other videos too). A match there cannot carry the
  label: it measures scene and background collisions, which fixed surveillance cameras make common. The
  headline is the excess over chance at r with a bootstrap interval over evaluation videos;
- the leaking pairs themselves (each evaluation frame with its nearest training frame within r) and a
  per-video table, for a person to look at;
- exact duplicates across frame identities (``harness.leakage.duplicates``);
- the majority-class rate of the evaluation set (the accuracy of always guessing its commonest class).

rate(k) is the share of frames whose nearest training frame lies within k bits, monotone in k. Every frame
is searched at radius r (the pairs, the headline); the points above r come from one wider search, over all
frames or, on a set larger than ``curve_sample_frames``, over a seeded sample (``match_with_curves``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.config import LeakageConfig, WindowConfig
from harness.data.windows import frame_rows, shared_frames
from harness.leakage.duplicates import duplicate_groups, exact_duplicates, frame_roles
from harness.leakage.neighbours import Nearest, nearest, search
from harness.leakage.splits import Manifest
from harness.scoring.metrics import bootstrap_counts, interval

PAIR_COLUMNS = ["role", "eval_row", "train_row", "distance", "eval_video", "eval_frame", "train_video",
                "train_frame", "eval_class", "train_class", "same_video", "same_frame", "eval_path", "train_path"]
VIDEO_COLUMNS = ["role", "video_id", "class_name", "frames", "near_duplicate_frames", "near_duplicate_share",
                 "chance_share", "top_train_video", "top_train_video_frames", "same_video"]


def near_duplicate_mask(query: np.ndarray, reference: np.ndarray, radius: int) -> np.ndarray:
    """For each query hash, is some reference hash within ``radius`` bits? (uint64 arrays)"""
    return nearest(query, reference, radius).found


def max_shared_frames(eval_windows: pd.DataFrame, train_windows: pd.DataFrame, cfg: WindowConfig) -> np.ndarray:
    """For each evaluation window, the most frames it shares with any single training window."""
    best = np.zeros(len(eval_windows), np.int64)
    train_starts = {v: g["start"].to_numpy() for v, g in train_windows.groupby("video_id", sort=False)}
    positions = eval_windows.reset_index(drop=True).groupby("video_id", sort=False).indices
    eval_starts = eval_windows["start"].to_numpy()
    for video, rows in positions.items():
        starts = train_starts.get(video)
        if starts is not None:
            best[rows] = shared_frames(eval_starts[rows][:, None], starts[None, :], cfg).max(axis=1)
    return best


@dataclass(frozen=True)
class Matches:
    """One evaluation set's frames (index rows, ascending) and their nearest training frames (index rows)."""

    rows: np.ndarray
    nearest: Nearest  # over all training frames
    chance: Nearest  # over training frames of other classes only (a video has one class: other videos too)


def match_frames(eval_rows: np.ndarray, train_rows: np.ndarray, index: pd.DataFrame, radius: int) -> Matches:
    """Nearest training frame of each evaluation frame within ``radius``, overall and of another class."""
    hashes, labels = index["phash"].to_numpy(np.uint64), index["label"].to_numpy(np.int64)
    found, chance = search(hashes[eval_rows], hashes[train_rows], radius, labels[eval_rows], labels[train_rows])

    def to_rows(n: Nearest) -> Nearest:
        return Nearest(n.distance, np.where(n.found, train_rows[np.maximum(n.index, 0)], -1))

    return Matches(eval_rows, to_rows(found), to_rows(chance))


@dataclass(frozen=True)
class Curves:
    """The near-duplicate and chance rates by radius 0..curve_max_radius, and how they were measured."""

    near: dict[str, float]
    chance: dict[str, float]
    sample_frames: int  # evaluation frames the part above hamming_radius was measured on
    exact_up_to: int  # the largest radius measured on every evaluation frame


def match_with_curves(eval_rows: np.ndarray, train_rows: np.ndarray, index: pd.DataFrame,
                      cfg: LeakageConfig) -> tuple[Matches, Curves]:
    """Every evaluation frame's matches within ``hamming_radius`` (the pairs and the headline rates) and both
    curves to ``curve_max_radius``. A search's cost grows steeply with its radius (about 12,000 block probes a
    query at 12 bits against 45 at 4), so when the set has more than ``curve_sample_frames`` frames the part of
    the curves above ``hamming_radius`` is measured on a seeded uniform sample of that many frames: rate(r) for
    r > R is the exact rate(R) plus the sample's share with R < distance <= r (monotone by construction). Sets
    no larger than the sample are searched once, at the largest radius, and every point is exact."""
    radius, top = cfg.hamming_radius, max(cfg.hamming_radius, cfg.curve_max_radius)
    if len(eval_rows) <= cfg.curve_sample_frames or top == radius:
        matches = match_frames(eval_rows, train_rows, index, top)
        curves = Curves(rate_curve(matches.nearest.distance, top), rate_curve(matches.chance.distance, top),
                        len(eval_rows), top)
        return matches, curves
    matches = match_frames(eval_rows, train_rows, index, radius)
    rng = np.random.default_rng(cfg.seed)
    sample = np.sort(rng.choice(eval_rows, cfg.curve_sample_frames, replace=False))
    wide = match_frames(sample, train_rows, index, top)

    def extend(exact: np.ndarray, sampled: np.ndarray) -> dict[str, float]:
        base = float((exact <= radius).mean())
        above = [base + float(((sampled > radius) & (sampled <= r)).mean()) for r in range(radius + 1, top + 1)]
        return {**rate_curve(exact, radius), **{str(r): round(v, 6) for r, v in zip(range(radius + 1, top + 1), above,
                                                                                      strict=True)}}

    curves = Curves(extend(matches.nearest.distance, wide.nearest.distance),
                    extend(matches.chance.distance, wide.chance.distance), len(sample), radius)
    return matches, curves


def rate_curve(distance: np.ndarray, max_radius: int) -> dict[str, float]:
    """Share of frames whose nearest match lies within r bits, for r = 0..max_radius (keys are r as text)."""
    if len(distance) == 0:
        return {str(r): 0.0 for r in range(max_radius + 1)}
    return {str(r): round(float((distance <= r).mean()), 6) for r in range(max_radius + 1)}


def excess_over_chance(near: np.ndarray, chance: np.ndarray, videos: np.ndarray, cfg: LeakageConfig) -> dict[str, float]:
    """Near-duplicate rate minus chance rate, with a percentile interval from a bootstrap over videos
    (all frames of each drawn video: frames of one video are not independent)."""
    table = pd.DataFrame({"v": videos, "n": 1, "near": near, "chance": chance}).groupby("v").sum()
    counts = bootstrap_counts(len(table), cfg.bootstrap_resamples, cfg.seed)
    frames = counts @ table["n"].to_numpy()
    samples = (counts @ table["near"].to_numpy() - counts @ table["chance"].to_numpy()) / frames
    low, high = interval(samples, cfg.confidence)
    return {"excess_over_chance": round(float(near.mean() - chance.mean()), 6),
            "excess_over_chance_ci_low": round(low, 6), "excess_over_chance_ci_high": round(high, 6)}


def leak_pairs(role: str, matches: Matches, index: pd.DataFrame, radius: int) -> pd.DataFrame:
    """Evaluation frames with a training frame within ``radius``: both frames, the distance, both videos."""
    keep = matches.nearest.distance <= radius
    ev, tr = matches.rows[keep], matches.nearest.index[keep]
    left, right = index.iloc[ev], index.iloc[tr]
    pairs = pd.DataFrame({
        "role": role, "eval_row": ev, "train_row": tr, "distance": matches.nearest.distance[keep].astype(np.int8),
        "eval_video": left["video_id"].to_numpy(), "eval_frame": left["frame_index"].to_numpy(),
        "train_video": right["video_id"].to_numpy(), "train_frame": right["frame_index"].to_numpy(),
        "eval_class": left["class_name"].to_numpy(), "train_class": right["class_name"].to_numpy(),
    })
    pairs["same_video"] = pairs["eval_video"] == pairs["train_video"]
    pairs["same_frame"] = pairs["eval_row"] == pairs["train_row"]  # the frame split's shared frames
    pairs["eval_path"], pairs["train_path"] = left["path"].to_numpy(), right["path"].to_numpy()
    return pairs[PAIR_COLUMNS]


def leak_videos(role: str, matches: Matches, pairs: pd.DataFrame, index: pd.DataFrame, radius: int) -> pd.DataFrame:
    """Per evaluation video: its frames, the share with a near-duplicate in training (and by chance), and
    the training video its frames match most (ties: the first by name)."""
    frames = index.iloc[matches.rows]
    table = pd.DataFrame({
        "video_id": frames["video_id"].to_numpy(), "class_name": frames["class_name"].to_numpy(),
        "near": matches.nearest.distance <= radius, "chance": matches.chance.distance <= radius,
    }).groupby("video_id", sort=True).agg(class_name=("class_name", "first"), frames=("near", "size"),
                                          near_duplicate_frames=("near", "sum"), chance_frames=("chance", "sum"))
    top = (pairs.groupby(["eval_video", "train_video"]).size().rename("n").reset_index()
           .sort_values(["eval_video", "n", "train_video"], ascending=[True, False, True])
           .drop_duplicates("eval_video").set_index("eval_video"))
    table["top_train_video"] = top["train_video"].reindex(table.index).fillna("")
    table["top_train_video_frames"] = top["n"].reindex(table.index).fillna(0).astype(np.int64)
    table["near_duplicate_share"] = (table["near_duplicate_frames"] / table["frames"]).round(6)
    table["chance_share"] = (table["chance_frames"] / table["frames"]).round(6)
    table["same_video"] = table["top_train_video"] == table.index
    table = table.reset_index().assign(role=role)
    return table.sort_values(["near_duplicate_share", "video_id"], ascending=[False, True])[VIDEO_COLUMNS]


def _role_record(role_windows: pd.DataFrame, train: pd.DataFrame, matches: Matches, curves: Curves, in_train: np.ndarray,
                 index: pd.DataFrame, window_cfg: WindowConfig, cfg: LeakageConfig, classes: tuple[str, ...]) -> dict:
    near = matches.nearest.distance <= cfg.hamming_radius
    chance = matches.chance.distance <= cfg.hamming_radius
    videos = index["video_id"].to_numpy()
    same_video = videos[matches.rows[near]] == videos[matches.nearest.index[near]]
    shared = max_shared_frames(role_windows, train, window_cfg)
    label_counts = role_windows["label"].value_counts()
    record: dict[str, Any] = {
        "windows": int(len(role_windows)),
        "videos": int(role_windows["video_id"].nunique()),
        "videos_shared_with_train": int(len(set(role_windows["video_id"]) & set(train["video_id"]))),
        "frames": int(len(matches.rows)),
        "frames_also_in_train_windows": round(float(in_train.mean()), 6),
        "near_duplicate_rate": round(float(near.mean()), 6),
        "near_duplicate_rate_unshared_frames": round(float(near[~in_train].mean()), 6) if (~in_train).any() else 0.0,
        # of the near-duplicates, how many match a training frame of their own video
        "near_duplicates_in_same_video": round(float(same_video.mean()), 6) if near.any() else 0.0,
        "chance_rate": round(float(chance.mean()), 6),
        **excess_over_chance(near, chance, videos[matches.rows], cfg),
        "near_duplicate_rate_by_radius": curves.near,
        "chance_rate_by_radius": curves.chance,
        "curve_sample_frames": curves.sample_frames,
        "curve_exact_up_to_radius": curves.exact_up_to,
        "majority_class": classes[int(label_counts.idxmax())],
        "majority_class_rate": round(float(label_counts.max() / len(role_windows)), 6),
    }
    for k in cfg.shared_frame_thresholds:
        record[f"windows_sharing_at_least_{k}_frames"] = round(float((shared >= k).mean()), 6)
    return record


@dataclass(frozen=True)
class Evidence:
    by_role: dict[str, dict[str, Any]]  # val / test -> the leakage.json record
    exact_duplicates: dict[str, Any]
    pairs: pd.DataFrame  # PAIR_COLUMNS: one row per evaluation frame with a near-duplicate in training
    videos: pd.DataFrame  # VIDEO_COLUMNS: one row per evaluation video

    @classmethod
    def none(cls) -> Evidence:
        """The evidence of a strategy that does not apply to the data: nothing, in the same files."""
        return cls({}, {}, pd.DataFrame(columns=PAIR_COLUMNS), pd.DataFrame(columns=VIDEO_COLUMNS))


def leakage_evidence(manifest: Manifest, index: pd.DataFrame, window_cfg: WindowConfig, cfg: LeakageConfig,
                     classes: tuple[str, ...]) -> Evidence:
    """Everything model-free for ``manifest``. Pairs and videos list each distinct evaluation set once
    (the frame split's test set is its validation set: listed as test)."""
    train = manifest.role("train")
    train_frames = np.unique(frame_rows(train, window_cfg))
    by_role, pairs, videos, rows_by_role = {}, [], [], {"train": train_frames}
    for role in ("val", "test"):
        role_windows = manifest.role(role)
        if role_windows.empty:
            continue
        if role == "test" and manifest.test_set == "val":  # the frame split scores its validation set: one search
            by_role[role] = dict(by_role["val"])
            rows_by_role[role] = rows_by_role.pop("val")
            pairs[-1], videos[-1] = pairs[-1].assign(role=role), videos[-1].assign(role=role)
            continue
        eval_frames = np.unique(frame_rows(role_windows, window_cfg))
        matches, curves = match_with_curves(eval_frames, train_frames, index, cfg)
        in_train = np.isin(eval_frames, train_frames)
        by_role[role] = _role_record(role_windows, train, matches, curves, in_train, index, window_cfg, cfg, classes)
        rows_by_role[role] = eval_frames
        pairs.append(leak_pairs(role, matches, index, cfg.hamming_radius))
        videos.append(leak_videos(role, matches, pairs[-1], index, cfg.hamming_radius))
    roles = frame_roles(len(index), rows_by_role)
    duplicates = exact_duplicates(duplicate_groups(index), roles, cfg.duplicate_examples)
    return Evidence(by_role, duplicates, _concat(pairs, PAIR_COLUMNS), _concat(videos, VIDEO_COLUMNS))


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
