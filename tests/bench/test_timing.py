"""The timing primitives the speed verdicts rest on: interleaving, median/IQR and the noisy flag, the ratio interval."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.bench.timing import ratio_with_interval, summarise, time_arms


def test_arms_are_interleaved_and_the_order_rotates_every_round():
    calls: list[str] = []
    arms = {name: (lambda name=name: calls.append(name) or 1) for name in ("a", "b", "c")}
    rates = time_arms(arms, warmup_steps=2, timed_steps=1, repeats=4, device=torch.device("cpu"))
    assert calls[:6] == ["a", "a", "b", "b", "c", "c"]  # warm-up first, untimed
    assert calls[6:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"]
    assert {k: len(v) for k, v in rates.items()} == {"a": 4, "b": 4, "c": 4}


def test_summary_is_median_and_iqr_with_a_noisy_flag():
    steady = summarise([10.0, 10.0, 11.0, 9.0, 10.0], noisy_bound=0.1)
    assert steady["samples_per_s"] == 10.0 and steady["iqr"] == 0.0 and not steady["noisy"]
    noisy = summarise([5.0, 10.0, 15.0, 20.0, 25.0], noisy_bound=0.1)
    assert noisy["samples_per_s"] == 15.0 and noisy["iqr"] == 10.0 and noisy["iqr_over_median"] == pytest.approx(0.6667, abs=1e-4)
    assert noisy["noisy"]


def test_the_ratio_interval_covers_a_known_ratio():
    rng = np.random.default_rng(0)
    covered = 0
    for trial in range(40):
        slow = rng.lognormal(np.log(100), 0.05, size=15)
        fast = 2.0 * rng.lognormal(np.log(100), 0.05, size=15)
        r = ratio_with_interval(list(fast), list(slow), resamples=2000, seed=trial)
        assert r["ci_low"] <= r["ratio"] <= r["ci_high"]
        covered += r["ci_low"] <= 2.0 <= r["ci_high"]
    assert covered >= 32  # a 95% interval from 15 rounds: most trials cover the true 2x
    same = ratio_with_interval([10.0] * 5, [10.0] * 5, resamples=100, seed=0)
    assert same == {"ratio": 1.0, "ci_low": 1.0, "ci_high": 1.0}
