"""Window arithmetic against hand-computed counts (reference.md section 1)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import frame_table

from harness.config import WindowConfig
from harness.data.windows import build_windows, frame_rows, shared_frames, target_rows, windows_per_video

WRITEUP = WindowConfig(sequence_length=16, frame_stride=2, future_steps=4, window_step=4)


@pytest.mark.parametrize(("n_frames", "expected"), [(0, 0), (35, 0), (36, 1), (39, 1), (40, 2), (44, 3), (100, 17), (1185, 288)])
def test_windows_per_video_hand_counts(n_frames, expected):
    # a window needs 16*2 + 4 = 36 PNGs; starts advance by 4: floor((n - 36) / 4) + 1
    assert windows_per_video(np.array([n_frames]), WRITEUP)[0] == expected


def test_window_frames_and_target():
    table = frame_table({"A_x264": 44})
    windows = build_windows(table, WRITEUP)
    assert list(windows["start"]) == [0, 4, 8]
    rows = frame_rows(windows, WRITEUP)
    assert list(rows[1]) == [4 + 2 * i for i in range(16)]
    assert list(target_rows(windows, WRITEUP)) == [35, 39, 43]  # start + 16*2 + 4 - 1


def test_neighbouring_windows_share_fourteen_frames():
    assert shared_frames(0, 4, WRITEUP) == 14
    assert shared_frames(0, 8, WRITEUP) == 12
    assert shared_frames(0, 30, WRITEUP) == 1
    assert shared_frames(0, 32, WRITEUP) == 0
    odd = WindowConfig(sequence_length=4, frame_stride=2, future_steps=0, window_step=1)
    assert shared_frames(0, 1, odd) == 0  # interleaved frames never coincide
    # brute force on sets
    for a in range(0, 40, 4):
        for b in range(0, 40, 4):
            set_a, set_b = {a + 2 * i for i in range(16)}, {b + 2 * i for i in range(16)}
            assert shared_frames(a, b, WRITEUP) == len(set_a & set_b)


def test_short_videos_give_no_window_and_rows_point_into_each_video():
    table = frame_table({"A_x264": 40, "B_x264": 20, "C_x264": 36})
    windows = build_windows(table, WRITEUP)
    assert windows.groupby("video_id").size().to_dict() == {"A_x264": 2, "C_x264": 1}
    rows = frame_rows(windows, WRITEUP)
    for (_, window), window_rows in zip(windows.iterrows(), rows, strict=True):
        assert set(table.loc[window_rows, "video_id"]) == {window["video_id"]}
        assert list(table.loc[window_rows, "frame_index"]) == [window["start"] + 2 * i for i in range(16)]


def test_every_number_comes_from_config():
    cfg = WindowConfig(sequence_length=4, frame_stride=3, future_steps=1, window_step=2)
    assert cfg.span == 13
    windows = build_windows(frame_table({"A_x264": 17}), cfg)
    assert list(windows["start"]) == [0, 2, 4]
    assert list(frame_rows(windows, cfg)[2]) == [4, 7, 10, 13]
    assert list(target_rows(windows, cfg)) == [12, 14, 16]


def test_the_training_dataset_reads_exactly_the_window_arithmetics_frames(tmp_path):
    """ClipDataset takes its rows from frame_rows / target_rows: the frames a window holds are those."""
    import cv2

    from harness.data.dataset import ClipDataset

    cfg = WindowConfig(sequence_length=4, frame_stride=2, future_steps=2, window_step=3)
    paths = []
    for i in range(20):  # frame i is a flat image of value i, so a clip's pixels name its rows
        path = tmp_path / f"v_{i}.png"
        cv2.imwrite(str(path), np.full((8, 8, 3), i, np.uint8))
        paths.append(str(path))
    index = frame_table({"v": 20})
    index["path"] = paths
    windows = build_windows(index, cfg)
    dataset = ClipDataset(np.array(paths), windows, cfg, 8, augment="none", with_future=True)
    for i in range(len(windows)):
        sample = dataset[i]
        seen = sample["clip"][:, 0, 0, 0].numpy()
        assert list(seen) == list(frame_rows(windows.iloc[[i]], cfg)[0])
        assert int(sample["future"][0, 0, 0]) == target_rows(windows.iloc[[i]], cfg)[0]
