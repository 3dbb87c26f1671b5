"""Model-free leakage evidence: multi-index near-duplicate search and the per-strategy metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import random_hashes, section

from harness.config import LeakageConfig, SplitsConfig, WindowConfig
from harness.data.windows import build_windows
from harness.leakage import evidence, max_shared_frames, near_duplicate_mask, near_duplicate_mask_bruteforce
from harness.splits import make_manifest


def flip_bits(rng, hashes, k):
    out = hashes.copy()
    for i in range(len(out)):
        for bit in rng.choice(64, k, replace=False):
            out[i] ^= np.uint64(1) << np.uint64(int(bit))
    return out


@pytest.mark.parametrize("radius", [0, 1, 3, 4, 6, 10])
def test_multi_index_search_equals_all_pairs(radius):
    rng = np.random.default_rng(radius)
    reference = random_hashes(rng, 2000)
    queries = np.concatenate([flip_bits(rng, reference[rng.integers(0, 2000, 60)], k) for k in range(12)]
                             + [random_hashes(rng, 300)])
    np.testing.assert_array_equal(near_duplicate_mask(queries, reference, radius),
                                  near_duplicate_mask_bruteforce(queries, reference, radius))


def test_clustered_hashes_and_duplicates():
    rng = np.random.default_rng(1)
    # many hashes sharing their low bits: large buckets in the block index
    reference = (random_hashes(rng, 3000) & np.uint64(0xFFFFFFFF00000000)) | np.uint64(0x1234)
    queries = np.concatenate([flip_bits(rng, reference[:200], 3), flip_bits(rng, reference[:200], 7), reference[:50]])
    np.testing.assert_array_equal(near_duplicate_mask(queries, reference, 4),
                                  near_duplicate_mask_bruteforce(queries, reference, 4))
    assert near_duplicate_mask(np.array([], np.uint64), reference, 4).shape == (0,)
    assert not near_duplicate_mask(queries, np.array([], np.uint64), 4).any()


def test_max_shared_frames_by_hand():
    cfg = WindowConfig(sequence_length=16, frame_stride=2, future_steps=4, window_step=4)
    train = pd.DataFrame({"video_id": ["a", "a", "b"], "start": [0, 40, 0]})
    ev = pd.DataFrame({"video_id": ["a", "a", "b", "c"], "start": [4, 24, 100, 0]})
    # a@4 vs a@0 -> 14; a@24 vs a@40 -> 8 (beats a@0 -> 4); b@100 shares nothing; c has no train window
    assert list(max_shared_frames(ev, train, cfg)) == [14, 8, 0, 0]


@pytest.fixture(scope="module")
def manifests(smoke_dataset):
    windows = build_windows(smoke_dataset["index"], smoke_dataset["windows"])
    splits = section(smoke_dataset["params"], "splits", SplitsConfig)
    return {s: make_manifest(s, windows, splits) for s in ("frame", "video", "official")}


@pytest.fixture(scope="module")
def evidence_by_strategy(smoke_dataset, manifests):
    cfg = section(smoke_dataset["params"], "leakage", LeakageConfig)
    return {s: evidence(m, smoke_dataset["index"], smoke_dataset["windows"], cfg, smoke_dataset["data"].classes)
            for s, m in manifests.items()}


def test_frame_split_leaks_and_video_splits_do_not(evidence_by_strategy):
    frame, video, official = (evidence_by_strategy[s]["test"] for s in ("frame", "video", "official"))
    assert frame["windows_sharing_at_least_1_frames"] >= 0.9
    assert frame["windows_sharing_at_least_8_frames"] >= 0.8
    assert frame["videos_shared_with_train"] >= 0.8 * frame["videos"] > 0  # a one-window video can sit wholly in val
    assert video["videos_shared_with_train"] == official["videos_shared_with_train"] == 0
    assert video["windows_sharing_at_least_1_frames"] == official["windows_sharing_at_least_1_frames"] == 0
    assert frame["near_duplicate_rate"] > 0.8
    assert frame["near_duplicate_rate"] > 5 * max(video["near_duplicate_rate"], 0.01)
    # even frames no training window contains are near-duplicates of their video's other frames
    assert frame["near_duplicate_rate_unshared_frames"] > 5 * max(video["near_duplicate_rate"], 0.01)


def test_majority_class_rate_is_the_commonest_share(evidence_by_strategy, manifests, smoke_dataset):
    classes = smoke_dataset["data"].classes
    for strategy, manifest in manifests.items():
        for role, record in evidence_by_strategy[strategy].items():
            shares = manifest.role(role)["label"].value_counts(normalize=True)
            assert record["majority_class"] == classes[shares.idxmax()]
            assert record["majority_class_rate"] == pytest.approx(shares.max(), abs=1e-6)
            assert record["windows"] == len(manifest.role(role))


# --------------------------------------------------------------------------- the embedded default itself
@pytest.fixture(scope="module")
def default_dataset(tmp_path_factory):
    """The default params' synthetic dataset (what `make repro` prepares), generated and indexed here."""
    from conftest import compose, synthetic_dataset

    dataset = synthetic_dataset(compose(), tmp_path_factory.mktemp("default") / "frames")
    windows = build_windows(dataset["index"], dataset["windows"])
    splits = section(dataset["params"], "splits", SplitsConfig)
    return {**dataset, "manifests": {s: make_manifest(s, windows, splits) for s in ("frame", "video", "official")}}


