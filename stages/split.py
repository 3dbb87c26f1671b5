"""DVC stage `split@<strategy>`: frame index -> windows -> split manifest + model-free leakage evidence.

Writes, under --out: manifest.parquet (window -> train | val | test), manifest.json (content hash,
counts, which role is scored as test), leakage.json (DVC metrics per evaluation set: shared videos,
shared frames, near-duplicate and chance rates by radius, the excess over chance with its interval,
majority-class rate; exact duplicates by role pair), leak_pairs.parquet (each evaluation frame with a
near-duplicate in training, beside it), leak_videos.csv (per evaluation video: its leak share and
the training video it matches most) and gallery/ (the closest pairs of the scored set as PNGs, with
gallery.csv: what the report shows). A strategy that cannot apply to the data (NotApplicable) writes the same
files, empty, with its reason in manifest.json and leakage.json (`not_applicable`); the later stages skip it.
"""

import argparse
import logging
from pathlib import Path

import pandas as pd

from harness.cli import run_stage
from harness.config import DataConfig, LeakageConfig, SplitsConfig, WindowConfig, load_params, load_section
from harness.data.windows import build_windows
from harness.io import write_csv, write_json, write_parquet
from harness.leakage.evidence import Evidence, leakage_evidence
from harness.leakage.gallery import write_gallery
from harness.leakage.splits import NotApplicable, make_manifest, not_applicable_manifest, save_manifest

log = logging.getLogger("harness")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strategy", required=True)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--index", type=Path, default=Path("data/prepared/index.parquet"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    data = load_section(params, "data", DataConfig)
    window_cfg = load_section(params, "windows", WindowConfig)
    splits = load_section(params, "splits", SplitsConfig)
    leakage_cfg = load_section(params, "leakage", LeakageConfig)

    index = pd.read_parquet(args.index)
    windows = build_windows(index, window_cfg)
    try:
        manifest = make_manifest(args.strategy, windows, splits, window_cfg)
    except NotApplicable as e:  # written as such: the train, control, probe and audit stages skip it, saying why
        manifest = not_applicable_manifest(args.strategy, str(e))
    found = Evidence.none() if manifest.not_applicable else \
        leakage_evidence(manifest, index, window_cfg, leakage_cfg, data.classes)
    metrics = {
        "strategy": args.strategy,
        "data_source": data.source,
        "test_is_validation": manifest.test_set == "val",
        "hamming_radius": leakage_cfg.hamming_radius,
        **found.by_role,
        "exact_duplicates": found.exact_duplicates,
        **({"not_applicable": manifest.not_applicable} if manifest.not_applicable else {}),
    }
    meta = save_manifest(args.out / "manifest.parquet", manifest, index, window_cfg, data)
    write_parquet(args.out / "leak_pairs.parquet", found.pairs)
    write_csv(args.out / "leak_videos.csv", found.videos)
    scored = found.pairs[found.pairs["role"] == "test"]
    write_gallery(scored, args.out / "gallery", leakage_cfg.gallery_pairs, data.image_size)
    write_json(args.out / "leakage.json", metrics)
    if manifest.not_applicable:
        log.warning("%s: not applicable on this data, skipped by every later stage: %s", args.strategy,
                    manifest.not_applicable)
        return
    test = metrics["test"]
    log.info(
        "%s: %s windows; test %s (%d videos shared with train, near-duplicate rate %.3f, %.3f over chance); "
        "%d videos too short for one window (listed in manifest.json)",
        args.strategy, meta["windows"], "= validation" if manifest.test_set == "val" else "held out",
        test["videos_shared_with_train"], test["near_duplicate_rate"], test["excess_over_chance"],
        meta["videos_too_short_for_a_window"],
    )


if __name__ == "__main__":
    run_stage("split", main)
