"""Split strategies: the write-up's random_split reproduced, video-disjoint splits, the guard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import section

from harness.config import SplitsConfig
from harness.data.windows import build_windows
from harness.splits import LeakageGuardError, Manifest, assert_video_disjoint, make_manifest, manifest_hash


@pytest.fixture(scope="module")
def windows(smoke_dataset):
    return build_windows(smoke_dataset["index"], smoke_dataset["windows"])


@pytest.fixture(scope="module")
def cfg(smoke_dataset):
    return section(smoke_dataset["params"], "splits", SplitsConfig)


def test_frame_split_is_torch_random_split_with_seed_42(windows, cfg):
    manifest = make_manifest("frame", windows, cfg)
    train_windows = windows[windows["official_split"] == "train"].reset_index(drop=True)
    n = len(train_windows)
    expected_train, _ = torch.utils.data.random_split(
        range(n), [int(0.8 * n), n - int(0.8 * n)], generator=torch.Generator().manual_seed(42))
    got = manifest.windows.set_index("window_id")["split"]
    assert set(got[got == "train"].index) == set(train_windows.loc[list(expected_train.indices), "window_id"])
    assert (got == "train").sum() == int(0.8 * n)
    assert manifest.test_set == "val"
    pd.testing.assert_frame_equal(manifest.role("test"), manifest.role("val"))
    assert "test" not in set(got)
    # the write-up's split puts windows of the same videos on both sides
    assert manifest.windows.groupby("video_id")["split"].nunique().max() == 2


@pytest.mark.parametrize("strategy", ["video", "official"])
def test_video_level_strategies_share_no_video(windows, cfg, strategy):
    manifest = make_manifest(strategy, windows, cfg)
    assert manifest.windows.groupby("video_id")["split"].nunique().max() == 1
    assert set(manifest.windows["split"]) == {"train", "val", "test"}
    assert manifest.test_set == "test"


def test_video_split_draws_from_train_and_is_stratified(windows, cfg):
    manifest = make_manifest("video", windows, cfg)
    train_ids = set(windows.loc[windows["official_split"] == "train", "window_id"])
    assert set(manifest.windows["window_id"]) == train_ids
    # stratified: the normal class's share of test windows stays near its share overall
    normal = manifest.windows["label"] == manifest.windows["label"].mode()[0]
    overall, in_test = normal.mean(), normal[manifest.windows["split"] == "test"].mean()
    assert abs(overall - in_test) < 0.2


def test_official_test_is_the_test_folder(windows, cfg):
    manifest = make_manifest("official", windows, cfg)
    test_ids = set(manifest.role("test")["window_id"])
    assert test_ids == set(windows.loc[windows["official_split"] == "test", "window_id"])


def test_guard_refuses_a_video_on_two_sides(windows, cfg):
    manifest = make_manifest("video", windows, cfg)
    broken = manifest.windows.copy()
    video = broken.loc[broken["split"] == "train", "video_id"].iloc[0]
    first = broken.index[broken["video_id"] == video][0]
    broken.loc[first, "split"] = "test"
    with pytest.raises(LeakageGuardError, match="refusing to write the video manifest: 1 videos sit on more than one side"):
        assert_video_disjoint(Manifest("video", broken, "test"))


def test_content_hash_tracks_the_assignment_not_row_order(windows, cfg):
    manifest = make_manifest("video", windows, cfg)
    shuffled = manifest.windows.sample(frac=1, random_state=0)
    assert manifest_hash(shuffled) == manifest.content_hash
    moved = manifest.windows.copy()
    moved.loc[moved.index[0], "split"] = "val" if moved.loc[moved.index[0], "split"] != "val" else "train"
    assert manifest_hash(moved) != manifest.content_hash
    assert len(manifest.content_hash) == 64


def test_splits_are_deterministic(windows, cfg):
    for strategy in ("frame", "video", "official"):
        assert make_manifest(strategy, windows, cfg).content_hash == make_manifest(strategy, windows, cfg).content_hash


def test_video_split_seed_changes_the_split(windows, cfg):
    import dataclasses

    other = dataclasses.replace(cfg, video=dataclasses.replace(cfg.video, seed=cfg.video.seed + 5))
    a = make_manifest("video", windows, cfg).windows
    b = make_manifest("video", windows, other).windows
    assert not np.array_equal(a["split"].to_numpy(), b["split"].to_numpy())
