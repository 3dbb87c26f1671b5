"""DVC stage `split@<strategy>`: frame index -> windows -> split manifest + model-free leakage evidence.

Writes, under --out: manifest.parquet (window -> train | val | test), manifest.json (content hash,
counts, which role is scored as test) and leakage.json (DVC metrics: shared videos, shared frames,
near-duplicate rate, majority-class rate per evaluation set).
"""

import argparse
import logging
from pathlib import Path

import pandas as pd

from harness.cli import run_stage
from harness.config import DataConfig, LeakageConfig, SplitsConfig, WindowConfig, load_params, load_section
from harness.data.windows import build_windows, windows_per_video
from harness.io import write_json, write_parquet
from harness.leakage import evidence
from harness.splits import make_manifest, manifest_hash

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
    manifest = make_manifest(args.strategy, windows, splits)
    video_lengths = index.groupby("video_id").size()
    too_short = video_lengths[windows_per_video(video_lengths.to_numpy(), window_cfg) == 0]
    roles = manifest.windows.groupby("split")
    meta = {
        "strategy": args.strategy,
        "data_source": data.source,
        "content_hash": manifest_hash(manifest.windows, index),
        "test_set": manifest.test_set,
        "windows": roles.size().to_dict(),
        "videos": roles["video_id"].nunique().to_dict(),
        "windows_by_class": {
            role: {data.classes[k]: int(v) for k, v in g["label"].value_counts().sort_index().items()}
            for role, g in roles
        },
        "videos_too_short_for_a_window": len(too_short),
        # which videos yield no window (fewer PNGs than one window spans), with their PNG counts
        "too_short_videos": {str(video): int(n) for video, n in too_short.items()},
        "window_span_frames": window_cfg.span,
    }
    metrics = {
        "strategy": args.strategy,
        "data_source": data.source,
        "test_is_validation": manifest.test_set == "val",
        "hamming_radius": leakage_cfg.hamming_radius,
        **evidence(manifest, index, window_cfg, leakage_cfg, data.classes),
    }
    write_parquet(args.out / "manifest.parquet", manifest.windows)
    write_json(args.out / "manifest.json", meta)
    write_json(args.out / "leakage.json", metrics)
    test = metrics["test"]
    log.info(
        "%s: %s windows; test %s (%d videos shared with train, near-duplicate rate %.3f); "
        "%d videos too short for one window (listed in manifest.json)",
        args.strategy, meta["windows"], "= validation" if manifest.test_set == "val" else "held out",
        test["videos_shared_with_train"], test["near_duplicate_rate"], len(too_short),
    )


if __name__ == "__main__":
    run_stage("split", main)
