"""The verdict rules at their boundaries, the expression language, and the registry itself."""

from __future__ import annotations

import pytest
from conftest import REPO

from harness.claims import (
    CONTRADICTED,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    NOT_TESTABLE,
    REPRODUCED,
    VERDICTS,
    Claim,
    evaluate,
    judge,
    judge_all,
    load_claims,
)
from harness.errors import HarnessError

SYNTHETIC_CPU = {"data_source": "synthetic", "cuda": False}
REAL_GPU = {"data_source": "ucf_crime_frames", "cuda": True}


def measured(value=0.9, tolerance=0.05, metric="audit.scores.m.frame.accuracy", **kw) -> Claim:
    return Claim(id="t", section="s", claim="c", value=value, unit="fraction", check="measured",
                 tolerance=tolerance, metric=metric, **kw)


def scores(point, low=None, high=None) -> dict:
    entry = {"accuracy": point}
    if low is not None:
        entry.update(accuracy_ci_low=low, accuracy_ci_high=high)
    return {"audit": {"scores": {"m": {"frame": entry}}}}


@pytest.mark.parametrize(("low", "high", "verdict"), [
    (0.86, 0.94, REPRODUCED),        # inside the band [0.85, 0.95]
    (0.85, 0.95, REPRODUCED),        # exactly at tolerance on both edges: still inside
    (0.80, 0.90, INCONCLUSIVE),      # straddles the lower edge
    (0.90, 0.97, INCONCLUSIVE),      # straddles the upper edge
    (0.60, 0.849, NOT_REPRODUCED),   # wholly below
    (0.951, 0.99, NOT_REPRODUCED),   # wholly above
    (0.80, 0.99, INCONCLUSIVE),      # wider than the band
])
def test_measured_interval_against_the_band(low, high, verdict):
    result = judge(measured(), scores((low + high) / 2, low, high), SYNTHETIC_CPU)
    assert result.verdict == verdict, result.rule
    assert result.interval == (low, high)


def test_a_point_without_an_interval_is_judged_as_a_point():
    assert judge(measured(), scores(0.95), SYNTHETIC_CPU).verdict == REPRODUCED  # exactly at tolerance
    assert judge(measured(), scores(0.9500001), SYNTHETIC_CPU).verdict == NOT_REPRODUCED


def test_a_missing_metric_is_inconclusive_never_reproduced():
    result = judge(measured(metric="audit.scores.m.video.accuracy"), scores(0.9, 0.89, 0.91), SYNTHETIC_CPU)
    assert result.verdict == INCONCLUSIVE
    assert "not produced" in result.rule
    assert judge(measured(), {}, SYNTHETIC_CPU).verdict == INCONCLUSIVE


def test_hardware_or_data_the_run_lacks_is_not_testable_with_its_stand_in():
    bundle = {"bench": {"claims": {"bf16": {"ratio": 0.12, "ci_low": 0.1, "ci_high": 0.14}}}}
    claim = measured(value=2.0, tolerance=0.2, metric="bench.claims.fp16.ratio", requires=("cuda",),
                     stand_in="bench.claims.bf16.ratio")
    result = judge(claim, bundle, SYNTHETIC_CPU)
    assert result.verdict == NOT_TESTABLE and "CUDA" in result.rule
    assert result.stand_in == {"metric": "bench.claims.bf16.ratio", "value": 0.12, "ci_low": 0.1, "ci_high": 0.14}
    # the stand-in (2.0 claimed, bf16 0.12 measured) never turns into "not reproduced" either
    gpu = {"bench": {"claims": {"fp16": {"ratio": 1.9, "ci_low": 1.85, "ci_high": 1.95}}}}
    assert judge(claim, gpu, REAL_GPU).verdict == REPRODUCED
    data_claim = measured(requires=("ucf_crime",))
    synthetic = judge(data_claim, scores(0.9, 0.89, 0.91), SYNTHETIC_CPU)
    assert synthetic.verdict == NOT_TESTABLE and "synthetic" in synthetic.rule
    assert judge(data_claim, scores(0.9, 0.89, 0.91), REAL_GPU).verdict == REPRODUCED


def test_a_benchmark_arm_that_could_not_run_is_not_testable():
    bundle = {"bench": {"claims": {
        "compile_reduce_overhead_train": {"ratio": None, "status": NOT_TESTABLE, "why": "needs CUDA graphs",
                                          "stand_in": "compile_default_train"},
        "compile_default_train": {"ratio": 0.8, "ci_low": 0.7, "ci_high": 0.9, "status": "measured"}}}}
    claim = measured(value=1.2, tolerance=0.1, metric="bench.claims.compile_reduce_overhead_train.ratio")
    result = judge(claim, bundle, SYNTHETIC_CPU)
    assert result.verdict == NOT_TESTABLE and result.rule == "needs CUDA graphs"
    assert result.stand_in["metric"] == "bench.claims.compile_default_train.ratio"
    assert result.stand_in["value"] == 0.8


