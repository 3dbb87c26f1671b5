"""DVC stage `audit`: the auditor's table from every evaluation and every split's leakage evidence.

Writes reports/audit_table.csv (one row per model x labels x split strategy: score, interval, floor,
videos, windows, leakage evidence) and reports/audit.json (DVC metrics: scores by model and strategy,
and the drop from the frame split to the video and official splits with bootstrap intervals).
"""

import argparse
import logging
from pathlib import Path

from harness.cli import run_stage
from harness.config import DataConfig, EvaluateConfig, RunConfig, load_params, load_section
from harness.errors import HarnessError
from harness.io import read_json, write_csv, write_json
from harness.scoring.audit import audit, load_evaluations

log = logging.getLogger("harness")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evals", type=Path, action="append", required=True,
                        help="a folder of evaluations (<name>/metrics.json + predictions.csv); may repeat")
    parser.add_argument("--splits", type=Path, required=True)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--table", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    data = load_section(params, "data", DataConfig)
    cfg = load_section(params, "evaluate", EvaluateConfig)
    evaluations = {name: e for folder in args.evals for name, e in load_evaluations(folder).items()}
    if not evaluations:
        raise HarnessError(f"no evaluations under {', '.join(map(str, args.evals))}: run the evaluate stages first")
    leakage = {p.parent.name: read_json(p) for p in args.splits.glob("*/leakage.json")}
    table, metrics = audit(evaluations, leakage, len(data.classes), cfg)
    write_csv(args.table, table)
    profile = load_section(params, "run", RunConfig).profile
    write_json(args.metrics, {"data_source": data.source, "profile": profile, **metrics})
    for row in table.itertuples():
        log.info("%-9s %-8s %-8s accuracy %.3f [%.3f, %.3f] floor %.3f  macro-F1 %.3f", row.model, row.labels[:8],
                 row.strategy, row.accuracy, row.accuracy_ci_low, row.accuracy_ci_high, row.majority_class_rate,
                 row.macro_f1)


if __name__ == "__main__":
    run_stage("audit", main)
