"""Sliding windows over each video's PNGs, exactly as the write-up's code builds them.

With sequence_length L, frame_stride s, future_steps f and window_step w, a window starting at PNG
``start`` (0-based position within its video) uses PNGs ``start + s*i`` for i in 0..L-1, and its
regression target is PNG ``start + L*s + f - 1``. A video needs ``span = L*s + f`` PNGs for one window;
starts advance by w. The write-up: L=16, s=2, f=4, w=16//4=4, span=36; neighbours share 14 frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.config import WindowConfig

WINDOW_COLUMNS = [
    "window_id",  # row number in this table, stable for a given index and window config
    "video_id",
    "official_split",
    "class_name",
    "label",
    "start",  # position of the first frame within the video
    "first_row",  # index row of the first frame; frame i is at first_row + frame_stride * i
]


def windows_per_video(n_frames: np.ndarray, cfg: WindowConfig) -> np.ndarray:
    """How many windows a video of ``n_frames`` PNGs yields."""
    n = np.asarray(n_frames)
    return np.where(n >= cfg.span, (n - cfg.span) // cfg.window_step + 1, 0)


def build_windows(index: pd.DataFrame, cfg: WindowConfig) -> pd.DataFrame:
    """All windows of the index, ordered by (official split, class label, video id, start).

    ``index`` must be ordered by video with ``frame_index`` counting from 0, as ``index_frames`` writes it.
    """
    videos = (
        index.reset_index(drop=True)
        .reset_index(names="row")
        .groupby("video_id", sort=False)
        .agg(
            official_split=("official_split", "first"),
            class_name=("class_name", "first"),
            label=("label", "first"),
            first_row=("row", "first"),
            n_frames=("row", "size"),
        )
        .reset_index()
    )
    counts = windows_per_video(videos["n_frames"].to_numpy(), cfg)
    windows = videos.loc[videos.index.repeat(counts)].reset_index(drop=True)
    windows["start"] = windows.groupby("video_id", sort=False).cumcount().to_numpy() * cfg.window_step
    windows["first_row"] = windows["first_row"] + windows["start"]
    windows = windows.sort_values(["official_split", "label", "video_id", "start"], kind="stable", ignore_index=True)
    windows["window_id"] = np.arange(len(windows), dtype=np.int64)
    windows["start"] = windows["start"].astype(np.int32)
    windows["first_row"] = windows["first_row"].astype(np.int64)
    return windows[WINDOW_COLUMNS]


def frame_rows(windows: pd.DataFrame, cfg: WindowConfig) -> np.ndarray:
    """(n_windows, sequence_length) index rows of each window's input frames."""
    offsets = np.arange(cfg.sequence_length, dtype=np.int64) * cfg.frame_stride
    return windows["first_row"].to_numpy(np.int64)[:, None] + offsets[None, :]


def target_rows(windows: pd.DataFrame, cfg: WindowConfig) -> np.ndarray:
    """Index row of each window's future-frame regression target."""
    return windows["first_row"].to_numpy(np.int64) + cfg.span - 1


def shared_frames(start_a: np.ndarray, start_b: np.ndarray, cfg: WindowConfig) -> np.ndarray:
    """Frames two windows of one video have in common (broadcasting over starts)."""
    gap = np.abs(np.asarray(start_a, np.int64) - np.asarray(start_b, np.int64))
    steps, rest = np.divmod(gap, cfg.frame_stride)
    return np.where(rest == 0, np.maximum(cfg.sequence_length - steps, 0), 0)
