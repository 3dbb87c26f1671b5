"""The auditor's table: every (model, labels, split strategy) scored side by side, with floors,
intervals, model-free leakage evidence, and the drop from the write-up's frame split to the
video-level splits with its interval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness.config import EvaluateConfig, skipped
from harness.io import read_json
from harness.scoring.metrics import drops_from_frame

TABLE_COLUMNS = [
    "model", "labels", "strategy", "eval_set", "data_source", "windows", "videos",
    "accuracy", "accuracy_ci_low", "accuracy_ci_high", "majority_class_rate", "accuracy_above_floor",
    "macro_f1", "macro_f1_ci_low", "macro_f1_ci_high", "min_class_f1",
    "video_accuracy", "video_accuracy_ci_low", "video_accuracy_ci_high", "video_majority_class_rate",
    "videos_shared_with_train", "windows_sharing_at_least_1_frames", "near_duplicate_rate",
]


def load_evaluations(eval_dir: Path) -> dict[str, dict[str, Any]]:
    """Every evaluation folder under ``eval_dir``: its metrics and its window predictions, by folder path. A run
    whose split does not apply to the data has metrics that say so (``not_applicable``) and no predictions."""
    out = {}
    for metrics_path in sorted(eval_dir.glob("*/metrics.json")):
        folder, metrics = metrics_path.parent, read_json(metrics_path)
        out[str(folder)] = {"metrics": metrics} if skipped(metrics) else \
            {"metrics": metrics, "predictions": pd.read_csv(folder / "predictions.csv")}
    return out


def not_applicable(evaluations: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Strategy -> why it does not apply to the data, from the evaluations that say so."""
    return {e["metrics"]["strategy"]: e["metrics"]["not_applicable"] for e in evaluations.values()
            if e["metrics"].get("not_applicable")}


def min_class_f1(predictions: pd.DataFrame) -> float:
    """The smallest window F1 over the classes the evaluation set holds (the write-up's "ALL classes > 96% F1")."""
    from sklearn.metrics import f1_score

    present = sorted(set(predictions["label"]))
    return round(float(min(f1_score(predictions["label"], predictions["predicted"], labels=present, average=None,
                                    zero_division=0))), 6)


def audit(evaluations: dict[str, dict[str, Any]], leakage: dict[str, dict[str, Any]], n_classes: int,
          cfg: EvaluateConfig) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table (one row per evaluation) and the DVC metrics (scores by model and strategy, drops, and the
    strategies that do not apply to the data, with the reason: no row in the table)."""
    strategies_skipped = not_applicable(evaluations)
    not_run = sorted({e["metrics"]["not_run"] for e in evaluations.values() if e["metrics"].get("not_run")})
    evaluations = {k: e for k, e in evaluations.items() if not skipped(e["metrics"])}
    rows = []
    for entry in evaluations.values():
        m = entry["metrics"]
        w, v = m["window"], m["video"]
        test_leakage = leakage.get(m["strategy"], {}).get("test", {})
        rows.append({
            "model": m["model"], "labels": m["labels"], "strategy": m["strategy"], "eval_set": m["eval_set"],
            "data_source": m["data_source"], "windows": w["windows"], "videos": w["videos"],
            "accuracy": w["accuracy"], "accuracy_ci_low": w["accuracy_ci_low"], "accuracy_ci_high": w["accuracy_ci_high"],
            "majority_class_rate": w["majority_class_rate"],
            "accuracy_above_floor": bool(w["accuracy_ci_low"] > w["majority_class_rate"]),
            "macro_f1": w["macro_f1"], "macro_f1_ci_low": w["macro_f1_ci_low"], "macro_f1_ci_high": w["macro_f1_ci_high"],
            "min_class_f1": min_class_f1(entry["predictions"]),
            "video_accuracy": v["accuracy"], "video_accuracy_ci_low": v["accuracy_ci_low"],
            "video_accuracy_ci_high": v["accuracy_ci_high"], "video_majority_class_rate": v["majority_class_rate"],
            "videos_shared_with_train": test_leakage.get("videos_shared_with_train"),
            "windows_sharing_at_least_1_frames": test_leakage.get("windows_sharing_at_least_1_frames"),
            "near_duplicate_rate": test_leakage.get("near_duplicate_rate"),
        })
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS).sort_values(["labels", "model", "strategy"], ignore_index=True)

    metrics: dict[str, Any] = {"scores": {}, "drops": {}, "not_applicable": strategies_skipped,
                               **({"not_run": not_run[0]} if not_run else {})}
    for row in table.itertuples():
        group = "control" if row.labels != "true" else row.model
        metrics["scores"].setdefault(group, {})[row.strategy] = {
            k: getattr(row, k) for k in ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "majority_class_rate",
                                         "macro_f1", "macro_f1_ci_low", "macro_f1_ci_high", "min_class_f1", "video_accuracy",
                                         "windows", "videos")
        }
        metrics["scores"][group][row.strategy]["accuracy_above_floor"] = row.accuracy_above_floor

    by_group: dict[str, dict[str, pd.DataFrame]] = {}
    for entry in evaluations.values():
        m = entry["metrics"]
        group = "control" if m["labels"] != "true" else m["model"]
        by_group.setdefault(group, {})[m["strategy"]] = entry["predictions"]
    for group, predictions in sorted(by_group.items()):
        drops = drops_from_frame(predictions, n_classes, cfg)
        if drops:
            metrics["drops"][group] = drops
    return table, metrics
