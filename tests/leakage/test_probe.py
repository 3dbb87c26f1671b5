"""The memorisation probe's parts against brute force and hand-worked cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.config import EvaluateConfig, ProbeConfig
from harness.leakage.nearest import WindowSearch
from harness.leakage.probe import permutation_scores, probe

CLASSES = ("A", "B", "C")


def manifest_rows(videos: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """Windows of ``videos`` (id -> (label, windows)), window ids counting up."""
    rows = [(video, label) for video, (label, n) in videos.items() for _ in range(n)]
    frame = pd.DataFrame(rows, columns=["video_id", "label"])
    frame.insert(0, "window_id", np.arange(len(frame)))
    return frame


def test_a_look_up_of_the_same_videos_is_significant_and_a_label_free_one_is_not():
    # six training videos, two per class; evaluation windows are copies of training windows (the frame split)
    train = manifest_rows({f"v{i}": (i % 3, 5) for i in range(6)})
    features = np.eye(len(train))  # every window distinct
    evaluation = train.iloc[::2].copy()  # near-copies: the nearest training window is the window itself
    cfg, evaluate = ProbeConfig(thumbnail_size=8, permutations=199, seed=0), EvaluateConfig(
        bootstrap_resamples=200, confidence=0.95, seed=0)
    predictions, scores = probe(WindowSearch(features), train, evaluation, CLASSES, cfg, evaluate)
    assert (predictions["predicted"] == predictions["label"]).all()
    assert scores["window"]["accuracy"] == 1.0 and scores["window"]["neighbour_in_same_video"] == 1.0
    # 6 videos, labels (0,1,2,0,1,2): a permutation scores 1.0 only when each video keeps its class
    # (2!^3 = 8 of 720 assignments), so p is about (1 + 199 * 8/720) / 200
    assert scores["permutation"]["accuracy_p_value"] < 0.05
    assert 0.2 < scores["permutation"]["accuracy_chance_mean"] < 0.5


def test_permuted_scores_use_one_label_per_video_and_keep_the_class_counts():
    videos = np.repeat(["a", "b", "c", "d"], 3)
    labels = np.repeat([0, 0, 1, 1], 3)
    neighbour = np.arange(12)  # each evaluation window's neighbour is the training window of the same position
    scores = permutation_scores(videos, labels, neighbour, labels, permutations=400, seed=1)
    # two classes of two videos each: a permutation gets every window right when both class-0 labels stay on
    # videos a and b (2! x 2! = 4 of the 4! = 24 permutations), half of them or none otherwise
    assert set(np.round(scores["accuracy"], 6)) <= {0.0, 0.5, 1.0}
    assert abs(np.mean(scores["accuracy"] == 1.0) - 4 / 24) < 0.06


def test_permuted_scores_are_scikit_learns_on_each_permutation():
    """The permutation test counts each permutation's confusion matrix (bincount) instead of calling
    scikit-learn 500 times: the same scores, permutation by permutation (classes absent from both sides
    included, as sklearn's macro average leaves them out)."""
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(3)
    videos = np.repeat([f"v{i}" for i in range(40)], 5)
    labels = np.repeat(rng.integers(0, 6, 40), 5)  # classes 0-5 of a possible 14
    neighbour = rng.integers(0, len(videos), 300)
    eval_labels = rng.integers(0, 5, 300)
    scores = permutation_scores(videos, labels, neighbour, eval_labels, permutations=50, seed=7)
    codes = pd.factorize(videos)[0]
    video_label = pd.Series(labels).groupby(codes).first().to_numpy()
    reference = np.random.default_rng(7)
    for i in range(50):
        predicted = reference.permutation(video_label)[codes[neighbour]]
        assert scores["accuracy"][i] == pytest.approx(accuracy_score(eval_labels, predicted), abs=1e-12)
        assert scores["macro_f1"][i] == pytest.approx(f1_score(eval_labels, predicted, average="macro",
                                                               zero_division=0), abs=1e-12)


# --------------------------------------------------------------------------- the gap curve
def gap_setup(smoke_params):
    """Train windows of videos of several lengths (two classes) and the default splits section."""
    from helpers import frame_table, section

    from harness.config import SplitsConfig, WindowConfig
    from harness.data.windows import build_windows

    videos = {0: {"a1": 80, "a2": 120, "a3": 300}, 1: {"b1": 96, "b2": 200, "b3": 40}}
    index = pd.concat([frame_table(v, label=label) for label, v in videos.items()], ignore_index=True)
    window_cfg = section(smoke_params, "windows", WindowConfig)
    return build_windows(index, window_cfg), section(smoke_params, "splits", SplitsConfig), window_cfg


def test_gap_curve_scores_the_gap_manifest_of_every_gap(smoke_params):
    import dataclasses

    from harness.leakage.probe import gap_curve
    from harness.leakage.splits import gap_split

    windows, splits, window_cfg = gap_setup(smoke_params)
    splits = dataclasses.replace(splits, gap=dataclasses.replace(splits.gap, curve=(36, 0, 8, 1000)))
    # a per-video look and nothing else (one-hot video): the look-up finds the video at any gap
    codes, _ = pd.factorize(windows["video_id"])
    features = np.eye(codes.max() + 1)[codes] + 1e-3 * windows["start"].to_numpy()[:, None]
    evaluate = EvaluateConfig(bootstrap_resamples=50, confidence=0.95, seed=0)
    curve = gap_curve(WindowSearch(features), windows, splits, window_cfg, len(CLASSES), evaluate)
    assert [row["gap"] for row in curve] == [0, 8, 36, 1000]
    for row in curve:
        manifest = gap_split(windows, dataclasses.replace(splits, gap=dataclasses.replace(splits.gap, frames=row["gap"])),
                             window_cfg)
        evaluation = manifest.role("test")
        assert (row["windows"], row["videos"]) == (len(evaluation), evaluation["video_id"].nunique())
        if row["windows"]:
            assert row["accuracy"] == 1.0 and row["neighbour_in_same_video"] == 1.0
            assert row["accuracy_ci_low"] <= row["accuracy"] <= row["accuracy_ci_high"]
    assert curve[0]["videos"] > curve[2]["videos"] > 0  # longer gaps leave the longer videos
    assert curve[-1]["windows"] == 0 and "accuracy" not in curve[-1]  # no video is long enough


@pytest.fixture(scope="module")
def default_gap_curve(tmp_path_factory):
    """The probe's frame and video scores and its gap curve on the default params' synthetic dataset."""
    from helpers import compose, section, synthetic_dataset

    from harness.config import SplitsConfig
    from harness.data.windows import build_windows
    from harness.leakage.nearest import WindowSearch
    from harness.leakage.probe import frame_thumbnails, gap_curve, window_features
    from harness.leakage.splits import make_manifest

    d = synthetic_dataset(compose(), tmp_path_factory.mktemp("default_gap") / "frames")
    cfg, evaluate = section(d["params"], "probe", ProbeConfig), section(d["params"], "evaluate", EvaluateConfig)
    splits = section(d["params"], "splits", SplitsConfig)
    windows = build_windows(d["index"], d["windows"])
    search = WindowSearch(window_features(frame_thumbnails(d["index"]["path"].to_numpy(), d["data"].image_size,
                                                           cfg.thumbnail_size), windows, d["windows"]))
    ends = {}
    for strategy in ("frame", "video"):
        manifest = make_manifest(strategy, windows, splits)
        ends[strategy] = probe(search, manifest.role("train"), manifest.role("test"), d["data"].classes, cfg,
                               evaluate)[1]["window"]
    return ends, gap_curve(search, windows, splits, d["windows"], len(d["data"].classes), evaluate)


@pytest.mark.slow
def test_the_default_gap_curve_lies_between_the_video_and_frame_ends(default_gap_curve):
    """Every gap evaluates windows that share no frame with training; on the default data the look-up still finds
    the evaluation window's own video across the gap (the synthetic look is per video), far above the video end."""
    ends, curve = default_gap_curve
    scored = [row for row in curve if row["windows"]]
    assert len(scored) == len(curve) and curve[0]["gap"] == 0
    for row in scored:
        assert ends["video"]["accuracy"] + 0.3 < row["accuracy"] <= ends["frame"]["accuracy"] + 1e-9, row
    assert curve[0]["videos"] >= curve[-1]["videos"] > 0


@pytest.mark.slow
def test_on_the_default_data_the_gap_curve_stays_at_the_frame_score(default_gap_curve):
    """Issue 16 expected the curve to fall from the frame score towards the video score as the gap grows. On the
    default synthetic data it does not (measured: 0.993 at gap 0, 1.000 at gaps 16-144; frame 1.000, video 0.114):
    a video's look is constant over its length, so the nearest training window lies in the evaluation window's
    own video at every gap, and a split inside videos leaks the scene even with no frame shared. This asserts that
    finding (the report draws it), so a change of data under which the curve falls shows here."""
    ends, curve = default_gap_curve
    scored = [row for row in curve if row["windows"]]
    assert all(row["accuracy_ci_low"] > ends["video"]["accuracy_ci_high"] for row in scored)
    assert all(row["neighbour_in_same_video"] > 0.95 for row in scored)
    assert scored[-1]["accuracy"] >= scored[0]["accuracy"] - 0.05  # no fall with the gap
