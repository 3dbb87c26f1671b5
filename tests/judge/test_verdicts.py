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
    named = [set(conflict["ids"]) for conflict in joint["conflicts"]]
    assert any({"errors", "accuracy"} <= ids for ids in named)  # 1 - 423/60,635 = 99.30%, not 99.38%
    assert joint["small_complete"]
    # every subset of at most 3 figures with an averaged figure is decided too (a witness checked exactly, or a
    # proof): the exact pass finished within its budget and left none undecided
    assert joint["exact_complete"] and not joint["undecided"], joint["note"]
    # weighted F1 is at most accuracy + (1 - the lowest class F1) / 2 x error rate: 1 - 0.9775 x 0.65% < 99.385%
    assert any(set(c["ids"]) == {"error_rate", "all_classes_above_96", "weighted_f1"} for c in joint["conflicts"])
    for conflict in joint["conflicts"]:
        quotes = [(q["quote"], q["line"]) for q in conflict["quotes"]]
        assert all(line for _, line in quotes)  # every figure located in the write-up
        assert len(quotes) == len(set(quotes))  # a quote is shown once, with every reading of it
        assert sum(len(q["readings"]) for q in conflict["quotes"]) == len(conflict["ids"])
        assert conflict["explanation"].endswith(".") and "\n" not in conflict["explanation"]


def test_each_conflict_of_the_writeup_is_told_as_arithmetic(judged):
    """The sentences come from the figures and the solver's proven bounds; a hostile reader can redo each."""
    by_ids = {frozenset(c["ids"]): c for c in judged["feasibility"]["conflicts"]}
    told = {ids: c["explanation"] for ids, c in by_ids.items()}
    assert told[frozenset({"total", "errors", "accuracy"})] == (
        "The other 2 figures fix the number of evaluated samples at 60,635, so accuracy is 60,212 / 60,635 = 99.302%, "
        "outside the printed 99.38% (99.375% to 99.385%).")
    # 13 abnormal classes, each with at least 35 NormalVideos windows predicted as it: 13 x 35 = 455
    assert told[frozenset({"normal_to_abnormal", "errors"})] == (
        "The other figure needs the number of errors to be at least 455; the write-up prints 423.")
    # an F1 of 99.615% or more with at least 35 false positives needs 2C / (2C + 35) >= 0.99615: C >= 4,528
    assert "the support of Stealing to be at least 4,528; the write-up prints 2,118" in told[
        frozenset({"support.Stealing", "normal_to_abnormal", "f1.Stealing"})]
    assert told[frozenset({"error_rate", "accuracy"})].startswith("Accuracy and error rate add up to 100%")
    line_1028 = [q for q in by_ids[frozenset({"total", "errors", "accuracy"})]["quotes"] if len(q["readings"]) == 2]
    assert line_1028 and line_1028[0]["readings"] == ["evaluated samples = 60,635", "errors = 423"]
    # every conflict of at most three figures is listed, and the verdict gate holds exactly those
    assert {frozenset(c) for c in writeup_only(judged)["joint_feasibility"]["small_conflicts"]} == \
        {ids for ids in by_ids if len(ids) <= 3}
