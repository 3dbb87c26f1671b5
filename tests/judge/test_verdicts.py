"""The CI verdict gate, the coverage scan, and the joint check as the registry runs it."""

from __future__ import annotations

import json

import pytest
from helpers import REPO

from harness.judge.coverage import REASONS, coverage, exclusions, scan, summary
from harness.judge.verdicts import EXPECTED, judge_writeup, writeup_only

WRITEUP = (REPO / "writeup" / "training-methodology.md").read_text().splitlines()


@pytest.fixture(scope="module")
def judged() -> dict:
    """The registry judged on the write-up alone (the joint check's integer programs run once per module)."""
    return judge_writeup()


def test_verdicts_match_the_committed_expected_file(judged):
    """A verdict that follows from the write-up alone cannot change unless reports/verdicts.expected.json changes
    in the same commit: run `python -m harness.judge.verdicts --update`, read the diff, commit both."""
    expected = json.loads(EXPECTED.read_text())
    actual = writeup_only(judged)
    changed = {k: (expected["claims"].get(k), v) for k, v in actual["claims"].items() if expected["claims"].get(k) != v}
    changed |= {k: (v, None) for k, v in expected["claims"].items() if k not in actual["claims"]}
    assert not changed, f"verdicts changed (expected, now): {changed}; update {EXPECTED.name} in the same change"
    assert actual == expected


def test_every_checkable_figure_of_the_writeup_is_covered(judged):
    uncovered = [f"{r['line']}: {r['text']}" for r in judged["coverage"] if r["status"] == "uncovered"]
    assert not uncovered, "lines with a number and a unit that no claim checks and no reason leaves alone:\n" + "\n".join(uncovered)
    counts = judged["coverage_summary"]
    assert counts["covered"] > 3 * (counts["definition"] + counts["illustration"] + counts["not checkable"])
    # consistent figures are claims too: the tally is not one-sided
    assert judged["counts"]["reproduced"] >= 20


def test_the_scan_finds_numbers_with_units_only():
    lines = ["Accuracy: 99.38%", "lr: 0.001", "Per epoch: ~45 minutes", "FP16: 3.69 it/s", "version 1.0",
             "Speedup: 2× faster", "Total: 423 errors", "see section 3", "161 MB"]
    assert scan(lines) == [1, 3, 4, 6, 7, 9]


def test_coverage_rows_say_why(tmp_path):
    lines = ["a: 5 ms", "b: 10 ms", "c: 7 epochs"]
    left = exclusions([{"quote": "b: 10", "reason": "illustration", "why": "an example"}], lines)
    rows = coverage(lines, {1: ["claim.a"]}, left)
    assert [r["status"] for r in rows] == ["covered", "left alone", "uncovered"]
    assert rows[1]["reason"] in REASONS and rows[1]["why"] == "an example"
    assert summary(rows) == {"lines": 3, "covered": 1, "uncovered": 1, "illustration": 1, "definition": 0, "not checkable": 0}


def test_the_joint_check_finds_the_writeups_evaluation_figures_cannot_all_hold(judged):
    joint = judged["feasibility"]
    assert joint["feasible"] is False and joint["conflicts"]
    named = [{c["id"] for c in conflict} for conflict in joint["conflicts"]]
    assert any({"errors", "accuracy"} <= ids for ids in named)  # 1 - 423/60,635 = 99.30%, not 99.38%
    for conflict in joint["conflicts"]:
        assert all(c["line"] for c in conflict)  # every figure located in the write-up
