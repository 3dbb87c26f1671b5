"""Printed figures as intervals, and expressions bounded over them: hand-worked cases and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.judge.intervals import evaluate, printed_interval, value_range


@pytest.mark.parametrize(("printed", "interval"), [
    ("99.2%", (0.9915, 0.9925)),
    ("99.38%", (0.99375, 0.99385)),
    ("0.15%", (0.00145, 0.00155)),
    ("1.14", (1.135, 1.145)),
    ("2×", (1.5, 2.5)),
    ("7.7×", (7.65, 7.75)),
    ("~12", (11.5, 12.5)),
    ("60,635", (60634.5, 60635.5)),
    (423, (423, 423)),           # a YAML number is exact
    (0.99, (0.99, 0.99)),
    ([5, 10], (5, 10)),          # a printed range
    (["1.1", "1.3"], (1.05, 1.35)),
])
def test_printed_figures(printed, interval):
    assert printed_interval(printed) == pytest.approx(interval)


@pytest.mark.parametrize("bad", [True, "about 12", "1.2.3", float("nan"), [3, 1], None])
def test_what_is_not_a_printed_figure(bad):
    with pytest.raises(HarnessError):
        printed_interval(bad)


def test_hand_worked_ranges():
    # the review's cases: folds' mean [99.21, 99.31]; alpha at 76% in [1.1433, 1.1509]
    folds = {f"f{i}": printed_interval(v) for i, v in enumerate(["99.2%", "99.3%", "99.4%", "99.4%", "99.0%"])}
    mean = value_range("(f0 + f1 + f2 + f3 + f4) / 5", folds)
    assert mean.outer == pytest.approx((0.9921, 0.9931)) and mean.attained == pytest.approx((0.9921, 0.9931))
    alpha = value_range("1 / sqrt(f)", {"f": printed_interval("76%")})
    assert alpha.attained == pytest.approx((1.14332, 1.15087), abs=1e-5)
    # 2.0 x 1.5 x 1.2 x 7.7 with every factor's rounding
    product = value_range("a * b * c * d", {k: printed_interval(v) for k, v in zip("abcd", ["2.0", "1.5", "1.2", "7.7"], strict=True)})
    assert product.attained == pytest.approx((1.95 * 1.45 * 1.15 * 7.65, 2.05 * 1.55 * 1.25 * 7.75))
    exact = value_range("a / b", {"a": (423.0, 423.0), "b": (60635.0, 60635.0)})
    assert exact.exact and exact.outer == exact.attained


def test_conditions_are_true_false_or_either():
    assert value_range("a < b", {"a": (1, 2), "b": (3, 4)}).outer == (1, 1)
    assert value_range("a < b", {"a": (3, 4), "b": (1, 2)}).outer == (0, 0)
    either = value_range("a < b", {"a": (1, 3), "b": (2, 4)})
    assert either.outer == (0, 1) and either.attained == (0, 1)  # some corners true, some false
    assert value_range("a <= b <= c", {"a": (1, 1), "b": (2, 2), "c": (3, 3)}).outer == (1, 1)
    assert value_range("not a == 1 or b > 0", {"a": (1, 1), "b": (-1, -1)}).outer == (0, 0)


EXPRESSIONS = ["a + b * c", "a / (b + c)", "sqrt(a) * c - b", "(a - b) ** 2 + c", "max(a, b) / min(b, c)",
               "exp(-a) + log(c)", "abs(a - b) * c", "(1 - a) ** 2 * -log(b)", "a ** b"]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_the_enclosure_holds_every_value_and_the_attained_range_is_real(expression):
    rng = np.random.default_rng(len(expression))
    for _ in range(20):
        env = {}
        for name in "abc":
            low = float(rng.uniform(0.05, 0.9))
            env[name] = (low, low + float(rng.uniform(0, 0.2)))
        span = value_range(expression, env)
        grid = [np.linspace(lo, hi, 9) for lo, hi in env.values()]
        values = [evaluate(expression, dict(zip("abc", point, strict=True))) for point in itertools.product(*grid)]
        assert span.outer[0] <= min(values) + 1e-12 and max(values) <= span.outer[1] + 1e-12
        # every attained value is a real value of the expression, so the attained range lies inside the true one
        assert span.outer[0] - 1e-12 <= span.attained[0] <= span.attained[1] <= span.outer[1] + 1e-12
        if expression in ("a + b * c", "a / (b + c)", "sqrt(a) * c - b", "exp(-a) + log(c)"):  # monotone in each input
            assert span.attained == pytest.approx((min(values), max(values)))


def test_arithmetic_faults_are_one_sentence():
    for expression, inputs, words in [("a / b", {"a": 1, "b": 0}, "divides by zero"),
                                      ("sqrt(a)", {"a": -1}, "domain"), ("log(a)", {"a": 0}, "domain"),
                                      ("a ** 5000", {"a": 2}, "power above"), ("exp(a)", {"a": 1e6}, "cannot be computed")]:
        with pytest.raises(HarnessError, match=words):
            evaluate(expression, inputs)
    for expression in ("__import__('os')", "a.real", "[a]", "lambda: 1", "f(a)", "'text'", "True"):
        with pytest.raises(HarnessError):
            evaluate(expression, {"a": 1})
