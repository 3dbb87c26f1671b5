"""The overlap the write-up's split implies (harness.judge.overlap), against a brute-force run of its procedure:
real windows (harness.data.windows) over made-up videos, torch's random_split 80/20, and a count of the
validation windows that share frames with a training window."""

import itertools

import numpy as np
import pandas as pd
import pytest
import torch

from harness.config import WindowConfig
from harness.data.windows import build_windows, shared_frames, windows_per_video
from harness.errors import HarnessError
from harness.judge.overlap import class_mean_lengths, expected_shared_share, reach, worst_case, writeup_overlap
from harness.judge.verdicts import REGISTRY

CFG = WindowConfig(sequence_length=16, frame_stride=2, future_steps=4, window_step=4)  # the write-up's windows
WRITEUP = CFG


def made_up_index(lengths: list[int]) -> pd.DataFrame:
    rows = [{"video_id": f"v{v}", "official_split": "train", "class_name": "c", "label": 0, "frame_index": i}
            for v, n in enumerate(lengths) for i in range(n)]
    return pd.DataFrame(rows)


def simulated_share(lengths: list[int], at_least: int, trials: int) -> tuple[float, float, int, int]:
    """Mean share (and its standard error) of validation windows sharing >= at_least frames with a training
    window, over ``trials`` random_split(windows, [0.8, 0.2]) draws; also the train and validation sizes."""
    windows = build_windows(made_up_index(lengths), CFG)
    video = windows["video_id"].to_numpy()
    start = windows["start"].to_numpy()
    same_video = video[:, None] == video[None, :]
    shares = np.where(same_video, shared_frames(start[:, None], start[None, :], CFG), 0)
    np.fill_diagonal(shares, 0)
    close = shares >= at_least
    results = []
    for seed in range(trials):
        train, val = torch.utils.data.random_split(range(len(windows)), [0.8, 0.2],
                                                   generator=torch.Generator().manual_seed(seed))
        train_idx, val_idx = np.array(list(train)), np.array(list(val))
        results.append(close[np.ix_(val_idx, train_idx)].any(axis=1).mean())
    return float(np.mean(results)), float(np.std(results) / np.sqrt(trials)), len(train_idx), len(val_idx)


@pytest.mark.parametrize("at_least", [1, 8, 14, 16])
def test_the_expected_share_matches_a_simulation_of_the_writeups_procedure(at_least):
    lengths = [36, 39, 44, 52, 70, 100, 37, 61]  # 1, 2, 3, 5, 9, 17, 1, 7 windows
    simulated, error, train, val = simulated_share(lengths, at_least, trials=3000)
    per_video = windows_per_video(np.array(lengths), CFG).tolist()
    assert sum(per_video) == train + val
    expected = expected_shared_share(per_video, train, val, WRITEUP, at_least)
    assert abs(simulated - expected) <= 4 * error + 1e-9, (simulated, expected, error)
    if at_least == 16:  # no two distinct windows share all 16 frames
        assert expected == 0


def test_the_reach_of_a_window_follows_the_pipelines_window_arithmetic():
    for n in (35, 36, 39, 40, 100, 1185):
        assert windows_per_video(np.array([n]), CFG)[0] == len(build_windows(made_up_index([n]), CFG))
    assert (reach(CFG, 1), reach(CFG, 14), reach(CFG, 15)) == (7, 1, 0)
    with pytest.raises(HarnessError, match="at_least"):
        reach(CFG, 17)


@pytest.mark.parametrize(("total", "videos", "at_least"), [(9, 3, 1), (10, 4, 14), (12, 3, 8), (11, 5, 1)])
def test_the_worst_case_is_the_least_share_over_every_composition(total, videos, at_least):
    train, val = total - total // 5, total // 5
    least = min(expected_shared_share([b - a for a, b in zip((0, *cut), (*cut, total), strict=True)],
                                      train, val, WRITEUP, at_least)
                for cut in itertools.combinations(range(1, total), videos - 1))
    assert worst_case(total, videos, train, val, WRITEUP, at_least) == pytest.approx(least, abs=1e-12)


def test_class_mean_lengths_deal_out_every_image():
    lengths = class_mean_lengths({"a": (10, 3), "b": (7, 7)})
    assert sorted(lengths) == [1] * 7 + [3, 3, 4] and sum(lengths) == 17
    with pytest.raises(HarnessError, match="videos >= 1"):
        class_mean_lengths({"a": (10, 0)})


def test_the_registrys_overlap_section_gives_the_writeups_shares():
    """The committed registry: nearly every validation window shares a frame with training, and about 96%
    share 14 of their 16; even the least any video lengths allow stays above 99% and 95%."""
    import yaml

    result = writeup_overlap(yaml.safe_load(REGISTRY.read_text())["overlap"])
    assert result["windows_total"] == 303_173 and result["videos"] == 1_610
    assert abs(result["windows_modelled"] - 303_173) / 303_173 < 0.001  # class means land near the printed count
    one, fourteen = result["shares"][1], result["shares"][14]
    assert one["expected"] > 0.9999 and one["worst_case"] > 0.99
    assert 0.955 < fourteen["expected"] < 0.961 and fourteen["worst_case"] > 0.95
    assert fourteen["neighbours"] == 2 and one["neighbours"] == 14
    with pytest.raises(HarnessError, match="overlap"):
        writeup_overlap({"train_windows": 1})
