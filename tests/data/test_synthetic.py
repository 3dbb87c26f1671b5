"""The synthetic source: real PNGs in the Kaggle layout, deterministic, shaped like UCF-Crime."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
from helpers import compose, section

from harness.config import DataConfig, SyntheticConfig, WindowConfig
from harness.data.synthetic import generate, plan_videos
from harness.data.windows import windows_per_video


def digest(root):
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.png")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_layout_names_and_pixels(smoke_dataset):
    root, data = smoke_dataset["root"], smoke_dataset["data"]
    for split in ("Train", "Test"):
        assert sorted(p.name for p in (root / split).iterdir()) == sorted(data.classes)
    assert (root / "Train" / "Abuse" / "Abuse001_x264_0.png").is_file()
    assert (root / "Train" / "Abuse" / "Abuse001_x264_10.png").is_file()
    assert (root / "Train" / "NormalVideos" / "Normal_Videos001_x264_0.png").is_file()
    assert any(p.name.startswith("Normal_Videos_") for p in (root / "Test" / "NormalVideos").iterdir())
    image = cv2.imread(str(root / "Train" / "Abuse" / "Abuse001_x264_0.png"), cv2.IMREAD_UNCHANGED)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    index = smoke_dataset["index"]
    assert not set(index.loc[index.official_split == "train", "video_id"]) & set(
        index.loc[index.official_split == "test", "video_id"])


def test_same_seed_same_bytes_whatever_the_worker_count(tmp_path, smoke_params):
    data = section(smoke_params, "data", DataConfig)
    cfg = section(smoke_params, "synthetic", SyntheticConfig)
    import dataclasses

    cfg = dataclasses.replace(cfg, anomaly_train_videos=1, anomaly_test_videos=1, normal_train_videos=2,
                              normal_test_videos=1, short_videos=1)
    generate(cfg, tmp_path / "a", data.classes, data.normal_class, 64, workers=1)
    generate(cfg, tmp_path / "b", data.classes, data.normal_class, 64, workers=2)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    generate(dataclasses.replace(cfg, seed=1), tmp_path / "c", data.classes, data.normal_class, 64, workers=2)
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_default_imbalance_and_lengths_are_shaped_like_ucf_crime():
    params = compose()
    data = section(params, "data", DataConfig)
    cfg = section(params, "synthetic", SyntheticConfig)
    windows = section(params, "windows", WindowConfig)
    plans = plan_videos(cfg, data.classes, data.normal_class)
    train = [p for p in plans if p.official_split == "train"]
    normal_frames = sum(p.n_frames for p in train if p.class_name == data.normal_class)
    share = normal_frames / sum(p.n_frames for p in train)
    assert 0.65 <= share <= 0.85, share  # UCF-Crime Train: 947,768 / 1,266,345 = 74.8%
    lengths = np.array([p.n_frames for p in train])
    assert (windows_per_video(lengths, windows) == 0).sum() >= 1  # a few too short for one window
    assert len(set(lengths)) > len(lengths) // 3  # varied lengths
    assert {p.class_name for p in plans} == set(data.classes)


def test_scene_is_per_video_and_event_is_per_class(smoke_params):
    """The mechanism: frames of one video look alike; videos of one class share only the weak event."""
    from harness.data.phash import hamming, phash_batch
    from harness.data.synthetic import VideoPlan, draw_video

    cfg = section(smoke_params, "synthetic", SyntheticConfig)

    def hashes(number, config=cfg):
        plan = VideoPlan("train", "Abuse", 0, number, 80, (0, 0, 0, number))
        return phash_batch(np.stack(list(draw_video(plan, config, 64, 13))))

    a, b = hashes(1), hashes(2)
    consecutive = hamming(a[:-1], a[1:])  # neighbouring PNGs of one video: near-duplicates
    across = hamming(a, b)  # the same moments of two videos of the same class
    assert np.median(consecutive) <= 4 < 16 < across.mean()

    import dataclasses

    fresh = hashes(1, dataclasses.replace(cfg, scene_per_frame=True))
    assert hamming(fresh[:-1], fresh[1:]).mean() > 16  # no per-video signature left
