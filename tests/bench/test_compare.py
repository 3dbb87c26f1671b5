"""`make bench-compare`: the interleaving, the statistics against oracles, the decision rule simulated from the
noise the calibration measured, and the whole command on a tiny benchmark with a planted sleep."""

from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, env_with_venv
from scipy.stats import mannwhitneyu

from harness.bench.calibrate import docs_block, plan_at
from harness.bench.compare import ALPHA, FLOOR, PROCESSES, decide, interleaved, merged, ratio_interval, u_cdf

CALIBRATION = REPO / "results" / "bench" / "calibration.json"


def test_processes_alternate_a_b_b_a_so_a_linear_drift_hits_both_sides_alike():
    assert interleaved(5) == ["base", "head", "head", "base", "base", "head", "head", "base", "base", "head"]
    for n in (4, 6):
        order = interleaved(n)
        positions = {side: [i for i, s in enumerate(order) if s == side] for side in ("base", "head")}
        assert len(positions["base"]) == len(positions["head"]) == n
        assert sum(positions["base"]) == sum(positions["head"])  # a drift linear in time adds the same to both


def test_the_exact_rank_distribution_matches_enumeration_and_scipy():
    for m, n in ((1, 1), (2, 3), (4, 4), (5, 5), (3, 6)):
        counts = np.zeros(m * n + 1)
        for first in itertools.combinations(range(m + n), m):  # every ordering: positions of sample one
            second = sorted(set(range(m + n)) - set(first))
            counts[sum(f > s for f in first for s in second)] += 1
        assert np.allclose(u_cdf(m, n), np.cumsum(counts) / counts.sum())
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = rng.normal(size=5), rng.normal(size=5) + 0.5
        u = mannwhitneyu(b, a, alternative="greater", method="exact")
        assert u.pvalue == pytest.approx(1 - (u_cdf(5, 5)[int(u.statistic) - 1] if u.statistic > 0 else 0))


def test_the_ratio_interval_covers_a_known_slowdown_at_its_stated_level():
    rng = np.random.default_rng(1)
    shifts = [ratio_interval(np.exp(rng.normal(0, 0.05, 5)), 1.2 * np.exp(rng.normal(0, 0.05, 5)))
              for _ in range(2000)]
    assert shifts[0].confidence == pytest.approx(1 - 2 * 4 / 252, abs=1e-4)  # 5 a side: U <= 2 in each tail
    covered = np.mean([s.low <= 1.2 <= s.high for s in shifts])
    assert covered >= shifts[0].confidence - 0.02
    assert np.median([s.ratio for s in shifts]) == pytest.approx(1.2, rel=0.01)
    assert ratio_interval([1.0], [2.0]).high == math.inf  # one process a side proves nothing


def test_the_rule_needs_both_the_rank_test_and_the_floor():
    base = [1.00, 1.01, 0.99, 1.02, 0.98]
    assert decide("x", "train-step", base, [b * 1.3 for b in base]).regressed
    assert not decide("x", "train-step", base, [b * 1.05 for b in base]).regressed  # certain, but under the floor
    noisy = decide("x", "train-step", base, [1.5, 0.9, 1.6, 0.95, 1.4])
    assert noisy.shift.ratio > 1.1 and noisy.p_value >= ALPHA and not noisy.regressed  # large, not certain


def measured_residuals() -> dict[str, np.ndarray]:
    if not CALIBRATION.is_file():
        pytest.fail(f"{CALIBRATION} is missing: python -m harness.bench.calibrate writes it")
    return {g: np.asarray(r) for g, r in json.loads(CALIBRATION.read_text())["summary"]["residuals_log"].items()}


def simulated_rate(residuals: np.ndarray, ratio: float, group: str, trials: int, seed: int) -> float:
    """Process medians drawn from the measured A/A residuals (their heavy tail included), head times ``ratio``."""
    rng = np.random.default_rng(seed)
    flags = 0
    for _ in range(trials):
        base = np.exp(rng.choice(residuals, PROCESSES))
        head = ratio * np.exp(rng.choice(residuals, PROCESSES))
        flags += decide("sim", group, base, head).regressed
    return flags / trials


def test_the_rule_simulated_from_the_measured_noise_neither_cries_wolf_nor_misses_a_20pc_slowdown():
    """With no change the rule flags at most 1 in 500 benchmark comparisons; a 20% slower training step is flagged
    9 times in 10 (the calibration's own runs are too few to pin these rates down; the simulation is not)."""
    residuals = measured_residuals()
    for group, r in residuals.items():
        assert len(r) >= 100, group
        assert simulated_rate(r, 1.0, group, 3000, seed=2) <= 1 / 500, group
    assert simulated_rate(residuals["train-step"], 1.2, "train-step", 1000, seed=3) >= 0.9


