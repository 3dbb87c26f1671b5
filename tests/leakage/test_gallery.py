"""The gallery of leaking pairs: which pairs it shows, and real PNGs a browser can decode."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from helpers import write_rgb_png

from harness.leakage.gallery import GALLERY_COLUMNS, select_pairs, write_gallery


def pair_rows(paths: dict[str, str]) -> pd.DataFrame:
    rows = [  # (eval video, eval frame, train video, train frame, distance)
        ("A", 0, "A", 0, 0), ("A", 1, "A", 2, 1), ("B", 0, "C", 5, 1), ("B", 1, "B", 0, 0), ("D", 3, "D", 1, 2),
        ("E", 0, "E", 0, 0),
    ]
    table = pd.DataFrame(rows, columns=["eval_video", "eval_frame", "train_video", "train_frame", "distance"])
    table["role"], table["eval_class"], table["train_class"] = "test", "Abuse", "Abuse"
    table["same_video"] = table["eval_video"] == table["train_video"]
    table["same_frame"] = table["same_video"] & (table["eval_frame"] == table["train_frame"])
    table["eval_path"] = [paths[f"{v}{f}"] for v, f in zip(table["eval_video"], table["eval_frame"], strict=True)]
    table["train_path"] = [paths[f"{v}{f}"] for v, f in zip(table["train_video"], table["train_frame"], strict=True)]
    return table


def frames(tmp_path) -> dict[str, str]:
    rng = np.random.default_rng(0)
    names = ["A0", "A1", "A2", "B0", "B1", "C5", "D3", "D1", "E0"]
    return {n: str(write_rgb_png(tmp_path / f"{n}.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))) for n in names}


def test_one_pair_per_evaluation_video_closest_first_other_videos_before_shared_frames(tmp_path):
    chosen = select_pairs(pair_rows(frames(tmp_path)), 10)
    assert list(chosen["eval_video"]) == ["B", "A", "E", "D"]
    # at distance 0 an identical frame of another identity would come first; B's closest is its own frame at 0
    assert chosen.iloc[0][["train_video", "distance", "same_frame"]].tolist() == ["B", 0, False]
    assert list(select_pairs(pair_rows(frames(tmp_path)), 2)["eval_video"]) == ["B", "A"]
    assert select_pairs(pair_rows(frames(tmp_path)).iloc[:0], 5).empty


def test_written_pairs_are_real_pngs_of_both_frames_side_by_side(tmp_path):
    paths = frames(tmp_path)
    table = write_gallery(pair_rows(paths), tmp_path / "gallery", n=3, image_size=64, size=32)
    assert list(table.columns) == GALLERY_COLUMNS and len(table) == 3
    assert sorted(p.name for p in (tmp_path / "gallery").glob("pair_*.png")) == list(table["file"])
    image = cv2.imread(str(tmp_path / "gallery" / table["file"][0]))
    assert image.shape == (32, 66, 3)
    left = cv2.resize(cv2.imread(paths["B1"]), (32, 32), interpolation=cv2.INTER_AREA)
    assert np.array_equal(image[:, :32], left)  # the evaluation frame on the left
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "gallery" / "gallery.csv"), table, check_dtype=False)
    # rewriting with fewer pairs leaves no stale image behind
    write_gallery(pair_rows(paths).iloc[:0], tmp_path / "gallery", n=3, image_size=64)
    assert not list((tmp_path / "gallery").glob("pair_*.png"))
    assert pd.read_csv(tmp_path / "gallery" / "gallery.csv").empty
