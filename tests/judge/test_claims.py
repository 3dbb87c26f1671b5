"""The verdict rules at their boundaries, provenance, one-sided bands, scale, and the registry itself."""

from __future__ import annotations

import math

import pytest
from helpers import REPO

from harness.errors import HarnessError
from harness.judge.claims import (
    CONTRADICTED_BY,
    EXCEEDS,
    INCONCLUSIVE,
    NOT_COMPARABLE,
    NOT_REPRODUCED,
    NOT_TESTABLE,
    REPRODUCED,
    VERDICTS,
    Claim,
    finding_tally,
    findings_of,
    judge,
    judge_all,
    load_registry,
    locate,
)

SYNTHETIC_CPU = {"data_source": "synthetic", "profile": "cpu", "cuda": False}
PAPER_GPU = {"data_source": "ucf_crime_frames", "profile": "paper", "cuda": True}


def measured(value=0.9, tolerance=0.05, metric="audit.scores.m.frame.accuracy", **kw) -> Claim:
    return Claim(id="t", section="s", source="q", reading="r", value=value, unit="fraction", check="measured",
                 provenance="measurement", tolerance=tolerance, metric=(metric,), **kw)


def derived(expression: str, inputs: dict, value=None, check="arithmetic", provenance="writeup", **kw) -> Claim:
    return Claim(id="d", section="s", source="q", reading="r", value=value, check=check, provenance=provenance,
                 inputs=inputs, expression=expression, **kw)


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
    assert judge(measured(), scores((low + high) / 2, low, high), SYNTHETIC_CPU).verdict == verdict


def test_a_printed_claim_carries_its_rounding():
    # "99.38%" stands for [0.99375, 0.99385]; tolerance widens that interval, not the point
    claim = measured(value="99.38%", tolerance=0.01)
    assert claim.band == pytest.approx((0.98375, 1.00385))
    assert judge(claim, scores(0.98376), SYNTHETIC_CPU).verdict == REPRODUCED
    assert judge(claim, scores(0.98370), SYNTHETIC_CPU).verdict == NOT_REPRODUCED
    assert measured(value="161", tolerance=0, relative=0.1).band == pytest.approx((160.5 - 16.15, 161.5 + 16.15))


@pytest.mark.parametrize(("low", "high", "verdict"), [
    (1.85, 1.95, REPRODUCED),   # at least 1.8 and within the claimed 2.0 +- 0.2
    (2.30, 2.90, EXCEEDS),      # wholly above the claim: beyond it, never "not reproduced"
    (2.10, 2.50, REPRODUCED),   # overlaps the claimed band's top: inside, not beyond
    (1.70, 1.90, INCONCLUSIVE),  # straddles the lower edge
    (1.20, 1.70, NOT_REPRODUCED),
])
def test_at_least_claims_are_one_sided(low, high, verdict):
    claim = measured(value=2.0, tolerance=0.2, direction="at_least", metric="bench.claims.x.ratio")
    bundle = {"bench": {"claims": {"x": {"ratio": (low + high) / 2, "ci_low": low, "ci_high": high}}}}
    assert judge(claim, bundle, SYNTHETIC_CPU).verdict == verdict


def test_a_claim_over_several_measurements_needs_them_to_agree():
    claim = measured(value=[5, 10], tolerance=0, direction="at_least", metric="bench.claims.a.ratio")
    claim = Claim(**{**claim.__dict__, "metric": ("bench.claims.a.ratio", "bench.claims.b.ratio")})
    agree = {"bench": {"claims": {"a": {"ratio": 6, "ci_low": 5.5, "ci_high": 6.5}, "b": {"ratio": 7, "ci_low": 6, "ci_high": 8}}}}
    assert judge(claim, agree, SYNTHETIC_CPU).verdict == REPRODUCED
    disagree = {"bench": {"claims": {"a": {"ratio": 4, "ci_low": 3.5, "ci_high": 4.5}, "b": {"ratio": 7, "ci_low": 6, "ci_high": 8}}}}
    verdict = judge(claim, disagree, SYNTHETIC_CPU)
    assert verdict.verdict == INCONCLUSIVE and "disagree" in verdict.rule


