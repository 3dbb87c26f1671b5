"""DVC stage `probe`: the model-free memorisation probe (harness.leakage.probe) on every split strategy.

A 1-nearest-neighbour look-up of training windows, scored on each split's evaluation set (the write-up's
`frame` split: its validation set). Writes, under --out: splits/<strategy>/metrics.json
and splits/<strategy>/predictions.csv in the evaluate stage's format (the audit puts the probe beside the trained
models), metrics.json (DVC metrics: scores with video-bootstrap intervals, floors, permutation
p-values, the drop from the frame split to the others with intervals, and the gap curve: the look-up on
`gap` manifests built in memory for each of splits.gap.curve, with the frame and video scores as its two
ends) and gap_curve.csv (the curve as a DVC plot).
"""

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from harness.cli import run_stage
from harness.config import (
    DataConfig,
    EvaluateConfig,
    ProbeConfig,
    RunConfig,
    SplitsConfig,
    WindowConfig,
    load_params,
    load_section,
)
from harness.data.windows import build_windows
from harness.errors import HarnessError
from harness.io import write_csv, write_json
from harness.leakage.nearest import WindowSearch
from harness.leakage.probe import MODEL_NAME, gap_curve, probe, window_features
from harness.leakage.splits import describe_eval_set, load_manifest
from harness.scoring.metrics import drops_from_frame

log = logging.getLogger("harness")
GAP_CURVE_COLUMNS = ("gap", "windows", "videos", "classes", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
                     "macro_f1", "macro_f1_ci_low", "macro_f1_ci_high", "majority_class_rate", "neighbour_in_same_video")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--splits", type=Path, required=True, help="the split stages' folder (one per strategy)")
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--thumbnails", type=Path, required=True,
                        help="the prepare stage's thumbnails.npy (each index row's thumbnail, from the index's decode)")
    args = parser.parse_args()
    params = load_params(args.params)
    run = load_section(params, "run", RunConfig)
    data = load_section(params, "data", DataConfig)
    window_cfg = load_section(params, "windows", WindowConfig)
    evaluate = load_section(params, "evaluate", EvaluateConfig)
    cfg = load_section(params, "probe", ProbeConfig)
    splits = load_section(params, "splits", SplitsConfig)

    manifests = {path.parent.name: load_manifest(path)[0] for path in sorted(args.splits.glob("*/manifest.parquet"))}
    index = pd.read_parquet(args.index)
    thumbnails = np.load(args.thumbnails)
    if thumbnails.shape != (len(index), cfg.thumbnail_size ** 2 * 3):
        raise HarnessError(f"{args.thumbnails} holds {thumbnails.shape[0]:,} thumbnails of {thumbnails.shape[1]} values, "
                           f"not one of probe.thumbnail_size = {cfg.thumbnail_size} for each of the index's "
                           f"{len(index):,} frames; run `dvc repro prepare`")
    windows = build_windows(index, window_cfg)
    search = WindowSearch(window_features(thumbnails, windows, window_cfg))  # row = window_id; clustered once

    summary, predictions, skipped = {}, {}, {}
    for strategy, manifest in manifests.items():
        if manifest.not_applicable:  # the split stage found the strategy cannot apply: said, not scored
            skipped[strategy] = manifest.not_applicable
            write_json(args.out / "splits" / strategy / "metrics.json",
                       {"model": MODEL_NAME, "strategy": strategy, "labels": "true", "data_source": data.source,
                        "profile": run.profile, "not_applicable": manifest.not_applicable})
            log.warning("%s: not applicable on this data, not probed: %s", strategy, manifest.not_applicable)
            continue
        predictions[strategy], scores = probe(search, manifest.role("train"), manifest.role("test"),
                                              data.classes, cfg, evaluate)
        eval_set = describe_eval_set(manifest.test_set)
        metrics = {"model": MODEL_NAME, "strategy": strategy, "labels": "true", "eval_set": eval_set,
                   "data_source": data.source, "profile": run.profile, **scores}
        write_json(args.out / "splits" / strategy / "metrics.json", metrics)
        write_csv(args.out / "splits" / strategy / "predictions.csv", predictions[strategy])
        summary[strategy] = scores
        w, p = scores["window"], scores["permutation"]
        log.info("%s: 1-NN accuracy %.3f [%.3f, %.3f] (floor %.3f, chance %.3f, p = %.4f), macro-F1 %.3f; "
                 "nearest window in the same video for %.0f%%", strategy, w["accuracy"], w["accuracy_ci_low"],
                 w["accuracy_ci_high"], w["majority_class_rate"], p["accuracy_chance_mean"], p["accuracy_p_value"],
                 w["macro_f1"], 100 * w["neighbour_in_same_video"])
    drops = drops_from_frame(predictions, len(data.classes), evaluate)
    curve = gap_curve(search, windows, splits, window_cfg, len(data.classes), evaluate)
    for row in curve:
        log.info("gap %d PNGs: %d windows of %d videos, 1-NN accuracy %s", row["gap"], row["windows"], row["videos"],
                 f"{row['accuracy']:.3f} [{row['accuracy_ci_low']:.3f}, {row['accuracy_ci_high']:.3f}]"
                 if row["windows"] else "n/a")
    ends = {strategy: {key: summary[strategy]["window"][key] for key in
                       ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "macro_f1", "windows", "videos")}
            for strategy in ("frame", "video") if strategy in summary}
    write_csv(args.out / "gap_curve.csv", pd.DataFrame(curve, columns=list(GAP_CURVE_COLUMNS)))
    write_json(args.out / "metrics.json", {"model": MODEL_NAME, "data_source": data.source,
                                           "scores": summary, "drops": drops, "not_applicable": skipped,
                                           "gap_curve": {"by_gap": {f"gap_{row['gap']}": row for row in curve},
                                                         "ends": ends}})


if __name__ == "__main__":
    run_stage("probe", main)
