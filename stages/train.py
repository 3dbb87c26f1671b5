"""DVC stage `train@<model>-<strategy>` (and `control@<strategy>`): train one model on one split, then
score its best checkpoint on the split's evaluation set.

Writes, under --out: checkpoints/ (best.pt, last.pt, epoch_NNN.pt; kept between runs so an
interrupted stage resumes), live/ (dvclive metrics and per-epoch plots) and summary.json (epochs,
early stopping, timings, precision, determinism, code hash, environment). With --shuffle-labels (the
memorisation control) also video_labels.csv: each video's true and shuffled label.

Under --eval-out (harness.scoring.evaluation): metrics.json (DVC metrics: window and video level with 95%
intervals from a bootstrap over videos, naming the strategy, evaluation set and data source),
per_class.csv, predictions.csv (every window with its 14 class probabilities) and video_predictions.csv
(DVC confusion plots). Scoring in the training process spares a second start of torch and timm; when
only the evaluation settings or code change, the stage resumes its finished run and scores it again.

A split that does not apply to the data (its manifest.json says `not_applicable`) or a model-free audit
(run.model_free) trains nothing: every output above is written, empty, saying why (`not_applicable` / `not_run`).

With train.nproc_per_node = N > 1 the script starts itself again under `torchrun --standalone
--nproc_per_node=N` (data-parallel, harness.runtime.distributed); `torchrun ... stages/train.py ...` by hand
(several nodes) works too. Rank 0 writes every output.
"""

import argparse
import logging
import sys
from pathlib import Path

import pandas as pd

from harness.cli import run_stage
from harness.config import DataConfig, EvaluateConfig, RunConfig, TrainConfig, WindowConfig, load_params, load_section
from harness.io import write_csv, write_json
from harness.leakage.splits import load_manifest
from harness.runtime import distributed
from harness.runtime.runinfo import environment
from harness.scoring.evaluation import evaluate_run
from harness.train.checkpoints import load_trained_model
from harness.train.controls import apply_labels
from harness.train.loop import train_model
from harness.train.run_setup import build_run

log = logging.getLogger("harness")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, choices=["baseline", "multitask"])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--eval-out", type=Path, required=True, help="where the evaluation's files go")
    parser.add_argument("--shuffle-labels", action="store_true", help="train the shuffled-label control")
    args = parser.parse_args()
    params = load_params(args.params)
    manifest, _ = load_manifest(args.manifest)
    not_run = load_section(params, "run", RunConfig).not_run
    if manifest.not_applicable or not_run:  # before any relaunch: one process writes why nothing is trained
        skip(args, params, manifest, {"not_applicable": manifest.not_applicable} if manifest.not_applicable
             else {"not_run": not_run})
        return
    nproc = load_section(params, "train", TrainConfig).nproc_per_node
    if nproc > 1 and not distributed.launched():
        log.info("starting %d data-parallel processes with torchrun", nproc)
        sys.exit(distributed.relaunch(nproc, str(Path(__file__).resolve()), sys.argv[1:]))
    try:
        train(args, params)
    finally:
        distributed.shutdown()


def train(args: argparse.Namespace, params: dict) -> None:
    manifest, meta = load_manifest(args.manifest)
    index = pd.read_parquet(args.index, columns=["path"])
    setup = build_run(params, args.model, manifest, meta["content_hash"], index, args.out, args.shuffle_labels)
    if not setup.spec.ranks.is_main:
        logging.getLogger("harness").setLevel(logging.WARNING)
    log.info("training %s on the %s split (%d train / %d val windows, %s labels, %s parameters)",
             args.model, manifest.strategy, len(setup.spec.train_windows), len(setup.spec.val_windows),
             setup.record["labels"], f"{setup.record['parameters']:,}")
    summary = train_model(setup.spec)
    if not setup.spec.ranks.is_main:
        return
    if setup.video_labels is not None:
        write_csv(args.out / "video_labels.csv", setup.video_labels)
    write_json(args.out / "summary.json", {**setup.record, **summary, "environment": environment()})
    log.info("done: %d epochs (%s), best %s %.3f at epoch %d, %.1f s", summary["epochs_run"], summary["stopped_by"],
             summary["monitor"], summary["best_val_score"], summary["best_epoch"], summary["seconds_training_total"])
    evaluate(args, params, manifest, index, setup)


def skip(args: argparse.Namespace, params: dict, manifest, why: dict[str, str]) -> None:
    """A strategy that does not apply to the data (``not_applicable``) or a model-free audit (``not_run``): no
    training, and every declared output says why (DVC records the stage as run; the audit and the report show
    the reason instead of a score)."""
    data = load_section(params, "data", DataConfig)
    record = {"model": args.model, "labels": "shuffled across videos" if args.shuffle_labels else "true",
              "strategy": manifest.strategy, "data_source": data.source,
              "profile": load_section(params, "run", RunConfig).profile, **why}
    for folder in (args.out / "checkpoints", args.out / "live" / "plots" / "metrics"):
        folder.mkdir(parents=True, exist_ok=True)
    for path in (args.out / "summary.json", args.out / "live" / "metrics.json", args.eval_out / "metrics.json"):
        write_json(path, record)
    empty = {"per_class.csv": ["class"], "predictions.csv": ["actual", "predicted_class"],
             "video_predictions.csv": ["actual", "predicted_class"]}
    for name, columns in empty.items():
        write_csv(args.eval_out / name, pd.DataFrame(columns=columns))
    if args.shuffle_labels:
        write_csv(args.out / "video_labels.csv", pd.DataFrame(columns=["video_id", "true_label", "control_label"]))
    log.warning("%s on %s: %s, not trained: %s", args.model, manifest.strategy,
                "not applicable on this data" if "not_applicable" in why else "not run", next(iter(why.values())))


def evaluate(args: argparse.Namespace, params: dict, manifest, index: pd.DataFrame, setup) -> None:
    """The best checkpoint (checked against the summary just written) on the split's evaluation set."""
    run = load_section(params, "run", RunConfig)
    data = load_section(params, "data", DataConfig)
    model, summary = load_trained_model(args.out, params, setup.spec.device)
    test = manifest.role("test")
    labels = None if setup.video_labels is None else apply_labels(test, setup.video_labels)
    scores, tables = evaluate_run(model, index["path"].to_numpy(), manifest, labels, data.classes,
                                  load_section(params, "windows", WindowConfig), data.image_size, setup.spec.train,
                                  load_section(params, "evaluate", EvaluateConfig), setup.spec.device, run.seed)
    for name, table in tables.items():
        write_csv(args.eval_out / name, table)
    write_json(args.eval_out / "metrics.json", {"model": summary["model"], "labels": summary["labels"],
                                                "data_source": data.source, "profile": run.profile, **scores})
    w = scores["window"]
    log.info("%s on %s (%s labels): window accuracy %.3f [%.3f, %.3f], macro-F1 %.3f, floor %.3f; %d windows, %d videos",
             summary["model"], manifest.strategy, summary["labels"], w["accuracy"], w["accuracy_ci_low"],
             w["accuracy_ci_high"], w["macro_f1"], w["majority_class_rate"], w["windows"], w["videos"])


if __name__ == "__main__":
    run_stage("train", main)
