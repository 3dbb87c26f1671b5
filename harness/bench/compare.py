"""`make bench-compare BASE=<rev>`: two revisions timed in one run, interleaved, and a verdict per benchmark.

``make bench`` compares this run with a run saved minutes or days ago, so drift of the machine between the two
(cold caches, another job, thermal state) reads as a regression. Here BASE's code is checked out in a
temporary git worktree and the benchmark suite runs for BASE and for this working tree in alternating
processes, A B B A A B ... (at least 5 a side), so slow drift hits both sides alike (asv's
``continuous --interleave-processes``). Each process warms every benchmark up until it runs steadily
(harness.bench.timing.warm_up) and then times its rounds; the unit of comparison is a process's median, since
rounds inside one process share its state and are not independent.

Per benchmark: the ratio head / base of the process medians as a Hodges-Lehmann estimate with its exact
distribution-free interval, and a one-sided Mann-Whitney test. A benchmark regressed when the test gives
p < ``ALPHA`` *and* the estimated slowdown exceeds its group's floor (``FLOOR``, set from the measured
process-to-process noise, results/bench/calibration.json). Exit 1 names each one; exit 0 otherwise; exit 2
when the comparison cannot be made (one sentence why). Every process's rounds are kept in pytest-benchmark's
JSON format under ``.benchmarks/compare/<stamp>/`` with one merged file per side, so
``pytest-benchmark compare .benchmarks/compare/<stamp>/base.json .benchmarks/compare/<stamp>/head.json`` reads them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np
from pytest_benchmark.stats import Stats
from scipy.stats import mannwhitneyu

from harness.bench.gate import smallest_p_value
from harness.errors import HarnessError

ALPHA = 0.01  # one-sided Mann-Whitney on process medians: with 5 a side, at most one inversion (p = 0.008)
CONFIDENCE = 0.95  # the ratio's two-sided interval
# the smallest slowdown called a regression, per pytest-benchmark group: above the process-to-process noise
# measured by the calibration (results/bench/calibration.json, docs/benchmarks.md); 10% where not measured
FLOOR = {"train-step": 0.10, "augment": 0.15, "loader": 0.25, "compile": 0.15}
DEFAULT_FLOOR = 0.10
PROCESSES = 5
THREADS = 1  # intra-op threads of every benchmark process (OMP_NUM_THREADS)
# the default suite: tests/benchmarks without the data-set-sized ones (one round of 10-100 s each; `make bench`
# times them), selected by name so the same expression works on any revision
SUITE = ("tests/benchmarks", "-k", "not ucf_crime_scale")


# --------------------------------------------------------------------------- statistics (pure, unit-tested)
def interleaved(per_side: int) -> list[str]:
    """A B B A A B B A ...: ``per_side`` processes a side, each pair's order flipped, so a linear drift in the
    machine adds the same to both sides."""
    return [side for i in range(per_side) for side in (("base", "head") if i % 2 == 0 else ("head", "base"))]


@cache
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """How many of the C(m+n, m) orderings give each Mann-Whitney U = 0..m*n (the coefficients of the Gaussian
    binomial [m+n, m]): U(m, n) is U(m-1, n) + n when the largest value is from the first sample, else U(m, n-1)."""
    if m == 0 or n == 0:
        return (1,)
    counts = [0] * (m * n + 1)
    for u, c in enumerate(_u_counts(m - 1, n)):
        counts[u + n] += c
    for u, c in enumerate(_u_counts(m, n - 1)):
        counts[u] += c
    return tuple(counts)


def u_cdf(m: int, n: int) -> np.ndarray:
    """P(U <= u) under no difference, u = 0..m*n, exactly (no ties)."""
    counts = np.asarray(_u_counts(m, n), dtype=float)
    return np.cumsum(counts) / counts.sum()


@dataclass(frozen=True)
class Shift:
    """head / base as a ratio of times (1.2 = 20% slower), with its interval."""

    ratio: float
    low: float
    high: float
    confidence: float  # the interval's exact coverage (the discrete U distribution cannot hit 0.95 exactly)


def ratio_interval(base: Sequence[float], head: Sequence[float], confidence: float = CONFIDENCE) -> Shift:
    """The Hodges-Lehmann estimate of the shift in log time (the median of every head-minus-base difference of
    log times) and its distribution-free interval: the k-th smallest and k-th largest differences, k from the
    exact Mann-Whitney distribution. Returned as ratios; an interval the sample sizes cannot give is infinite."""
    a, b = np.log(np.asarray(base, float)), np.log(np.asarray(head, float))
    differences = np.sort((b[None, :] - a[:, None]).ravel())
    cdf = u_cdf(len(a), len(b))
    k = int(np.sum(cdf <= (1 - confidence) / 2))  # U <= k-1 has probability <= (1 - confidence) / 2
    estimate = float(np.exp(np.median(differences)))
    if k == 0:
        return Shift(estimate, 0.0, math.inf, 1.0)
    coverage = 1 - 2 * float(cdf[k - 1])
    return Shift(estimate, float(np.exp(differences[k - 1])), float(np.exp(differences[-k])), round(coverage, 4))


@dataclass(frozen=True)
class Decision:
    name: str
    group: str
    base: list[float]  # one median per process, seconds
    head: list[float]
    shift: Shift
    p_value: float  # one-sided: head slower than base
    floor: float

    @property
    def regressed(self) -> bool:
        return self.p_value < ALPHA and self.shift.ratio > 1 + self.floor

    def line(self) -> str:
        s = self.shift
        flag = "REGRESSED" if self.regressed else "ok"
        return (f"{flag:9s} x{s.ratio:.3f} [{s.low:.3f}, {s.high:.3f}] p = {self.p_value:.3f} "
                f"(floor +{self.floor:.0%})  {self.name}")


def decide(name: str, group: str, base: Sequence[float], head: Sequence[float]) -> Decision:
    """The decision rule on per-process medians (seconds; larger is slower)."""
    p = float(mannwhitneyu(head, base, alternative="greater", method="exact").pvalue)
    return Decision(name, group, [float(x) for x in base], [float(x) for x in head], ratio_interval(base, head), p,
                    FLOOR.get(group, DEFAULT_FLOOR))


# --------------------------------------------------------------------------- pytest-benchmark files
def process_medians(documents: Sequence[dict]) -> dict[str, tuple[str, list[float]]]:
    """name -> (group, the median round time of each process that ran it)."""
    out: dict[str, tuple[str, list[float]]] = {}
    for document in documents:
        for bench in document.get("benchmarks", []):
            group, medians = out.setdefault(bench["fullname"], (bench.get("group") or "", []))
            medians.append(float(bench["stats"]["median"]))
    return out


def merged(documents: Sequence[dict]) -> dict:
    """One pytest-benchmark document for a side: every process's rounds under each benchmark, with the stats
    pytest-benchmark computes (its own Stats) over all of them, so `pytest-benchmark compare` reads it; each
    process's warm-up record is kept in extra_info."""
    out = json.loads(json.dumps(documents[0]))
    by_name: dict[str, dict] = {}
    rounds: dict[str, list[float]] = {}
    for document in documents:
        for bench in document["benchmarks"]:
            target = by_name.setdefault(bench["fullname"], {**json.loads(json.dumps(bench)), "extra_info": {"processes": []}})
            target["extra_info"]["processes"].append(bench.get("extra_info", {}))
            rounds.setdefault(bench["fullname"], []).extend(bench["stats"].get("data", []))
    for name, bench in by_name.items():
        stats = Stats()
        for duration in rounds[name]:
            stats.update(duration)
        bench["stats"] = {**stats.as_dict(), "data": rounds[name],
                          "iterations": bench["stats"].get("iterations", 1)}
    out["benchmarks"] = list(by_name.values())
    return out


