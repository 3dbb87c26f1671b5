"""DVC stage `report`: judge every claim of reports/claims.yaml and render the audit report.

Reads the pipeline's metric files (audit table, evaluations, leakage evidence, benchmarks, training
summaries, the prepared data's summary), measures the multi-task model at the write-up's dimensions
(parameters, checkpoint size), and writes reports/report.html (self-contained), reports/report.md,
reports/figures/*.png and reports/verdicts.json (DVC metrics: claim and finding counts, each claim's verdict,
the joint feasibility of the evaluation figures, the coverage scan, the write-up-only view the CI gate
compares with reports/verdicts.expected.json, and the overlap its split implies: harness/judge/overlap.py).
"""

import argparse
import logging
from pathlib import Path

from harness.cli import run_stage
from harness.errors import HarnessError
from harness.io import atomic_path, write_json
from harness.judge.claims import load_registry
from harness.judge.verdicts import writeup_only
from harness.report.figures import figures
from harness.report.render import ReportInputs, build_context, collect, render

log = logging.getLogger("harness")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=Path, required=True)
    parser.add_argument("--writeup", type=Path, required=True,
                        help="the audited write-up (claims quote it; the coverage scan reads it)")
    for name, help_text in (("audit", "the audit stage's audit.json"), ("audit-table", "the audit stage's table"),
                            ("sweeps", "the sweeps stage's table"), ("bench", "the benchmark stage's folder"),
                            ("probe", "the probe stage's metrics.json"), ("prepared", "the prepare stage's summary.json"),
                            ("splits", "the split stages' folder"), ("evals", "the evaluation folders"),
                            ("runs", "the folder holding train/ and control/"), ("params", "params.yaml"),
                            ("gpu-results", "make gpu-check's results folder (the newest is shown)")):
        parser.add_argument(f"--{name}", type=Path, required=True, help=help_text)
    parser.add_argument("--repo", type=Path, default=Path("."), help="the repository (git state, dvc.lock)")
    parser.add_argument("--out", type=Path, required=True, help="where report.html, report.md, figures/ and verdicts.json go")
    args = parser.parse_args()
    registry = load_registry(args.claims)
    if not args.writeup.is_file():
        raise HarnessError(f"the audited write-up {args.writeup} does not exist (pass --writeup)")
    writeup = args.writeup.read_text().splitlines()
    collected = collect(ReportInputs(audit=args.audit, audit_table=args.audit_table, sweeps=args.sweeps, bench=args.bench,
                                     probe=args.probe, prepared=args.prepared, splits=args.splits, evals=args.evals,
                                     runs=args.runs, params=args.params, gpu_results=args.gpu_results,
                                     repo=args.repo))
    images = figures(collected)
    context = build_context(collected, registry, images, writeup)
    html, markdown = render(context)
    (args.out / "figures").mkdir(parents=True, exist_ok=True)
    for name, data in images.items():
        with atomic_path(args.out / "figures" / name) as tmp:
            tmp.write_bytes(data)
    for name, text in (("report.html", html), ("report.md", markdown)):
        with atomic_path(args.out / name) as tmp:
            tmp.write_text(text)
    judged = context["judged"]
    write_json(args.out / "verdicts.json", {
        "counts": judged["counts"], "finding_counts": judged["finding_counts"],
        "verdicts": {v["id"]: v["verdict"] for v in judged["verdicts"]},
        "findings": {f["id"]: {"verdict": f["verdict"], "severity": f["severity"], "claims": f["claims"]}
                     for f in judged["findings"]},
        "coverage": judged["coverage_summary"], "writeup_only": writeup_only(judged),
        "overlap": {f"validation_windows_sharing_at_least_{m}_frames": share
                    for m, share in ((context["verdict"]["overlap"] or {}).get("shares") or {}).items()}})
    log.info("report: %d claims in %d findings: %s", len(registry.claims), len(judged["findings"]),
             ", ".join(f"{k} {sum(v.values())}" for k, v in judged["finding_counts"].items()))


if __name__ == "__main__":
    run_stage("report", main)