def test_a_point_without_an_interval_is_judged_as_a_point():
    assert judge(measured(), scores(0.9), SYNTHETIC_CPU).verdict == REPRODUCED
    assert judge(measured(), scores(0.5), SYNTHETIC_CPU).verdict == NOT_REPRODUCED


def test_a_missing_metric_is_inconclusive_and_nan_is_named_nan():
    verdict = judge(measured(), {}, SYNTHETIC_CPU)
    assert verdict.verdict == INCONCLUSIVE and "not produced" in verdict.rule
    verdict = judge(measured(), scores(float("nan")), SYNTHETIC_CPU)
    assert verdict.verdict == INCONCLUSIVE and "NaN" in verdict.rule and "not produced" not in verdict.rule
    bounds_nan = judge(measured(), scores(0.9, float("nan"), float("nan")), SYNTHETIC_CPU)
    assert bounds_nan.interval is None and bounds_nan.verdict == REPRODUCED  # judged as a point, said so
    assert "no interval" in bounds_nan.rule
    # a stage that did not run (a model-free audit) said why: not testable, with its sentence, not inconclusive
    skipped = judge(measured(), {"audit": {"scores": {}, "not_run": "a model-free audit"}}, SYNTHETIC_CPU)
    assert skipped.verdict == NOT_TESTABLE and skipped.rule == "not run: a model-free audit"


def test_scale_and_hardware_requirements_show_the_stand_in():
    claim = measured(requires=("paper_scale",), stand_in="audit.scores.m.frame.accuracy")
    verdict = judge(claim, scores(0.7, 0.6, 0.8), SYNTHETIC_CPU)
    assert verdict.verdict == NOT_COMPARABLE and "profile cpu on synthetic" in verdict.rule
    assert verdict.stand_in["value"] == 0.7 and verdict.stand_in["ci_low"] == 0.6
    assert judge(claim, scores(0.7, 0.6, 0.8), PAPER_GPU).verdict == NOT_REPRODUCED
    # the original videos re-extracted by the harness are not the write-up's frame set
    assert judge(claim, scores(0.9), {**PAPER_GPU, "data_source": "ucf_crime_videos"}).verdict == NOT_COMPARABLE
    gpu = measured(requires=("cuda",), metric="bench.claims.fp16.ratio")
    assert judge(gpu, {}, SYNTHETIC_CPU).verdict == NOT_TESTABLE


def test_the_benchmarks_stand_in_is_shown_when_the_registry_names_none():
    bundle = {"bench": {"claims": {"fp16_train_step": {"ratio": None, "status": NOT_TESTABLE, "why": "needs CUDA",
                                                       "stand_in": "bf16_train_step"},
                                   "bf16_train_step": {"ratio": 0.5, "ci_low": 0.4, "ci_high": 0.6}}}}
    for requires in ((), ("cuda",)):  # the arm could not run, or the claim's requirement failed first
        claim = measured(requires=requires, metric="bench.claims.fp16_train_step.ratio")
        verdict = judge(claim, bundle, SYNTHETIC_CPU)
        assert verdict.verdict == NOT_TESTABLE
        assert verdict.stand_in == {"metric": "bench.claims.bf16_train_step.ratio", "value": 0.5, "nan": False,
                                    "ci_low": 0.4, "ci_high": 0.6}


# --------------------------------------------------------------------------- arithmetic over printed figures
def test_the_cv_mean_is_consistent_once_the_folds_rounding_counts():
    folds = {f"f{i}": v for i, v in enumerate(["99.2%", "99.3%", "99.4%", "99.4%", "99.0%"])}
    claim = derived("(f0 + f1 + f2 + f3 + f4) / 5", folds, value="99.2%")
    verdict = judge(claim, {}, SYNTHETIC_CPU)
    assert verdict.verdict == REPRODUCED and verdict.interval == pytest.approx((0.9921, 0.9931))
    # read as exact numbers the same folds miss 99.2% [99.15, 99.25]: that was the disputed verdict
    exact = derived("(f0 + f1 + f2 + f3 + f4) / 5", {k: float(v[:-1]) / 100 for k, v in folds.items()}, value="99.2%")
    assert judge(exact, {}, SYNTHETIC_CPU).verdict == CONTRADICTED_BY["writeup"]


