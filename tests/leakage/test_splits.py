"""Split strategies: the write-up's random_split reproduced, video-disjoint splits, the guard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import section

from harness.config import SplitsConfig
from harness.data.windows import build_windows
from harness.leakage.splits import LeakageGuardError, Manifest, assert_video_disjoint, make_manifest, manifest_hash


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
    videos = manifest.windows.groupby("video_id").agg(label=("label", "first"), split=("split", "first"))
    for label, group in videos.groupby("label"):
        n = len(group)
        held = group["split"].value_counts()
        # every class with a video to spare for each set sits in each set, in its configured share
        expected_test = max(1, round(cfg.video.test_fraction * n)) if n > 2 else round(cfg.video.test_fraction * n)
        assert held.get("test", 0) == expected_test, (label, n, held.to_dict())
        if n > 2:
            assert set(held.index) == {"train", "val", "test"}, (label, held.to_dict())


def test_hold_out_videos_counts_per_class():
    from harness.leakage.splits import hold_out_videos

    sizes = {0: 40, 1: 4, 2: 3, 3: 2, 4: 1}
    rows = [(f"c{label}v{i}", label) for label, n in sizes.items() for i in range(n) for _ in range(3)]
    windows = pd.DataFrame(rows, columns=["video_id", "label"])
    roles = pd.Series(hold_out_videos(windows, {"test": 0.2, "val": 0.1}, seed=0), index=windows.index)
    per_video = windows.assign(role=roles).groupby("video_id").agg(label=("label", "first"), role=("role", "first"))
    assert windows.assign(role=roles).groupby("video_id")["role"].nunique().max() == 1  # whole videos only
    counts = per_video.groupby(["label", "role"]).size().unstack(fill_value=0)
    assert counts.loc[0].to_dict() == {"test": 8, "train": 28, "val": 4}  # round(share x 40)
    assert counts.loc[1].to_dict() == {"test": 1, "train": 2, "val": 1}  # at least one each
    assert counts.loc[2].to_dict() == {"test": 1, "train": 1, "val": 1}
    assert counts.loc[3].to_dict() == {"test": 0, "train": 2, "val": 0}  # too few to spare one for each
    assert counts.loc[4].to_dict() == {"test": 0, "train": 1, "val": 0}
    again = hold_out_videos(windows, {"test": 0.2, "val": 0.1}, seed=0)
    other = hold_out_videos(windows, {"test": 0.2, "val": 0.1}, seed=1)
    assert np.array_equal(again, roles.to_numpy()) and not np.array_equal(other, roles.to_numpy())
    # large shares still leave every class a training video
    greedy = pd.Series(hold_out_videos(windows, {"test": 0.5, "val": 0.45}, seed=0))
    assert set(windows.loc[greedy == "train", "label"]) == set(sizes)


def test_hold_out_videos_needs_enough_videos():
    from harness.leakage.splits import NotApplicable, hold_out_videos

    windows = pd.DataFrame({"video_id": ["a", "a", "b"], "label": [0, 0, 1]})
    with pytest.raises(NotApplicable, match="only 2 videos to split into train and test and val by video"):
        hold_out_videos(windows, {"test": 0.2, "val": 0.1}, seed=0)


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


def test_content_hash_covers_the_windows_and_their_frames(smoke_dataset, windows, cfg):
    index = smoke_dataset["index"]
    manifest = make_manifest("video", windows, cfg)
    reference = manifest_hash(manifest.windows, index)
    assert len(reference) == 64
    assert manifest_hash(manifest.windows.sample(frac=1, random_state=0), index) == reference  # row order
    first = manifest.windows.index[0]
    moved = manifest.windows.copy()
    moved.loc[first, "split"] = "val" if moved.loc[first, "split"] != "val" else "train"
    shifted = manifest.windows.copy()
    shifted.loc[first, "start"] += 4
    relabelled = manifest.windows.copy()
    relabelled.loc[first, "label"] += 1
    for changed in (moved, shifted, relabelled):
        assert manifest_hash(changed, index) != reference
    # the same windows over frames of other content (regenerated data, another synthetic setting)
    retouched = index.copy()
    retouched.loc[retouched.index[7], "crc32"] ^= 1
    assert manifest_hash(manifest.windows, retouched) != reference
    renamed = index.copy()
    renamed.loc[renamed.index[7], "path"] += ".moved"
    assert manifest_hash(manifest.windows, renamed) != reference


def test_splits_are_deterministic(smoke_dataset, windows, cfg):
    index = smoke_dataset["index"]
    for strategy in ("frame", "video", "official"):
        first, second = make_manifest(strategy, windows, cfg), make_manifest(strategy, windows, cfg)
        assert manifest_hash(first.windows, index) == manifest_hash(second.windows, index)


def test_video_split_seed_changes_the_split(windows, cfg):
    import dataclasses

    other = dataclasses.replace(cfg, video=dataclasses.replace(cfg.video, seed=cfg.video.seed + 5))
    a = make_manifest("video", windows, cfg).windows
    b = make_manifest("video", windows, other).windows
    assert not np.array_equal(a["split"].to_numpy(), b["split"].to_numpy())


# --------------------------------------------------------------------------- the time-gap split
GAP_VIDEOS = {"a_short": 40, "a_mid": 80, "a_long": 200, "b_mid": 96, "b_long": 400, "b_tiny": 20}


@pytest.fixture(scope="module")
def gap_windows(smoke_dataset):
    """Train videos of several lengths (PNGs) in two classes: too short for a window, for a gap, long."""
    from helpers import frame_table

    index = pd.concat([frame_table({v: n for v, n in GAP_VIDEOS.items() if v.startswith(c)}, label=label)
                       for label, c in enumerate("ab")], ignore_index=True)
    return build_windows(index, smoke_dataset["windows"])


def with_gap(cfg: SplitsConfig, **changes) -> SplitsConfig:
    import dataclasses

    return dataclasses.replace(cfg, gap=dataclasses.replace(cfg.gap, **changes))


@pytest.mark.parametrize("gap", [0, 1, 4, 13, 36, 100])
def test_gap_split_leaves_at_least_the_gap_between_training_and_evaluation(gap, gap_windows, cfg, smoke_dataset):
    from harness.data.windows import shared_frames

    window_cfg = smoke_dataset["windows"]
    manifest = make_manifest("gap", gap_windows, with_gap(cfg, frames=gap), window_cfg)
    assert manifest.test_set == "val" and set(manifest.windows["split"]) == {"train", "val"}
    evaluated = 0
    for video, rows in manifest.windows.groupby("video_id"):
        train, evaluation = rows[rows["split"] == "train"], rows[rows["split"] == "val"]
        assert len(train), video  # every video trains; some also evaluate
        if evaluation.empty:
            continue
        evaluated += 1
        # every training window comes before every evaluation window, and the PNGs between them number >= gap
        measured = evaluation["start"].min() - (train["start"].max() + window_cfg.span - 1) - 1
        assert measured >= gap, (video, measured)
        assert shared_frames(train["start"].to_numpy()[:, None], evaluation["start"].to_numpy()[None, :],
                             window_cfg).max() == 0
        # frames as sets (inputs and the regression target): none on both sides
        frames = lambda part: {s + i for s in part["start"] for i in range(window_cfg.span)}  # noqa: E731
        assert not frames(train) & frames(evaluation)
        # the evaluation part is the video's last windows, whatever the gap
        all_starts = np.sort(gap_windows.loc[gap_windows["video_id"] == video, "start"].to_numpy())
        np.testing.assert_array_equal(np.sort(evaluation["start"].to_numpy()), all_starts[-len(evaluation):])
    assert manifest.details["videos_evaluated"] == evaluated
    assert manifest.details["gap_frames"] == gap


def test_gap_split_evaluates_the_same_windows_at_every_gap_and_only_trains_short_videos(gap_windows, cfg,
                                                                                       smoke_dataset):
    window_cfg = smoke_dataset["windows"]
    small = make_manifest("gap", gap_windows, with_gap(cfg, frames=0), window_cfg)
    large = make_manifest("gap", gap_windows, with_gap(cfg, frames=100), window_cfg)
    small_eval, large_eval = small.role("test"), large.role("test")
    assert set(large_eval["video_id"]) < set(small_eval["video_id"])  # long videos only at the larger gap
    assert set(large_eval["window_id"]) <= set(small_eval["window_id"])
    assert len(large.role("train")) < len(small.role("train"))  # the training part shrinks
    # a video with room for a window but not for a window, the gap and another: training only, all its windows
    short = gap_windows[gap_windows["video_id"] == "a_short"]
    assert set(small.windows.loc[small.windows["video_id"] == "a_short", "split"]) == {"train"}
    assert len(small.windows[small.windows["video_id"] == "a_short"]) == len(short)
    assert "b_tiny" not in set(small.windows["video_id"])  # shorter than one window: no window at all
    n_train_videos = gap_windows["video_id"].nunique()
    assert small.details["videos_evaluated"] + small.details["videos_train_only"] == n_train_videos
    assert small.details["windows_dropped_in_gap"] == len(gap_windows) - len(small.windows)


def test_gap_guard_refuses_windows_across_the_gap(gap_windows, cfg, smoke_dataset):
    from harness.leakage.splits import assert_gap_respected

    window_cfg = smoke_dataset["windows"]
    manifest = make_manifest("gap", gap_windows, with_gap(cfg, frames=8), window_cfg)
    assert_gap_respected(manifest, window_cfg, 8)
    # the last training window kept is the latest one that clears the gap: less than one window step beyond it
    with pytest.raises(LeakageGuardError, match=f"closer than the gap of {8 + window_cfg.window_step}"):
        assert_gap_respected(manifest, window_cfg, 8 + window_cfg.window_step)
    broken = manifest.windows.copy()
    evaluation = broken.index[broken["split"] == "val"]
    broken.loc[evaluation[0], "split"] = "train"  # an evaluation window moved into training: shares frames
    with pytest.raises(LeakageGuardError, match="refusing to write the gap manifest"):
        assert_gap_respected(Manifest("gap", broken, "val"), window_cfg, 0)


def test_gap_split_needs_the_window_config_and_an_evaluation_window(windows, cfg, smoke_dataset):
    from harness.errors import HarnessError
    from harness.leakage.splits import NotApplicable

    with pytest.raises(HarnessError, match="needs the windows section"):
        make_manifest("gap", windows, cfg)
    # the smoke set's videos (at most 72 PNGs) are too short for a window, a gap and a window: the strategy does
    # not apply (the split stage writes it as such, every other stage skips it)
    with pytest.raises(NotApplicable, match="splits.gap.frames"):
        make_manifest("gap", windows, with_gap(cfg, frames=36), smoke_dataset["windows"])


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("frames", -1, "must not be negative"),
    ("frames", 2.5, "whole number"),
    ("train_fraction", 1.0, "strictly between 0 and 1"),
    ("train_fraction", 0, "strictly between 0 and 1"),
    ("curve", [0, 8, 8], "distinct"),
    ("curve", [], "distinct"),
    ("curve", [0, -4], "must not be negative"),
])
def test_bad_gap_settings_fail_naming_the_key(smoke_params, key, value, problem):
    import copy

    from harness.config import parse_section
    from harness.errors import ConfigError

    raw = copy.deepcopy(smoke_params["splits"])
    raw["gap"][key] = value
    with pytest.raises(ConfigError, match=rf"splits\.gap\.{key} = .*{problem}"):
        parse_section(SplitsConfig, raw, "splits")
