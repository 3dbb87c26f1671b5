"""Frame extraction from original videos, on tiny mp4 files written here with OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import compose

from harness.data.index import index_frames
from harness.data.videos import extract_frames
from harness.errors import HarnessError

CLASSES = tuple(compose()["data"]["classes"])


def write_mp4(path, n_frames: int, size=(96, 72), seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, size)
    assert writer.isOpened(), "OpenCV cannot write mp4 here"
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size[1], size[0], 3), np.uint8)
    for t in range(n_frames):
        writer.write(np.roll(base, t, axis=1))
    writer.release()


@pytest.fixture
def video_root(tmp_path):
    root = tmp_path / "videos"
    write_mp4(root / "Train" / "Abuse" / "Abuse001_x264.mp4", 45, seed=1)
    write_mp4(root / "Train" / "NormalVideos" / "Normal_Videos001_x264.mp4", 21, seed=2)
    write_mp4(root / "Test" / "NormalVideos" / "Normal_Videos_003_x264.mp4", 12, seed=3)
    (root / "Train" / "Abuse" / "Abuse002_x264.mp4").write_bytes(b"this is not a video")
    (root / "Train" / "Abuse" / "readme.txt").write_text("notes")
    return root


def test_every_tenth_frame_at_image_size(video_root, tmp_path):
    out = tmp_path / "frames"
    report = extract_frames(video_root, out, CLASSES, every=10, size=64, workers=2)
    names = sorted(p.name for p in (out / "Train" / "Abuse").glob("*.png"))
    assert names == sorted(f"Abuse001_x264_{n}.png" for n in (0, 10, 20, 30, 40))
    assert sorted(p.name for p in (out / "Test" / "NormalVideos").glob("*.png")) == [
        "Normal_Videos_003_x264_0.png", "Normal_Videos_003_x264_10.png"]
    image = cv2.imread(str(out / "Train" / "Abuse" / "Abuse001_x264_0.png"), cv2.IMREAD_UNCHANGED)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert report["frames_extracted"] == 5 + 3 + 2
    reasons = {s["path"].split("/")[-1]: s["reason"] for s in report["skipped"]}
    assert reasons == {"Abuse002_x264.mp4": "cannot be opened as a video", "readme.txt": "not a video file"} or \
        reasons == {"Abuse002_x264.mp4": "no frame could be decoded", "readme.txt": "not a video file"}


def test_extracted_frames_index_like_the_kaggle_set(video_root, tmp_path):
    out = tmp_path / "frames"
    extract_frames(video_root, out, CLASSES, every=10, size=64, workers=1)
    frames = index_frames(out, CLASSES, 64, workers=1).frames
    assert set(frames["video_id"]) == {"Abuse001_x264", "Normal_Videos001_x264", "Normal_Videos_003_x264"}
    assert frames.groupby("video_id")["frame_number"].max().to_dict()["Abuse001_x264"] == 40


def test_no_videos_is_one_clear_error(tmp_path):
    (tmp_path / "Train" / "Abuse").mkdir(parents=True)
    with pytest.raises(HarnessError, match="holds no video files"):
        extract_frames(tmp_path, tmp_path / "out", CLASSES, every=10, size=64)


def test_prepare_extracts_then_indexes(video_root, tmp_path):
    """data=ucf_crime_videos through the prepare step: frames written, indexed, bad videos reported."""
    from helpers import compose, section

    from harness.config import DataConfig, SyntheticConfig
    from harness.data.prepare import prepare

    params = compose("data=ucf_crime_videos", f"data.root={video_root}", "data.workers=1")
    out = tmp_path / "prepared" / "frames"
    result = prepare(section(params, "data", DataConfig), section(params, "synthetic", SyntheticConfig), out,
                     repo_root=tmp_path)
    assert result.report["source"] == "ucf_crime_videos"
    assert result.report["extraction"]["frames_extracted"] == 10
    assert len(result.frames) == 10 and result.frames["path"].str.startswith("prepared/frames/").all()
    skipped = {s["path"].split("/")[-1] for s in result.report["skipped"]}
    assert skipped == {"Abuse002_x264.mp4", "readme.txt"}