def test_the_committed_calibration_meets_the_targets_and_the_docs_quote_it():
    results = json.loads(CALIBRATION.read_text())
    s = results["summary"]
    assert s["aa_comparisons"] >= 50 and s["false_alarms"] <= 1
    assert s["power_runs"] >= 10 and s["power_caught"] >= 0.9 * s["power_runs"]
    assert results["floor"] == FLOOR and results["processes"] >= 5
    assert docs_block(results) in (REPO / "docs" / "benchmarks.md").read_text()  # generated, not typed


def test_power_runs_are_spread_among_the_a_a_runs():
    plan = [plan_at(i, 50, 10) for i in range(60)]
    assert plan.count("power") == 10 and "power" in plan[:6] and "power" in plan[-6:]


def test_merged_rounds_are_read_by_pytest_benchmark_compare(tmp_path):
    def document(rounds):
        return {"machine_info": {"node": "x"}, "commit_info": {}, "datetime": "2026-01-01T00:00:00", "version": "5.1.0",
                "benchmarks": [{"group": "g", "name": "test_a", "fullname": "t.py::test_a", "params": None,
                                "param": None, "extra_info": {"warmup_rounds": 3}, "options": {},
                                "stats": {"data": rounds, "median": float(np.median(rounds)), "iterations": 1}}]}

    one = merged([document([1.0, 2.0, 3.0]), document([4.0, 5.0])])
    stats = one["benchmarks"][0]["stats"]
    assert stats["data"] == [1.0, 2.0, 3.0, 4.0, 5.0] and stats["median"] == 3.0 and stats["rounds"] == 5
    assert one["benchmarks"][0]["extra_info"]["processes"] == [{"warmup_rounds": 3}] * 2
    (tmp_path / "base.json").write_text(json.dumps(one))
    (tmp_path / "head.json").write_text(json.dumps(merged([document([2.0, 4.0, 6.0])])))
    shown = subprocess.run([str(REPO / ".venv" / "bin" / "pytest-benchmark"), "compare", str(tmp_path / "base.json"),
                            str(tmp_path / "head.json")], capture_output=True, text=True, env=env_with_venv(), timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "test_a" in shown.stdout


# --------------------------------------------------------------------------- the whole command
TINY = """\
import time


def test_sleep(benchmark):
    benchmark.pedantic(time.sleep, args=({seconds},), rounds=5, iterations=1)
"""


def git(repo, *args):
    subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args], cwd=repo, check=True,
                   capture_output=True)


def bench_compare(repo, *args):
    return subprocess.run([sys.executable, "-m", "harness.bench.compare", *args, "bench/test_tiny.py"], cwd=repo,
                          env=env_with_venv(), capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_bench_compare_flags_a_planted_sleep_and_passes_the_same_code(tmp_path):
    repo = tmp_path / "repo"
    (repo / "bench").mkdir(parents=True)
    (repo / "requirements.lock").write_text("# the same packages on both sides\n")
    (repo / "bench" / "test_tiny.py").write_text(TINY.format(seconds=0.02))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "tiny benchmark")
    (repo / "bench" / "test_tiny.py").write_text(TINY.format(seconds=0.03))  # 50% slower
    git(repo, "commit", "-qam", "a planted sleep")

    slower = bench_compare(repo, "--base", "HEAD~1")
    assert slower.returncode == 1, slower.stdout + slower.stderr
    assert re.search(r"^regressed: bench/test_tiny.py::test_sleep: x1\.[45]\d\d \[", slower.stdout, re.M), slower.stdout
    runs = sorted((repo / ".benchmarks" / "compare").iterdir())
    assert len(runs) == 1
    files = sorted(p.name for p in runs[0].iterdir())
    assert files == sorted([f"{side}-{k:02d}.json" for side in ("base", "head") for k in range(1, 6)]
                           + ["base.json", "head.json", "compare.json"])
    record = json.loads((runs[0] / "compare.json").read_text())
    assert record["order"] == interleaved(5)
    assert len(json.loads((runs[0] / "head.json").read_text())["benchmarks"][0]["stats"]["data"]) == 25
    assert not (repo / ".git" / "worktrees").exists() or not any((repo / ".git" / "worktrees").iterdir())

    same = bench_compare(repo, "--base", "HEAD")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "0 of 1 benchmarks regressed" in same.stdout

    (repo / "requirements.lock").write_text("# other packages\n")
    git(repo, "commit", "-qam", "other pins")
    refused = bench_compare(repo, "--base", "HEAD~1")
    assert refused.returncode == 2 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1 and "requirements.lock differs" in refused.stderr


def test_the_make_target_passes_base_through():
    dry = subprocess.run(["make", "-n", "bench-compare", "BASE=abc123"], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert "python -m harness.bench.compare --base abc123" in dry.stdout
    dry = subprocess.run(["make", "-n", "bench-compare"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "python -m harness.bench.compare" in dry.stdout and "--base" not in dry.stdout