@pytest.mark.slow
def test_default_dataset_meets_the_acceptance_figures(default_dataset):
    """On the embedded default: >= 90% of frame-split test windows share frames with training, its
    near-duplicate rate is far above the video split's, and video / official share no video."""
    d = default_dataset
    cfg = section(d["params"], "leakage", LeakageConfig)
    test = {s: evidence(m, d["index"], d["windows"], cfg, d["data"].classes)["test"]
            for s, m in d["manifests"].items()}
    assert test["frame"]["windows_sharing_at_least_1_frames"] >= 0.9
    assert test["frame"]["near_duplicate_rate"] >= 0.9
    for strategy in ("video", "official"):
        assert test[strategy]["videos_shared_with_train"] == 0
        assert test[strategy]["windows_sharing_at_least_1_frames"] == 0
        assert test["frame"]["near_duplicate_rate"] > 10 * max(test[strategy]["near_duplicate_rate"], 0.01)


@pytest.mark.slow
def test_the_memorisation_probe_scores_high_only_where_videos_cross_the_split(default_dataset):
    """The leakage mechanism from the data alone (the probe stage on the embedded default): a 1-nearest-
    neighbour look-up of training windows, which can only repeat what it has seen, scores near-perfectly
    on the frame split, significantly above a label-free look-up, and far lower on the video split, where
    every test video is new to it."""
    from harness.config import EvaluateConfig, ProbeConfig
    from harness.metrics import difference_interval
    from harness.probe import frame_thumbnails, probe, window_features

    d = default_dataset
    cfg, evaluate = section(d["params"], "probe", ProbeConfig), section(d["params"], "evaluate", EvaluateConfig)
    windows = build_windows(d["index"], d["windows"])
    features = window_features(frame_thumbnails(d["index"]["path"].to_numpy(), d["data"].image_size,
                                                cfg.thumbnail_size), windows, d["windows"])
    predictions, scores = {}, {}
    for strategy in ("frame", "video"):
        manifest = d["manifests"][strategy]
        predictions[strategy], scores[strategy] = probe(features, manifest.role("train"), manifest.role("test"),
                                                        d["data"].classes, cfg, evaluate)
    frame, video = scores["frame"], scores["video"]
    assert frame["window"]["accuracy"] >= 0.95 and frame["window"]["macro_f1"] >= 0.9, frame
    assert frame["permutation"]["accuracy_p_value"] < 0.01 and frame["permutation"]["macro_f1_p_value"] < 0.01
    assert frame["window"]["neighbour_in_same_video"] >= 0.95 and video["window"]["neighbour_in_same_video"] == 0
    assert video["window"]["accuracy"] <= frame["window"]["accuracy"] - 0.15
    for score in ("accuracy", "macro_f1"):
        drop = difference_interval(predictions["frame"], predictions["video"], len(d["data"].classes), score,
                                   evaluate.bootstrap_resamples, evaluate.confidence, evaluate.seed)
        assert drop["ci_low"] > 0, (score, drop)
    assert video["window"]["macro_f1"] <= frame["window"]["macro_f1"] - 0.4
