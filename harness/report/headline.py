"""The report's first screen: what the write-up's 99.38% is, before anything else.

``verdict_block`` gathers, each with its source: from the write-up and its code alone, that its "test" set is
its validation set and how many of those windows share frames with training windows (harness.judge.overlap); from
this run, the write-up's model and the no-learning 1-NN probe on the write-up's split, on held-out videos and
on the official Test/ folder, with intervals and, where the committed seed sweeps ran the same profile and
data, their spread across seeds (so that a reader can tell a machine's wobble from a finding); the first
contradiction among the printed evaluation figures; and what this run cannot judge. The sentences state only
what holds on every seed the sweeps ran.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.judge.claims import CONTRADICTED_BY, NOT_COMPARABLE, NOT_TESTABLE
from harness.judge.overlap import writeup_overlap

HEADLINE_CLAIM = "accuracy.test"        # the printed 99.38%
TEST_IS_VALIDATION = "test_is_validation"
EVALUATION_SECTIONS = ("5.",)           # the write-up's evaluation sections: where the first contradiction is sought
SPLITS = (("frame", "the write-up's split (random windows; test = validation)"),
          ("video", "held-out videos (video-disjoint split)"),
          ("official", "the official Test/ folder"))
MODELS = (("multitask", "the write-up's model"), ("nearest_neighbour", "1-NN look-up (no learning, no seed)"))


def spreads(sweeps: pd.DataFrame | None, context: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(audit group, split) -> window accuracy across seeds (mean, std, min, max, n, sweep) from the committed
    sweeps of this run's profile and data source (the sweep with the most seeds where several match)."""
    if sweeps is None or sweeps.empty:
        return {}
    same = sweeps[(sweeps["profile"] == context.get("profile")) & (sweeps["data_source"] == context.get("data_source"))]
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in same.sort_values("n_seeds").to_dict("records"):
        out[(row["model"], row["split"])] = {  # a sweep's model names are the audit's groups (control included)
            "mean": row["window_accuracy_mean"], "std": None if pd.isna(row["window_accuracy_std"]) else row["window_accuracy_std"],
            "min": row.get("window_accuracy_min"), "max": row.get("window_accuracy_max"),
            "n": int(row["n_seeds"]), "seeds": row["seeds"], "sweep": row["sweep"]}
    return out


def _score(audit: dict[str, Any], group: str, split: str) -> dict[str, Any] | None:
    entry = ((audit or {}).get("scores") or {}).get(group, {}).get(split)
    if not entry:
        return None
    return {"accuracy": entry["accuracy"], "low": entry["accuracy_ci_low"], "high": entry["accuracy_ci_high"],
            "floor": entry.get("majority_class_rate"), "videos": entry.get("videos"), "windows": entry.get("windows")}


def _first_contradiction(verdicts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first (by write-up line) contradicted claim of the evaluation sections, with its arithmetic."""
    evaluation = [v for v in verdicts if v["verdict"] in CONTRADICTED_BY.values() and v.get("wrong")
                  and str(v["section"]).startswith(EVALUATION_SECTIONS) and v["check"] == "arithmetic"]
    if not evaluation:
        return None
    first = min(evaluation, key=lambda v: v["line"] or 0)
    return {"id": first["id"], "line": first["line"], "source": first["source"], "wrong": first["wrong"],
            "verdict": first["verdict"]}


def holds_on_every_seed(spread: dict[tuple[str, str], dict[str, Any]], group: str) -> dict[str, Any] | None:
    """What every seed agrees on for ``group``: the least score on the write-up's split and the greatest on
    held-out videos and on the official folder, and whether the first is above both others."""
    frame, video, official = (spread.get((group, s)) for s in ("frame", "video", "official"))
    if not frame or not video or frame["n"] < 2:
        return None
    held_out = max(video["max"], official["max"]) if official else video["max"]
    return {"n": min(x["n"] for x in (frame, video, official) if x), "frame_min": frame["min"],
            "video_max": video["max"], "official_max": official["max"] if official else None,
            "separated": frame["min"] > held_out}


def verdict_block(judged: dict[str, Any], registry_extra: dict[str, Any], audit: dict[str, Any] | None,
                  sweeps: pd.DataFrame | None, context: dict[str, Any]) -> dict[str, Any]:
    """Everything the first screen shows (see the module docstring)."""
    verdicts = judged["verdicts"]
    by_id = {v["id"]: v for v in verdicts}
    headline = by_id.get(HEADLINE_CLAIM, {})
    test_is_val = by_id.get(TEST_IS_VALIDATION, {})
    spread = spreads(sweeps, context)
    rows = []
    for group, label in MODELS:
        cells = []
        for split, _ in SPLITS:
            score = _score(audit, group, split)
            cells.append(None if score is None else {**score, "spread": spread.get((group, split))})
        rows.append({"group": group, "label": label, "cells": cells})
    floors = [next((c["floor"] for r in rows for c in [r["cells"][i]] if c), None) for i in range(len(SPLITS))]
    not_testable = [v for v in verdicts if v["verdict"] == NOT_TESTABLE and "not run: " not in v["rule"]]
    return {
        "claimed": headline.get("claimed"), "claimed_line": headline.get("line"),
        "test_is_validation": {"line": test_is_val.get("line"), "source": test_is_val.get("source"),
                               "verdict": test_is_val.get("verdict")},
        "overlap": writeup_overlap(registry_extra["overlap"]) if registry_extra.get("overlap") else None,
        "splits": [{"name": s, "label": label} for s, label in SPLITS],
        "rows": rows, "floors": floors,
        "every_seed": holds_on_every_seed(spread, "multitask"),
        "first_contradiction": _first_contradiction(verdicts),
        "not_testable": {"gpu": sum(1 for v in not_testable if "CUDA" in v["rule"]),
                         "other": sum(1 for v in not_testable if "CUDA" not in v["rule"]),
                         # a model-free audit's: the stage that would measure them did not run (its reason)
                         "not_run": sum(1 for v in verdicts if v["verdict"] == NOT_TESTABLE and "not run: " in v["rule"])},
        "not_comparable": sum(1 for v in verdicts if v["verdict"] == NOT_COMPARABLE),
        "synthetic": context.get("data_source") == "synthetic",
        "data_source": context.get("data_source"), "profile": context.get("profile"),
    }
