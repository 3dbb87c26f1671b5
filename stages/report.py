"""DVC stage `report`: judge every claim of reports/claims.yaml and render the audit report.

Reads the pipeline's metric files (audit table, evaluations, leakage evidence, benchmarks, training
summaries, the prepared data's summary), measures the multi-task model at the write-up's dimensions
(parameters, checkpoint size), and writes reports/report.html (self-contained), reports/report.md,
reports/figures/*.png and reports/verdicts.json (DVC metrics: verdict counts and each claim's verdict).
"""

import argparse
import logging
from pathlib import Path

from harness.claims import load_claims
from harness.cli import run_stage
from harness.io import atomic_path, write_json
from harness.report import build_context, collect, figures, render

log = logging.getLogger("harness")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=Path, default=Path("reports/claims.yaml"))
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository the pipeline ran in")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args()
    claims = load_claims(args.claims)
    collected = collect(args.root, args.out)
    images = figures(collected)
    context = build_context(collected, claims, images)
    html, markdown = render(context)
    (args.out / "figures").mkdir(parents=True, exist_ok=True)
    for name, data in images.items():
        with atomic_path(args.out / "figures" / name) as tmp:
            tmp.write_bytes(data)
    for name, text in (("report.html", html), ("report.md", markdown)):
        with atomic_path(args.out / name) as tmp:
            tmp.write_text(text)
    write_json(args.out / "verdicts.json", {"counts": context["counts"],
                                            "verdicts": {v["id"]: v["verdict"] for v in context["verdicts"]}})
    log.info("report: %d claims: %s", len(claims), ", ".join(f"{k} {v}" for k, v in context["counts"].items()))


if __name__ == "__main__":
    run_stage("report", main)
