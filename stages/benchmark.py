"""DVC stage `benchmark`: throughput of the write-up's speed techniques, measured side by side.

Workloads (params.yaml `bench.workloads`): precision (fp32 vs AMP training step and backbone, model-only),
loader (real PNG decode + augmentation; workers, prefetch, persistent workers, pinned memory), amp_x_loader
(the 2x2 the write-up multiplies, end to end), augment (albumentations vs torchvision.transforms.v2, one
thread), compile (eager vs torch.compile, inference and training step, compile time apart), flops
(FLOPs per step, achieved FLOP/s, fraction of the card's peak on a GPU).

Writes, under --out: records.json and records.csv (one flat record per arm: model, batch, clip shape,
precision, compile mode, device, versions, threads, warm-up and timed steps, rounds, median, IQR,
samples/s, noisy flag) and summary.json (DVC metrics: each speed claim's ratio with its 95% interval
and status, measured or not testable here with the stand-in; and the multi-task model at the write-up's
dimensions: parameters, fp32 weight and weights+AdamW checkpoint sizes, for the report's claims).
A model-free audit (run.model_free) times nothing: empty records and a summary that says why (`not_run`).
"""

import argparse
import logging
from pathlib import Path

import pandas as pd

from harness.bench.model_facts import paper_model_facts
from harness.bench.run import run_benchmarks
from harness.bench.workbench import make_workbench
from harness.cli import run_stage
from harness.config import RunConfig, load_params, load_section
from harness.io import write_csv, write_json
from harness.leakage.splits import load_manifest

log = logging.getLogger("harness")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, required=True, help="windows for the loader (the train role)")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    run = load_section(params, "run", RunConfig)
    if run.not_run:  # a model-free audit: the same files, saying so (the report marks the speed claims not run)
        write_json(args.out / "records.json", [])
        write_csv(args.out / "records.csv", pd.DataFrame(columns=["name"]))
        write_json(args.out / "summary.json", {"profile": run.profile, "data_source": params["data"]["source"],
                                               "not_run": run.not_run, "claims": {}, "noisy_records": 0,
                                               "model": {"paper": paper_model_facts()}})
        log.warning("not run: %s", run.not_run)
        return
    manifest, _ = load_manifest(args.manifest)
    index = pd.read_parquet(args.index, columns=["path"])
    bench = make_workbench(params, index["path"].to_numpy(), manifest.role("train"))
    records, summary = run_benchmarks(bench, progress=lambda name: log.info("benchmark: %s", name))
    # the write-up's model at its own dimensions, built here: parameters, weight and checkpoint bytes
    summary = {"profile": run.profile, "data_source": params["data"]["source"], **summary,
               "model": {"paper": paper_model_facts()}}
    write_json(args.out / "records.json", records)
    write_csv(args.out / "records.csv", pd.DataFrame([{k: v for k, v in r.items() if k != "rounds"} for r in records]))
    write_json(args.out / "summary.json", summary)
    for name, claim in summary["claims"].items():
        if claim.get("ratio") is not None:
            log.info("%-34s %.3fx [%.3f, %.3f]", name, claim["ratio"], claim["ci_low"], claim["ci_high"])
        else:
            log.info("%-34s %s (stand-in: %s)", name, claim["status"], claim.get("stand_in"))
    if summary["noisy_records"]:
        log.info("%d records are noisy (IQR/median above bench.noisy_iqr_fraction)", summary["noisy_records"])


if __name__ == "__main__":
    run_stage("benchmark", main)