# --------------------------------------------------------------------------- running the two sides
@dataclass
class Side:
    name: str  # base or head
    tree: Path
    label: str  # what the reader is told: a commit, or the working tree
    env: dict[str, str] = field(default_factory=dict)  # extra environment (the calibration's planted slowdown)


def git(repo: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise HarnessError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def default_base(repo: Path) -> str:
    """The merge-base with main, or HEAD~1 when HEAD is main itself (or there is no main)."""
    head = git(repo, "rev-parse", "HEAD")
    main = git(repo, "rev-parse", "--verify", "--quiet", "main", check=False)
    if not main or main == head:
        return "HEAD~1"
    return git(repo, "merge-base", "HEAD", "main")


def check_same_requirements(repo: Path, commit: str) -> None:
    """Both sides run in this checkout's .venv: a BASE that pins other packages would be measured with the wrong
    ones, so it is refused."""
    base_lock = subprocess.run(["git", "show", f"{commit}:requirements.lock"], cwd=repo, capture_output=True, text=True)
    ours = (repo / "requirements.lock").read_text() if (repo / "requirements.lock").is_file() else ""
    if base_lock.returncode != 0 or base_lock.stdout != ours:
        raise HarnessError(f"BASE {commit[:10]}'s requirements.lock differs from this checkout's, and both sides run "
                           f"in this checkout's .venv: compare two revisions that pin the same packages")


def run_process(side: Side, suite: Sequence[str], out: Path, timeout: float) -> dict:
    """One pytest-benchmark process of ``side``'s suite; its JSON (with every round) at ``out``."""
    # this side's harness, not the editable install's; one intra-op thread: with two on two shared cores a
    # process settles in one of two speeds (training-step medians 39 or 54 ms, process by process), which no
    # statistic over 5 processes sees through; with one, 38-41 ms (docs/benchmarks.md)
    env = {**os.environ, "PYTHONPATH": str(side.tree), "OMP_NUM_THREADS": str(THREADS), **side.env}
    cmd = [sys.executable, "-m", "pytest", *suite, "-q", "-p", "no:cacheprovider", "--benchmark-enable",
           "--benchmark-only", "--benchmark-save-data", f"--benchmark-json={out}"]
    done = subprocess.run(cmd, cwd=side.tree, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise HarnessError(f"the benchmark suite failed on {side.label} ({side.name}):\n" + "\n".join(tail))
    return json.loads(out.read_text())


def compare(sides: dict[str, Side], suite: Sequence[str], per_side: int, out_dir: Path, timeout: float = 900,
            say=print) -> list[Decision]:
    """Run ``suite`` for both sides in interleaved processes; write every file under ``out_dir``; decide."""
    out_dir.mkdir(parents=True, exist_ok=True)
    documents: dict[str, list[dict]] = {"base": [], "head": []}
    order = interleaved(per_side)
    for i, name in enumerate(order, 1):
        started = time.perf_counter()
        k = len(documents[name]) + 1
        documents[name].append(run_process(sides[name], suite, out_dir / f"{name}-{k:02d}.json", timeout))
        say(f"[{i}/{len(order)}] {name} ({sides[name].label}) process {k}: {time.perf_counter() - started:.0f} s")
    for name, docs in documents.items():
        (out_dir / f"{name}.json").write_text(json.dumps(merged(docs), indent=1))
    base, head = process_medians(documents["base"]), process_medians(documents["head"])
    decisions = [decide(name, head[name][0], base[name][1], head[name][1]) for name in sorted(head) if name in base]
    only = sorted(set(base) ^ set(head))
    record = {"base": sides["base"].label, "head": sides["head"].label, "order": order, "alpha": ALPHA,
              "suite": list(suite), "only_on_one_side": only,
              "decisions": [{**asdict(d), "regressed": d.regressed} for d in decisions]}
    (out_dir / "compare.json").write_text(json.dumps(record, indent=1))
    return decisions


def report(decisions: Sequence[Decision], only: Sequence[str] = (), say=print) -> int:
    for d in decisions:
        say(d.line())
    for name in only:
        say(f"{'not compared':9s} (on one side only)  {name}")
    regressed = [d for d in decisions if d.regressed]
    say(f"{len(regressed)} of {len(decisions)} benchmarks regressed (one-sided Mann-Whitney on process medians "
        f"p < {ALPHA} and slower than the group's floor)")
    for d in regressed:
        say(f"regressed: {d.name}: x{d.shift.ratio:.3f} [{d.shift.low:.3f}, {d.shift.high:.3f}]")
    return 1 if regressed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="", help="the revision to compare with (default: merge-base with main, "
                                                   "or HEAD~1 on main)")
    parser.add_argument("--processes", type=int, default=PROCESSES, help="processes a side (at least 5 to gate)")
    parser.add_argument("--out", type=Path, default=None, help="where the rounds go (default .benchmarks/compare/...)")
    parser.add_argument("suite", nargs="*", help=f"pytest arguments selecting the suite (default: {' '.join(SUITE)})")
    args = parser.parse_args(argv)
    repo = Path(git(Path.cwd(), "rev-parse", "--show-toplevel"))
    suite = tuple(args.suite) or SUITE
    worktree = None
    try:
        base_rev = args.base or default_base(repo)
        commit = git(repo, "rev-parse", "--verify", "--quiet", f"{base_rev}^{{commit}}", check=False)
        if not commit:
            raise HarnessError(f"BASE {base_rev!r} is not a commit of this repository")
        check_same_requirements(repo, commit)
        smallest = smallest_p_value(args.processes, args.processes)
        if smallest >= ALPHA:
            raise HarnessError(f"{args.processes} processes a side cannot reach p < {ALPHA} (the rank test's smallest "
                               f"p is {smallest:.3f}): use at least 5, the default")
        worktree = Path(tempfile.mkdtemp(prefix="bench-base-"))
        git(repo, "worktree", "add", "--detach", "--force", str(worktree), commit)
        dirty = " (with uncommitted changes)" if git(repo, "status", "--porcelain", "--untracked-files=no") else ""
        head_label = f"working tree at {git(repo, 'rev-parse', '--short', 'HEAD')}{dirty}"
        sides = {"base": Side("base", worktree, f"{base_rev} = {commit[:10]}"), "head": Side("head", repo, head_label)}
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out_dir = args.out or repo / ".benchmarks" / "compare" / f"{stamp}-{commit[:8]}"
        print(f"bench-compare: {sides['base'].label} (base) against the {head_label} (head), {args.processes} "
              f"processes a side interleaved, one .venv ({sys.prefix}); rounds under {out_dir}")
        decisions = compare(sides, suite, args.processes, out_dir)
        only = json.loads((out_dir / "compare.json").read_text())["only_on_one_side"]
        code = report(decisions, only)
        print(f"pytest-benchmark compare {out_dir / 'base.json'} {out_dir / 'head.json'}  # the rounds side by side")
        return code
    except HarnessError as error:
        print(f"bench-compare: {error}", file=sys.stderr)
        return 2
    finally:
        if worktree is not None:
            git(repo, "worktree", "remove", "--force", str(worktree), check=False)
            shutil.rmtree(worktree, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
