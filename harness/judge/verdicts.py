"""Everything the registry decides, in one place: claims, findings, the joint check and coverage.

``judge_registry`` is what the report renders and what ``reports/verdicts.json`` records. ``writeup_only``
is the part that depends on the write-up alone (not on this run's measurements): the CI gate compares it
with the committed ``reports/verdicts.expected.json``, so a verdict cannot change without the expected
file changing in the same commit. ``python -m harness.judge.verdicts --update`` rewrites that file.
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.judge.claims import (
    Registry,
    covered_lines,
    finding_tally,
    findings_of,
    judge_all,
    load_registry,
    locate,
    tally,
)
from harness.judge.coverage import coverage, exclusions, lines_of, summary

REPO = Path(__file__).resolve().parents[2]
REGISTRY = REPO / "reports" / "claims.yaml"
WRITEUP = REPO / "writeup" / "training-methodology.md"
EXPECTED = REPO / "reports" / "verdicts.expected.json"


def judge_registry(registry: Registry, writeup: list[str], classes: list[str], bundle: dict[str, Any],
                   context: dict[str, Any]) -> dict[str, Any]:
    """Verdicts, findings, the joint feasibility of the evaluation figures and the coverage scan."""
    claims = locate(registry.claims, writeup)
    verdicts = judge_all(claims, bundle, context)
    findings = findings_of(verdicts, registry.findings)
    joint = joint_feasibility(registry.extra.get("feasibility"), classes, writeup)
    covered = covered_lines(claims, writeup)
    for line, ids in joint.get("lines", {}).items():
        covered.setdefault(line, []).extend(ids)
    rows = coverage(writeup, covered, exclusions(registry.extra.get("coverage") or [], writeup))
    return {"verdicts": [v.as_dict() for v in verdicts], "counts": tally(verdicts), "findings": findings,
            "finding_counts": finding_tally(findings), "feasibility": joint, "coverage": rows,
            "coverage_summary": summary(rows), "review": registry.extra.get("review") or []}


def joint_feasibility(section: dict[str, Any] | None, classes: list[str], writeup: list[str]) -> dict[str, Any]:
    """The registry's ``feasibility`` section run through the exact solver (harness.judge.feasibility)."""
    if not section:
        return {}
    from harness.judge.feasibility import Figure

    figures, lines, first_line = [], {}, {}
    for i, entry in enumerate(section.get("figures") or []):
        quote = entry.get("quote", "")
        found = lines_of(quote, writeup) if quote else []
        if quote and not found:
            raise HarnessError(f"feasibility.figures[{i}] ({entry.get('id')}): quote {quote!r} is not in the write-up")
        first_line[entry["id"]] = found[0] if found else None
        for line in found[:1]:
            lines.setdefault(line, []).append(f"joint:{entry['id']}")
        for extra in entry.get("also") or []:
            for line in lines_of(extra, writeup)[:1]:
                lines.setdefault(line, []).append(f"joint:{entry['id']}")
        figures.append(Figure(**{k: v for k, v in entry.items() if k != "also"}))
    result = _solve(json.dumps([f.__dict__ for f in figures], sort_keys=True), tuple(classes),
                    section.get("normal", "NormalVideos"))
    by_id = {f.id: f for f in figures}
    return {"feasible": result.feasible if result.decided else None, "note": result.note, "evaluation_set": section.get("evaluation_set", ""),
            "assumptions": section.get("assumptions") or [],
            "conflicts": [{"ids": conflict, "explanation": explanation,
                           "quotes": quoted([by_id[i] for i in conflict], first_line)}
                          for conflict, explanation in zip(result.conflicts, result.explanations, strict=True)],
            "small_complete": result.small_complete, "exact_complete": result.exact_complete,
            "undecided": [{"ids": ids, "quotes": quoted([by_id[i] for i in ids], first_line)} for ids in result.undecided],
            "figures": len(figures), "lines": lines}


def quoted(figures: list[Any], first_line: dict[str, int | None]) -> list[dict[str, Any]]:
    """A conflict's figures by quote: a sentence read as two figures (its error count and its total) is shown
    once, with both readings named."""
    from harness.judge.feasibility import reading

    out: dict[tuple[str, int | None], dict[str, Any]] = {}
    for fig in figures:
        entry = out.setdefault((fig.quote, first_line[fig.id]), {"quote": fig.quote, "line": first_line[fig.id],
                                                                  "ids": [], "readings": []})
        entry["ids"].append(fig.id)
        entry["readings"].append(reading(fig))
    return list(out.values())


@functools.lru_cache(maxsize=8)
def _solve(figures_json: str, classes: tuple[str, ...], normal: str) -> Any:
    """The solver's answer, kept for the process: the same figures give the same answer, and it takes seconds."""
    from harness.judge.feasibility import Figure, check

    return check([Figure(**f) for f in json.loads(figures_json)], list(classes), normal)


def writeup_only(judged: dict[str, Any]) -> dict[str, Any]:
    """The verdicts that follow from the write-up (and its code, data and libraries) alone, not from a run."""
    joint = judged.get("feasibility") or {}
    return {"claims": {v["id"]: v["verdict"] for v in judged["verdicts"] if v["check"] != "measured"},
            "findings": {f["id"]: f["verdict"] for f in judged["findings"]
                         if all(v["check"] != "measured" for v in judged["verdicts"] if v["finding"] == f["id"])},
            # every conflict of at most 3 figures is searched exhaustively (the same on any machine); larger ones
            # depend on the solver's time budget, so a slower machine may list fewer, and the gate does not hold them
            "joint_feasibility": {"feasible": joint.get("feasible"),
                                  "small_conflicts": [c["ids"] for c in joint.get("conflicts") or [] if len(c["ids"]) <= 3]},
            "coverage": judged["coverage_summary"]}


def default_classes() -> list[str]:
    """The 14 class names of the default configuration (the write-up's classes)."""
    import yaml

    from harness.config import compose_params

    return list(yaml.safe_load(compose_params([]))["data"]["classes"])


def judge_writeup(registry_path: Path = REGISTRY, writeup_path: Path = WRITEUP) -> dict[str, Any]:
    """The registry judged with no run at all (every measured claim then says what it needs)."""
    registry = load_registry(registry_path)
    writeup = Path(writeup_path).read_text().splitlines()
    return judge_registry(registry, writeup, default_classes(), {}, {"data_source": "none", "profile": "none", "cuda": False})


def main() -> None:
    parser = argparse.ArgumentParser(description="Print the write-up-only verdicts, or --update the expected file.")
    parser.add_argument("--update", action="store_true", help=f"rewrite {EXPECTED.relative_to(REPO)}")
    args = parser.parse_args()
    view = writeup_only(judge_writeup())
    text = json.dumps(view, indent=2, sort_keys=True) + "\n"
    if args.update:
        EXPECTED.write_text(text)
        print(f"wrote {EXPECTED.relative_to(REPO)}")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
