"""DVC stage `sweeps`: finished sweep jobs -> mean +- std across seeds per sweep x model x split strategy.

Reads sweeps/results/<name>/<job>.json (written by `python -m harness.train.sweep -m ...`, on any launcher)
and writes reports/sweeps.csv (one row per sweep x model x split x settings: seeds, mean and sample
standard deviation of window/video accuracy and macro-F1) and reports/sweeps.json (the same as DVC
metrics). With no finished sweep both are empty and the report leaves the section out.
"""

import argparse
import logging
from pathlib import Path

from harness.cli import run_stage
from harness.io import write_csv, write_json
from harness.train.sweep_table import aggregate, collect_results, table_metrics

log = logging.getLogger("harness")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--table", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args()
    results = collect_results(args.results)
    table = aggregate(results)
    write_csv(args.table, table)
    write_json(args.metrics, table_metrics(table))
    log.info("%d finished jobs in %d groups (sweep x model x split)", len(results), len(table))


if __name__ == "__main__":
    run_stage("sweeps", main)