def test_alpha_of_a_rounded_share_meets_a_rounded_alpha():
    assert judge(derived("1 / sqrt(freq)", {"freq": "76%"}, value="1.14"), {}, SYNTHETIC_CPU).verdict == REPRODUCED
    assert judge(derived("1 / sqrt(freq)", {"freq": 0.76}, value="1.14"), {}, SYNTHETIC_CPU).verdict != REPRODUCED
    assert judge(derived("1 / sqrt(freq)", {"freq": 0.76}, value=1.14, relative=0.01), {}, SYNTHETIC_CPU).verdict == REPRODUCED


def test_contradictions_name_their_provenance():
    for provenance, words in CONTRADICTED_BY.items():
        claim = derived("a / b", {"a": 423, "b": 60635}, value="99.38%", provenance=provenance)
        assert judge(claim, {}, SYNTHETIC_CPU).verdict == words
    condition = derived("a == 1", {"a": 0}, check="methodology", provenance="library")
    assert judge(condition, {}, SYNTHETIC_CPU).verdict == "contradicted by how the library works"


def test_conditions_hold_when_some_admissible_values_satisfy_them():
    within = derived("a - b > 0.0007", {"a": "99.4%", "b": "99.38%"}, check="methodology")  # 99.45 - 99.375 = 0.075 pt
    verdict = judge(within, {}, SYNTHETIC_CPU)
    assert verdict.verdict == REPRODUCED and verdict.holds and "some values" in verdict.rule
    never = derived("a - b > 0.0008", {"a": "99.4%", "b": "99.38%"}, check="methodology")
    assert judge(never, {}, SYNTHETIC_CPU).verdict == CONTRADICTED_BY["writeup"]
    assert judge(never, {}, SYNTHETIC_CPU).holds is False


def test_registry_errors_are_one_sentence(tmp_path):
    def error_of(body: str) -> str:
        path = tmp_path / "claims.yaml"
        path.write_text("claims:\n- " + body.replace("\n", "\n  ") + "\n")
        with pytest.raises(HarnessError) as caught:
            load_registry(path)
        message = str(caught.value)
        assert "\n" not in message and "Traceback" not in message
        return message

    base = "id: x\nsection: s\nsource: q\nreading: r\n"
    assert "a measured claim needs `metric`" in error_of(base + "check: measured\nvalue: 1\nprovenance: measurement")
    assert "names 'q'" in error_of(base + "check: arithmetic\nvalue: 1\ninputs: {a: 1}\nexpression: a + q")
    assert "divides by zero" in error_of(base + "check: arithmetic\nvalue: 1\ninputs: {a: 0}\nexpression: 1 / a")
    assert "domain" in error_of(base + "check: arithmetic\nvalue: 1\ninputs: {a: -1}\nexpression: sqrt(a)")
    assert "domain" in error_of(base + "check: arithmetic\nvalue: 1\ninputs: {a: 0}\nexpression: log(a)")
    assert "power above" in error_of(base + "check: arithmetic\nvalue: 1\ninputs: {a: 10}\nexpression: a ** 10 ** 10")
    assert "tolerance = True must be a number" in error_of(base + "check: arithmetic\nvalue: 1\ntolerance: true\ninputs: {a: 1}\nexpression: a")
    assert "not a printed number" in error_of(base + "check: arithmetic\nvalue: 'about one'\ninputs: {a: 1}\nexpression: a")
    assert "must be a condition" in error_of(base + "check: methodology\ninputs: {a: 1}\nexpression: a + 1")
    assert "must give a number" in error_of(base + "check: arithmetic\nvalue: 1\ninputs: {a: 1}\nexpression: a == 1")
    assert "provenance" in error_of(base + "check: arithmetic\nvalue: 1\nprovenance: vibes\ninputs: {a: 1}\nexpression: a")
    assert "unknown key" in error_of(base + "check: arithmetic\nvalue: 1\nclaim: old\ninputs: {a: 1}\nexpression: a")
    assert "not declared" in error_of(base + "check: arithmetic\nvalue: 1\nfinding: nope\ninputs: {a: 1}\nexpression: a")


