"""Model-free leakage evidence: the near-duplicate mask, the per-strategy metrics, the leaking pairs, per-video
tables and exact duplicates, cross-checked against imagehash and imagededup."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import flip_bits, random_hashes, section

from harness.config import LeakageConfig, SplitsConfig, WindowConfig
from harness.data.windows import build_windows
from harness.leakage.evidence import (
    leakage_evidence,
    max_shared_frames,
    near_duplicate_mask,
)
from harness.leakage.neighbours import nearest_bruteforce
from harness.leakage.splits import make_manifest


@pytest.mark.parametrize("radius", [0, 1, 3, 4, 6, 10])
def test_multi_index_search_equals_all_pairs(radius):
    rng = np.random.default_rng(radius)
    reference = random_hashes(rng, 2000)
    queries = np.concatenate([flip_bits(rng, reference[rng.integers(0, 2000, 60)], k) for k in range(12)]
                             + [random_hashes(rng, 300)])
    np.testing.assert_array_equal(near_duplicate_mask(queries, reference, radius),
                                  nearest_bruteforce(queries, reference, radius).found)


def test_clustered_hashes_and_duplicates():
    rng = np.random.default_rng(1)
    # many hashes sharing their low bits: large buckets in the block index
    reference = (random_hashes(rng, 3000) & np.uint64(0xFFFFFFFF00000000)) | np.uint64(0x1234)
    queries = np.concatenate([flip_bits(rng, reference[:200], 3), flip_bits(rng, reference[:200], 7), reference[:50]])
    np.testing.assert_array_equal(near_duplicate_mask(queries, reference, 4),
                                  nearest_bruteforce(queries, reference, 4).found)
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
    return {s: leakage_evidence(m, smoke_dataset["index"], smoke_dataset["windows"], cfg,
                                smoke_dataset["data"].classes).by_role for s, m in manifests.items()}


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
    from helpers import compose, synthetic_dataset

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
    test = {s: leakage_evidence(m, d["index"], d["windows"], cfg, d["data"].classes).by_role["test"]
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
    from harness.leakage.nearest import WindowSearch
    from harness.leakage.probe import frame_thumbnails, probe, window_features
    from harness.scoring.metrics import difference_interval

    d = default_dataset
    cfg, evaluate = section(d["params"], "probe", ProbeConfig), section(d["params"], "evaluate", EvaluateConfig)
    windows = build_windows(d["index"], d["windows"])
    search = WindowSearch(window_features(frame_thumbnails(d["index"]["path"].to_numpy(), d["data"].image_size,
                                                           cfg.thumbnail_size), windows, d["windows"]))
    predictions, scores = {}, {}
    for strategy in ("frame", "video"):
        manifest = d["manifests"][strategy]
        predictions[strategy], scores[strategy] = probe(search, manifest.role("train"), manifest.role("test"),
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


# --------------------------------------------------------------------------- curves, pairs, per-video tables
def test_curves_are_monotone_and_meet_the_headline_rates(evidence_by_strategy):
    for records in evidence_by_strategy.values():
        for record in records.values():
            for name in ("near_duplicate_rate_by_radius", "chance_rate_by_radius"):
                values = list(record[name].values())
                assert list(record[name]) == [str(r) for r in range(13)] and values == sorted(values)
            assert record["near_duplicate_rate_by_radius"]["4"] == record["near_duplicate_rate"]
            assert record["chance_rate_by_radius"]["4"] == record["chance_rate"]
            assert record["excess_over_chance"] == pytest.approx(record["near_duplicate_rate"] - record["chance_rate"],
                                                                 abs=2e-6)
            assert record["excess_over_chance_ci_low"] <= record["excess_over_chance"] <= record["excess_over_chance_ci_high"]
    frame = evidence_by_strategy["frame"]["test"]
    assert frame["excess_over_chance_ci_low"] > 0.5 and frame["near_duplicates_in_same_video"] == 1.0


@pytest.fixture(scope="module")
def copied_scene(smoke_dataset, manifests, tmp_path_factory):
    """The smoke set with one training video filed again under Test as a new video (same PNGs: one scene
    seen twice), and one training PNG copied into a test video's folder under that video's name."""
    import shutil

    from harness.data.index import index_frames

    root = tmp_path_factory.mktemp("copied") / "frames"
    shutil.copytree(smoke_dataset["root"], root)
    index = smoke_dataset["index"]
    train_videos = sorted(set(manifests["official"].role("train")["video_id"]))
    source, donor = train_videos[0], train_videos[-1]
    source_rows = index[index["video_id"] == source]
    cls = source_rows["class_name"].iloc[0]
    for path, number in zip(source_rows["path"], source_rows["frame_number"], strict=True):
        shutil.copy(path, root / "Test" / cls / f"Scene900_x264_{number}.png")
    test_video = index.loc[index["official_split"] == "test", ["video_id", "class_name"]].iloc[0]
    donor_path = index.loc[index["video_id"] == donor, "path"].iloc[0]
    shutil.copy(donor_path, root / "Test" / test_video["class_name"] / f"{test_video['video_id']}_99990.png")
    data = smoke_dataset["data"]
    copied = index_frames(root, data.classes, data.image_size, workers=2).frames
    windows = build_windows(copied, smoke_dataset["windows"])
    manifest = make_manifest("official", windows, section(smoke_dataset["params"], "splits", SplitsConfig))
    cfg = section(smoke_dataset["params"], "leakage", LeakageConfig)
    found = leakage_evidence(manifest, copied, smoke_dataset["windows"], cfg, data.classes)
    return {"source": source, "copy": "Scene900_x264", "donor": donor, "test_video": test_video["video_id"],
            "index": copied, "evidence": found}


def test_curves_above_the_radius_from_a_sample_are_exact_below_it_and_close_above_it():
    """A set larger than curve_sample_frames: every point up to hamming_radius is exact, the points above it
    estimate the exact curve within sampling error (4 binomial standard deviations) and stay monotone."""
    import dataclasses

    from harness.leakage.evidence import match_with_curves

    rng = np.random.default_rng(3)
    reference = random_hashes(rng, 4000)
    queries = np.concatenate([flip_bits(rng, reference[:3000], k) for k in (2, 6, 9)] + [random_hashes(rng, 3000)])
    index = pd.DataFrame({"phash": np.concatenate([reference, queries]),
                          "label": np.concatenate([np.arange(4000) % 7, np.arange(len(queries)) % 7])})
    train_rows, eval_rows = np.arange(4000), np.arange(4000, 4000 + len(queries))
    cfg = LeakageConfig(hamming_radius=4, shared_frame_thresholds=(1,), curve_max_radius=12, curve_sample_frames=100_000,
                        bootstrap_resamples=10, confidence=0.95, seed=0, duplicate_examples=0, gallery_pairs=0)
    exact_matches, exact = match_with_curves(eval_rows, train_rows, index, cfg)
    sampled_matches, sampled = match_with_curves(eval_rows, train_rows, index, dataclasses.replace(cfg, curve_sample_frames=2000))
    assert (exact.sample_frames, exact.exact_up_to, sampled.sample_frames, sampled.exact_up_to) == (12000, 12, 2000, 4)
    np.testing.assert_array_equal(np.minimum(exact_matches.nearest.distance, 5), np.minimum(sampled_matches.nearest.distance, 5))
    for exact_curve, sampled_curve in ((exact.near, sampled.near), (exact.chance, sampled.chance)):
        assert [exact_curve[str(r)] for r in range(5)] == [sampled_curve[str(r)] for r in range(5)]
        values = list(sampled_curve.values())
        assert values == sorted(values)
        for r in range(5, 13):
            p = exact_curve[str(r)]
            assert abs(sampled_curve[str(r)] - p) <= 4 * np.sqrt(max(p * (1 - p), 1e-4) / 2000) + 1e-6, r
    assert exact.near["12"] > exact.near["4"] + 0.2  # the sample had something to estimate


def test_a_scene_filed_under_two_videos_is_a_cross_video_pair_under_official(copied_scene):
    found, source, copy = copied_scene["evidence"], copied_scene["source"], copied_scene["copy"]
    pairs = found.pairs[found.pairs["eval_video"] == copy]
    assert len(pairs) > 0 and (pairs["distance"] == 0).all() and not pairs["same_video"].any()
    assert set(pairs["role"]) == {"test"} and set(pairs["train_class"]) == set(pairs["eval_class"])
    # each copied frame's nearest training frame shows the same picture as the frame it was copied from
    index = copied_scene["index"]
    assert (index["crc32"].to_numpy()[pairs["train_row"]] == index["crc32"].to_numpy()[pairs["eval_row"]]).all()
    row = found.videos.set_index("video_id").loc[copy]
    assert row["near_duplicate_share"] == 1.0 and not row["same_video"] and row["top_train_video"] != ""
    assert found.by_role["test"]["near_duplicate_rate"] > 0 and found.by_role["test"]["videos_shared_with_train"] == 0
    assert set(pairs["train_video"]) == {source} and row["top_train_video"] == source


def test_a_png_copied_under_another_name_is_an_exact_duplicate(copied_scene):
    from harness.leakage.duplicates import duplicate_groups

    groups = duplicate_groups(copied_scene["index"])
    renamed = groups[(groups["video_id"] == copied_scene["test_video"]) & (groups["frame_number"] == 99990)]
    assert len(renamed) == 1
    members = groups[groups["group"] == renamed["group"].iloc[0]]
    assert copied_scene["donor"] in set(members["video_id"])
    duplicates = copied_scene["evidence"].exact_duplicates
    assert duplicates["pairs_by_role"]["train/test"]["cross_video_pairs"] > 0
    assert duplicates["groups"] >= 2 and duplicates["examples"]


def test_exact_duplicate_pairs_are_counted_by_role_pair():
    from harness.leakage.duplicates import exact_duplicates

    groups = pd.DataFrame({"row": [0, 1, 2, 3, 4], "video_id": ["a", "a", "b", "c", "d"],
                           "frame_number": [1, 2, 1, 1, 1], "path": list("vwxyz"), "group": [0, 0, 0, 1, 1]})
    roles = np.array(["train", "train", "test", "val", "unused"], dtype=object)
    counted = exact_duplicates(groups, roles, examples=1)
    assert counted["pairs_by_role"] == {
        "within train": {"pairs": 1, "cross_video_pairs": 0},  # a/1 and a/2: one video, two frame numbers
        "train/test": {"pairs": 2, "cross_video_pairs": 2},
        "val/unused": {"pairs": 1, "cross_video_pairs": 1},
    }
    assert counted["groups"] == 2 and counted["frames"] == 5 and len(counted["examples"]) == 1


# --------------------------------------------------------------------------- peers: imagehash, imagededup
@pytest.fixture(scope="module")
def frame_split_pairs(smoke_dataset, manifests):
    cfg = section(smoke_dataset["params"], "leakage", LeakageConfig)
    found = leakage_evidence(manifests["frame"], smoke_dataset["index"], smoke_dataset["windows"], cfg,
                             smoke_dataset["data"].classes)
    return found, cfg, manifests["frame"]


def test_pairs_equal_a_brute_force_search_over_imagehash_phashes(frame_split_pairs, smoke_dataset):
    """imagehash (the reference pHash) on every PNG of the frame split, then all pairs: the same nearest
    training frame and distance for every evaluation frame."""
    import imagehash
    from PIL import Image

    from harness.data.windows import frame_rows

    found, cfg, manifest = frame_split_pairs
    index, windows = smoke_dataset["index"], smoke_dataset["windows"]
    train_rows = np.unique(frame_rows(manifest.role("train"), windows))
    eval_rows = np.unique(frame_rows(manifest.role("test"), windows))

    def phash(row):
        with Image.open(index["path"].iloc[row]) as image:
            return np.uint64(int(str(imagehash.phash(image.convert("RGB"))), 16))

    train_hashes = np.array([phash(r) for r in train_rows], np.uint64)
    eval_hashes = np.array([phash(r) for r in eval_rows], np.uint64)
    expected = nearest_bruteforce(eval_hashes, train_hashes, cfg.hamming_radius)
    keep = expected.found
    pairs = found.pairs.set_index("eval_row")
    assert sorted(pairs.index) == sorted(eval_rows[keep])
    np.testing.assert_array_equal(pairs.loc[eval_rows[keep], "train_row"], train_rows[expected.index[keep]])
    np.testing.assert_array_equal(pairs.loc[eval_rows[keep], "distance"], expected.distance[keep])


def test_imagededup_finds_the_same_cross_split_pairs(copied_scene, smoke_dataset):
    """imagededup's PHash on the official split's evaluation and training frames of the copied-scene set.
    Its hash differs from imagehash's by design (it resizes before the grey conversion, leaves the DC
    coefficient out of the median and thresholds with >=), so frames are compared as video pairs:
    every video pair it finds within the radius we find within the radius plus a margin, and the reverse."""
    phash_module = pytest.importorskip("imagededup.methods", reason="imagededup is not installed (test-only peer)")
    from harness.data.windows import frame_rows

    found, index = copied_scene["evidence"], copied_scene["index"]
    cfg = section(smoke_dataset["params"], "leakage", LeakageConfig)
    manifest = make_manifest("official", build_windows(index, smoke_dataset["windows"]),
                             section(smoke_dataset["params"], "splits", SplitsConfig))
    rows = {role: np.unique(frame_rows(manifest.role(role), smoke_dataset["windows"])) for role in ("train", "test")}
    hasher = phash_module.PHash(verbose=False)
    codes = {role: np.array([int(hasher.encode_image(image_file=index["path"].iloc[r]), 16) for r in rows[role]],
                            np.uint64) for role in rows}
    videos = index["video_id"].to_numpy()

    def video_pairs(eval_hashes, train_hashes, radius):
        near = nearest_bruteforce(eval_hashes, train_hashes, radius)
        return {(videos[rows["test"][i]], videos[rows["train"][j]]) for i, j in enumerate(near.index) if j >= 0}

    theirs = video_pairs(codes["test"], codes["train"], cfg.hamming_radius)
    ours = set(zip(found.pairs["eval_video"], found.pairs["train_video"], strict=True))
    assert (copied_scene["copy"], copied_scene["source"]) in theirs & ours
    hashes = index["phash"].to_numpy(np.uint64)
    ours_loose = video_pairs(hashes[rows["test"]], hashes[rows["train"]], cfg.hamming_radius + 4)
    theirs_loose = video_pairs(codes["test"], codes["train"], cfg.hamming_radius + 4)
    assert theirs <= ours_loose and ours <= theirs_loose, (theirs, ours)