def test_arithmetic_at_and_beyond_tolerance():
    def arithmetic(value, tolerance):
        return Claim(id="a", section="s", claim="c", value=value, unit="fraction", check="arithmetic",
                     tolerance=tolerance, inputs={"errors": 423, "total": 60635}, expression="1 - errors / total")
    derived = 1 - 423 / 60635  # 0.993024...
    assert judge(arithmetic(0.9938, 0.00005), {}, SYNTHETIC_CPU).verdict == CONTRADICTED
    exact = judge(arithmetic(round(derived, 4), abs(round(derived, 4) - derived)), {}, SYNTHETIC_CPU)
    assert exact.verdict == REPRODUCED  # a difference exactly equal to the tolerance
    assert exact.measured == pytest.approx(derived)
    assert "errors = 423" in exact.rule


def test_methodology_conditions():
    early_stop = Claim(id="m", section="s", claim="c", value=1, unit="epochs", check="methodology", tolerance=0,
                       inputs={"stopped": 13, "best": 15, "patience": 15}, expression="stopped >= best + patience")
    result = judge(early_stop, {}, SYNTHETIC_CPU)
    assert result.verdict == CONTRADICTED and "False" in result.rule
    sound = Claim(id="m2", section="s", claim="c", value=1, unit="epochs", check="methodology", tolerance=0,
                  inputs={"stopped": 30, "best": 15, "patience": 15}, expression="stopped >= best + patience")
    assert judge(sound, {}, SYNTHETIC_CPU).verdict == REPRODUCED


@pytest.mark.parametrize("expression", ["__import__('os').system('true')", "open('x')", "a.real", "[a]", "b + 1"])
def test_expressions_refuse_anything_but_arithmetic(expression):
    with pytest.raises(HarnessError):
        evaluate(expression, {"a": 1.0})


def test_expressions_compute():
    assert evaluate("sqrt(a) * 2 + max(a, 3) - abs(-1)", {"a": 4.0}) == 2 * 2 + 4 - 1
    assert evaluate("a / b > 1 and not a == b", {"a": 3.69, "b": 1.85}) is True


def test_registry_errors_name_the_claim(tmp_path):
    bad = tmp_path / "claims.yaml"
    bad.write_text("claims:\n- id: x\n  section: s\n  claim: c\n  value: 1\n  unit: x\n  check: measured\n  tolerance: 0.1\n")
    with pytest.raises(HarnessError, match=r"claims\[0\] \(x\): a measured claim needs `metric`"):
        load_claims(bad)
    bad.write_text("claims:\n- id: y\n  section: s\n  claim: c\n  value: 1\n  unit: x\n  check: arithmetic\n"
                   "  tolerance: 0.1\n  inputs: {a: 1}\n  expression: a + q\n")
    with pytest.raises(HarnessError, match=r"\(y\).*names 'q'"):
        load_claims(bad)


def test_the_registry_covers_the_writeup_and_every_claim_gets_a_verdict():
    claims = load_claims(REPO / "reports" / "claims.yaml")
    ids = {c.id for c in claims}
    assert len(claims) >= 40
    sections = {c.section.split()[0] for c in claims}
    assert {"1.3", "2.2", "3.1", "3.3", "3.4", "3.7", "5.3", "5.4"} <= sections
    checks = {c.check for c in claims}
    assert checks == {"measured", "arithmetic", "methodology"}
    verdicts = judge_all(claims, {}, SYNTHETIC_CPU)
    assert len(verdicts) == len(claims) and all(v.verdict in VERDICTS for v in verdicts)
    by_id = {v.claim.id: v for v in verdicts}
    # the write-up's own numbers, checked without running anything
    assert by_id["accuracy.from_errors"].verdict == CONTRADICTED
    assert by_id["early_stop.patience"].verdict == CONTRADICTED
    assert by_id["test_is_validation"].verdict == CONTRADICTED
    assert by_id["speed.fp16_arith"].verdict == REPRODUCED
    assert by_id["accuracy.test"].verdict == NOT_TESTABLE  # UCF-Crime accuracy on synthetic data
    assert {"speed.total_29x_factors", "speed.epoch_45_to_12", "focal.fl_easy", "lr.final", "memory.amp_halving",
            "memory.12gb_at_224", "checkpoint.fp32_weights", "aug.albumentations_gpu", "class.table_total_vs_train"} <= ids
