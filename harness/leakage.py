"""Model-free leakage evidence: what an evaluation set shares with training before any model is fit.

Per split strategy and evaluation set:
- videos with windows on both sides;
- the share of evaluation windows that share at least k frames with some single training window;
- the cross-split near-duplicate rate: evaluation frames whose pHash lies within Hamming radius r of
  some training frame (deepchecks' SimilarImageLeakage idea), found by multi-index hashing rather
  than an all-pairs scan, so it runs on the 1.38 M frames of the real set;
- the majority-class rate of the evaluation set (the accuracy of always guessing its commonest class).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from harness.config import LeakageConfig, WindowConfig
from harness.data.phash import hamming
from harness.data.windows import frame_rows, shared_frames
from harness.splits import Manifest

_MAX_CANDIDATES = 4_000_000  # candidate pairs checked at once (memory bound: ~100 MB)


def _blocks(radius: int) -> list[tuple[int, int]]:
    """radius + 1 disjoint bit ranges covering 64 bits (pigeonhole: one block matches exactly)."""
    edges = np.linspace(0, 64, radius + 2).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def _block_values(hashes: np.ndarray, lo: int, hi: int) -> np.ndarray:
    width = hi - lo
    mask = np.uint64((1 << width) - 1) if width < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
    return (hashes >> np.uint64(lo)) & mask


def near_duplicate_mask(query: np.ndarray, reference: np.ndarray, radius: int) -> np.ndarray:
    """For each query hash, is some reference hash within ``radius`` bits? (uint64 arrays)"""
    query = np.asarray(query, np.uint64)
    reference = np.unique(np.asarray(reference, np.uint64))
    if len(query) == 0 or len(reference) == 0:
        return np.zeros(len(query), bool)
    unique_query, inverse = np.unique(query, return_inverse=True)
    found = np.isin(unique_query, reference)
    if radius > 0:
        for lo, hi in _blocks(radius):
            pending = np.flatnonzero(~found)
            if len(pending) == 0:
                break
            ref_keys = _block_values(reference, lo, hi)
            order = np.argsort(ref_keys, kind="stable")
            ref_sorted, ref_keys = reference[order], ref_keys[order]
            keys = _block_values(unique_query[pending], lo, hi)
            left = np.searchsorted(ref_keys, keys, "left")
            right = np.searchsorted(ref_keys, keys, "right")
            sizes = right - left
            # check candidates in chunks of bounded size
            ends = np.cumsum(sizes)
            chunk_start = 0
            while chunk_start < len(pending):
                base = ends[chunk_start - 1] if chunk_start else 0
                chunk_end = max(int(np.searchsorted(ends, base + _MAX_CANDIDATES, "right")), chunk_start + 1)
                sl = slice(chunk_start, chunk_end)
                n = sizes[sl]
                if n.sum():
                    owner = np.repeat(np.arange(chunk_start, chunk_end), n)
                    offsets = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
                    candidates = ref_sorted[left[owner] + offsets]
                    close = hamming(unique_query[pending[owner]], candidates) <= radius
                    found[pending[np.unique(owner[close])]] = True
                chunk_start = chunk_end
    return found[inverse]


def near_duplicate_mask_bruteforce(query: np.ndarray, reference: np.ndarray, radius: int) -> np.ndarray:
    """The all-pairs definition; for tests on small inputs."""
    query, reference = np.asarray(query, np.uint64), np.asarray(reference, np.uint64)
    if len(reference) == 0:
        return np.zeros(len(query), bool)
    return (hamming(query[:, None], reference[None, :]) <= radius).any(axis=1)


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


def evidence(
    manifest: Manifest,
    index: pd.DataFrame,
    window_cfg: WindowConfig,
    cfg: LeakageConfig,
    classes: tuple[str, ...],
) -> dict[str, dict[str, float | int | str]]:
    """Leakage evidence for each evaluation role (val, test) of ``manifest``."""
    train = manifest.role("train")
    train_videos = set(train["video_id"])
    train_frames = np.unique(frame_rows(train, window_cfg))
    hashes = index["phash"].to_numpy(np.uint64)
    out: dict[str, dict[str, float | int | str]] = {}
    for role in ("val", "test"):
        ev = manifest.role(role)
        if ev.empty:
            continue
        eval_frames = np.unique(frame_rows(ev, window_cfg))
        in_train = np.isin(eval_frames, train_frames)
        near = near_duplicate_mask(hashes[eval_frames], hashes[train_frames], cfg.hamming_radius)
        shared = max_shared_frames(ev, train, window_cfg)
        label_counts = ev["label"].value_counts()
        record: dict[str, float | int | str] = {
            "windows": int(len(ev)),
            "videos": int(ev["video_id"].nunique()),
            "videos_shared_with_train": int(len(set(ev["video_id"]) & train_videos)),
            "frames": int(len(eval_frames)),
            "frames_also_in_train_windows": round(float(in_train.mean()), 6),
            "near_duplicate_rate": round(float(near.mean()), 6),
            "near_duplicate_rate_unshared_frames": round(float(near[~in_train].mean()), 6) if (~in_train).any() else 0.0,
            "majority_class": classes[int(label_counts.idxmax())],
            "majority_class_rate": round(float(label_counts.max() / len(ev)), 6),
        }
        for k in cfg.shared_frame_thresholds:
            record[f"windows_sharing_at_least_{k}_frames"] = round(float((shared >= k).mean()), 6)
        out[role] = record
    return out
