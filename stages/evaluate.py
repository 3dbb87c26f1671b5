"""DVC stage `evaluate@<model>-<strategy>` (and `evaluate_control@<strategy>`): score a trained model.

Scores the split's test set (under the write-up's `frame` split that is its validation set) at window
level and at video level (window probabilities averaged per video), with 95% intervals from a bootstrap
that resamples videos. Writes, under --out: metrics.json (DVC metrics, naming the strategy, evaluation
set and data source), per_class.csv, predictions.csv (every window: label, prediction, the 14 class
probabilities p_<class>) and video_predictions.csv (both DVC confusion plots).
"""

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from harness.cli import run_stage
from harness.config import DataConfig, EvaluateConfig, RunConfig, WindowConfig, load_params, load_section
from harness.controls import apply_labels
from harness.errors import HarnessError
from harness.evaluation import predict_windows
from harness.io import write_csv, write_json
from harness.metrics import score_predictions
from harness.runinfo import resolve_device, set_threads
from harness.runs import load_trained_model
from harness.splits import describe_eval_set, load_manifest
from harness.training import TrainConfig

log = logging.getLogger("harness")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", type=Path, required=True, help="the train stage's output folder")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--index", type=Path, default=Path("data/prepared/index.parquet"))
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    run = load_section(params, "run", RunConfig)
    data = load_section(params, "data", DataConfig)
    window_cfg = load_section(params, "windows", WindowConfig)
    train = load_section(params, "train", TrainConfig)
    cfg = load_section(params, "evaluate", EvaluateConfig)
    set_threads(run)
    device = resolve_device(run)

    manifest, meta = load_manifest(args.manifest)
    model, summary = load_trained_model(args.run, params, device)
    if summary["manifest_hash"] != meta["content_hash"]:
        raise HarnessError(f"{args.run} was trained on another {manifest.strategy} manifest; retrain with `dvc repro`")
    windows = manifest.role("test").reset_index(drop=True)
    shuffled = summary["labels"] != "true"
    if shuffled:
        labels = apply_labels(windows, pd.read_csv(args.run / "video_labels.csv"))
    else:
        labels = windows["label"].to_numpy(np.int64)
    index = pd.read_parquet(args.index, columns=["path"])
    predictions = predict_windows(model, index["path"].to_numpy(), windows, labels, window_cfg, data.image_size,
                                  train, device, run.seed)
    scores = score_predictions(predictions, data.classes, cfg)
    eval_set = describe_eval_set(manifest.test_set)
    metrics = {
        "model": summary["model"],
        "strategy": manifest.strategy,
        "labels": summary["labels"],
        "eval_set": eval_set,
        "data_source": data.source,
        "profile": run.profile,
        "window": scores["window"],
        "video": scores["video"],
    }
    names = np.array(data.classes)
    probabilities = predictions[[f"p{i}" for i in range(len(names))]]
    table = predictions[["window_id", "video_id", "label", "predicted"]].assign(
        actual=names[predictions["label"]], predicted_class=names[predictions["predicted"]],
        confidence=probabilities.max(axis=1).round(6),
        # all 14 class probabilities, named by class: ROC curves, calibration, other decision rules
        **{f"p_{name}": probabilities[f"p{i}"].round(6) for i, name in enumerate(names)})
    videos = scores["video_predictions"].assign(actual=names[scores["video_predictions"]["label"]],
                                                predicted_class=names[scores["video_predictions"]["predicted"]])
    write_csv(args.out / "predictions.csv", table)
    write_csv(args.out / "video_predictions.csv", videos)
    write_csv(args.out / "per_class.csv", pd.concat([scores["per_class_window"].assign(level="window"),
                                                    scores["per_class_video"].assign(level="video")]))
    write_json(args.out / "metrics.json", metrics)
    w = scores["window"]
    log.info("%s on %s (%s labels): window accuracy %.3f [%.3f, %.3f], macro-F1 %.3f, floor %.3f; %d windows, %d videos",
             summary["model"], manifest.strategy, summary["labels"], w["accuracy"], w["accuracy_ci_low"],
             w["accuracy_ci_high"], w["macro_f1"], w["majority_class_rate"], w["windows"], w["videos"])


if __name__ == "__main__":
    run_stage("evaluate", main)
