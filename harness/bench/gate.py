"""The speed-regression gate of ``make bench``: this run's rounds against the last run's, per benchmark.

A single median against the last run's median fails on noise as often as on regressions (two shared CPU
cores vary by 10-15% run to run). The gate looks at the rounds: a benchmark regressed when its rounds are
slower than the last run's by a one-sided Mann-Whitney U test at ``alpha`` *and* its median time grew by
more than its group's tolerance. Both runs must be pytest-benchmark JSON files saved with
``--benchmark-save-data`` (make bench does). ``python -m harness.bench.gate OLD.json NEW.json`` prints one
line per benchmark and exits 1 when any regressed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu

from harness.errors import HarnessError

TOLERANCE = {"train-step": 0.10, "loader": 0.15, "augment": 0.10, "compile": 0.15, "probe": 0.10}  # by group
DEFAULT_TOLERANCE = 0.10
ALPHA = 0.01


@dataclass(frozen=True)
class Comparison:
    name: str
    group: str
    old_median: float
    new_median: float
    p_value: float  # NaN when the rounds cannot reach significance (gated is False)
    tolerance: float
    gated: bool = True

    @property
    def change(self) -> float:
        """Relative change of the median time (+0.2 = 20% slower)."""
        return self.new_median / self.old_median - 1

    @property
    def regressed(self) -> bool:
        return self.gated and self.p_value < ALPHA and self.change > self.tolerance


def smallest_p_value(n_old: int, n_new: int) -> float:
    """The smallest one-sided Mann-Whitney p-value ``n_old`` and ``n_new`` rounds can give (every new round
    slower than every old one): 1 / C(n_old + n_new, n_new). 3 rounds a side cannot go below 0.05."""
    return 1 / math.comb(n_old + n_new, n_new)


def compare_rounds(name: str, group: str, old: list[float], new: list[float]) -> Comparison:
    """``old`` and ``new`` are round times in seconds (larger is slower). A benchmark with too few rounds for the
    rank test to reach ``ALPHA`` is reported as not gated, never as passed or regressed."""
    tolerance = TOLERANCE.get(group, DEFAULT_TOLERANCE)
    medians = float(np.median(old)), float(np.median(new))
    if min(len(old), len(new)) < 1 or smallest_p_value(len(old), len(new)) >= ALPHA:
        return Comparison(name, group, *medians, float("nan"), tolerance, gated=False)
    p = float(mannwhitneyu(new, old, alternative="greater").pvalue)
    return Comparison(name, group, *medians, p, tolerance)


def rounds_of(path: Path) -> dict[str, tuple[str, list[float]]]:
    """name -> (group, round times) from a pytest-benchmark JSON file."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise HarnessError(f"{path} is not a readable pytest-benchmark file: {error}") from None
    out = {}
    for bench in document.get("benchmarks", []):
        data = bench.get("stats", {}).get("data")
        if not data:
            raise HarnessError(f"{path}: benchmark {bench.get('fullname')} has no rounds; save with --benchmark-save-data")
        out[bench["fullname"]] = (bench.get("group") or "", [float(x) for x in data])
    return out


def gate(old_path: Path, new_path: Path) -> list[Comparison]:
    old, new = rounds_of(old_path), rounds_of(new_path)
    return [compare_rounds(name, new[name][0], old[name][1], new[name][1]) for name in sorted(new) if name in old]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    try:
        results = gate(args.old, args.new)
    except HarnessError as error:
        print(f"bench gate: error: {error}", file=sys.stderr)
        return 2
    for c in results:
        if not c.gated:
            print(f"{'not gated':9s} {c.change:+7.1%} (too few rounds for p < {ALPHA})  {c.name}")
            continue
        flag = "REGRESSED" if c.regressed else "ok"
        print(f"{flag:9s} {c.change:+7.1%} (tolerance {c.tolerance:.0%}, one-sided p = {c.p_value:.3f})  {c.name}")
    regressed = [c for c in results if c.regressed]
    gated = sum(c.gated for c in results)
    print(f"{len(regressed)} of {gated} gated benchmarks regressed (Mann-Whitney p < {ALPHA} and median beyond "
          f"tolerance); {len(results) - gated} not gated")
    return 1 if regressed else 0


if __name__ == "__main__":
    sys.exit(main())
