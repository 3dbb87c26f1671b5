"""Finished sweep jobs -> mean +- std across seeds per sweep x model x split strategy (the DVC stage ``sweeps``,
which depends on sweeps/results only; the report shows the table). The jobs themselves: harness.train.sweep.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness.io import read_json

METRICS = {  # table column -> (level, key) in result.json
    "window_accuracy": ("window", "accuracy"),
    "window_macro_f1": ("window", "macro_f1"),
    "video_accuracy": ("video", "accuracy"),
    "video_macro_f1": ("video", "macro_f1"),
}


STATISTICS = ("mean", "std", "min", "max")


def collect_results(root: Path) -> pd.DataFrame:
    """One row per finished job under ``root`` (sweeps/results/<name>/<job>.json)."""
    rows = []
    for path in sorted(Path(root).glob("*/*.json")):
        r = read_json(path)
        rows.append({"sweep": r["sweep"], "model": r["model"], "split": r["split"], "settings": r["settings"],
                     "seed": r["seed"], "profile": r["profile"], "data_source": r["data_source"],
                     "eval_set": r["eval_set"], "job": path.stem,
                     **{name: r[level][key] for name, (level, key) in METRICS.items()}})
    return pd.DataFrame(rows)


def aggregate(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample standard deviation (ddof=1; empty with one seed), least and greatest across seeds, per
    sweep x model x split x settings."""
    keys = ["sweep", "model", "split", "settings"]
    columns = [*keys, "profile", "data_source", "eval_set", "n_seeds", "seeds",
               *[f"{m}_{s}" for m in METRICS for s in STATISTICS]]
    if results.empty:
        return pd.DataFrame(columns=columns)
    grouped = results.groupby(keys, sort=True)
    table = grouped.agg(
        profile=("profile", "first"), data_source=("data_source", "first"), eval_set=("eval_set", "first"),
        n_seeds=("seed", "nunique"), seeds=("seed", lambda s: ",".join(map(str, sorted(s)))),
        **{f"{m}_{stat}": (m, stat) for m in METRICS for stat in STATISTICS},
    ).reset_index()
    return table[columns]


def table_metrics(table: pd.DataFrame) -> dict[str, Any]:
    """The aggregated table as DVC metrics: {sweep/model-split: {metric: {mean, std, min, max}, n_seeds, ...}}."""
    out: dict[str, Any] = {}
    ambiguous = table.duplicated(["sweep", "model", "split"], keep=False)
    for row, twice in zip(table.to_dict("records"), ambiguous, strict=True):
        key = f"{row['sweep']}/{row['model']}-{row['split']}" + (f"@{row['settings'][:8]}" if twice else "")
        out[key] = {"model": row["model"], "split": row["split"], "profile": row["profile"],
                    "data_source": row["data_source"], "n_seeds": int(row["n_seeds"]), "seeds": row["seeds"], **{
            m: {stat: None if pd.isna(row[f"{m}_{stat}"]) else float(row[f"{m}_{stat}"]) for stat in STATISTICS}
            for m in METRICS}}
    return out