def test_findings_group_claims_and_count_by_severity(tmp_path):
    registry = load_registry(REPO / "reports" / "claims.yaml")
    verdicts = judge_all(registry.claims, {}, SYNTHETIC_CPU)
    findings = findings_of(verdicts, registry.findings)
    by_id = {f["id"]: f for f in findings}
    checkpoint = by_id["checkpoint-161mb"]
    # four claims about one printed figure are one finding, decided by its most decisive claim
    assert set(checkpoint["claims"]) == {"checkpoint.fp32_weights", "checkpoint.with_adam", "checkpoint.weights_measured",
                                         "checkpoint.with_adam_measured"}
    assert checkpoint["verdict"] == CONTRADICTED_BY["writeup"] and checkpoint["severity"] == "minor"
    counts = finding_tally(findings)
    assert sum(sum(n.values()) for n in counts.values()) == len(findings) < len(registry.claims)


def test_the_registry_answers_the_review():
    registry = load_registry(REPO / "reports" / "claims.yaml")
    writeup = (REPO / "writeup" / "training-methodology.md").read_text().splitlines()
    claims = locate(registry.claims, writeup)
    assert len(claims) >= 55 and all(c.line for c in claims)
    verdicts = {v.claim.id: v for v in judge_all(claims, {}, SYNTHETIC_CPU)}
    assert all(v.verdict in VERDICTS for v in verdicts.values())
    # the points the reviewer disputed, as the review asks
    assert verdicts["cv.mean"].verdict == REPRODUCED
    assert verdicts["alpha.normal"].verdict == REPRODUCED
    assert verdicts["checkpoint.with_adam"].verdict == REPRODUCED
    assert verdicts["checkpoint.fp32_weights"].verdict == CONTRADICTED_BY["writeup"]
    assert verdicts["speed.total_29x_factors"].verdict == REPRODUCED
    assert verdicts["time.epoch_from_its"].verdict == REPRODUCED
    assert verdicts["speed.epoch_ratio_vs_its"].verdict == CONTRADICTED_BY["writeup"]
    assert verdicts["baseline.below_majority"].verdict == CONTRADICTED_BY["dataset"]
    assert verdicts["lr.prose_vs_code"].verdict == CONTRADICTED_BY["code"]
    assert verdicts["fp16.underflow"].verdict == CONTRADICTED_BY["library"]
    assert verdicts["accuracy.test"].verdict == NOT_COMPARABLE
    assert "fp16.scale_factor" not in verdicts and "loss.weights_sum" not in verdicts
    points = {r["point"] for r in registry.extra["review"]}
    assert {f"2.A.{i}" for i in range(1, 16)} | {"2.B", "2.D"} | {f"B{i}" for i in range(1, 12)} <= points
    for answer in registry.extra["review"]:
        assert set(answer["claims"]) <= set(verdicts), answer["point"]


def test_the_writeup_copy_is_the_audited_one():
    shared = REPO.parent / "shared" / "writeup" / "training-methodology.md"
    if not shared.is_file():
        pytest.skip("../shared is not beside this checkout")
    assert (REPO / "writeup" / "training-methodology.md").read_bytes() == shared.read_bytes()


def test_every_number_is_finite_in_the_verdicts():
    registry = load_registry(REPO / "reports" / "claims.yaml")
    for verdict in judge_all(registry.claims, {}, SYNTHETIC_CPU):
        if isinstance(verdict.measured, float):
            assert math.isfinite(verdict.measured), verdict.claim.id
