"""The speed gate's calibration on this machine: false alarms and power of ``make bench-compare``, measured.

``python -m harness.bench.calibrate`` runs the comparison of harness.bench.compare (interleaved processes,
the same decision rule) many times on this working tree against itself:

- **A/A**: both sides the same code; every benchmark flagged is a false alarm;
- **power**: the head side's training step made 20% slower on purpose (``HARNESS_BENCH_PLANTED_SLOWDOWN``:
  each step sleeps a fifth of its own duration); a run counts as caught when every training-step benchmark
  is flagged, and any other benchmark flagged in it is a false alarm too.

Each comparison is appended to the results file as it finishes (an interrupted calibration resumes where it
stopped). The file (results/bench/calibration.json, committed) also holds each group's process-to-process
noise, from which tests/bench/test_compare.py simulates the rule. ``--docs docs/benchmarks.md`` rewrites the
docs' generated block from the file without running anything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from harness.bench.compare import ALPHA, DEFAULT_FLOOR, FLOOR, PROCESSES, THREADS, Side, compare
from harness.bench.workbench import PLANTED_SLOWDOWN
from harness.errors import HarnessError
from harness.io import replace_block

# the cheapest workload that can carry the planted slowdown (the smoke profile's training step, fp32 and
# AMP; about 10 s a process, 7 of them imports): 600 processes in about 100 minutes
SUITE = ("tests/benchmarks/test_throughput.py", "-k", "train_step")
PLANTED = 0.20
TRAIN_STEP = "train-step"
START, END = "<!-- calibration:start (python -m harness.bench.calibrate --docs docs/benchmarks.md) -->", \
    "<!-- calibration:end -->"


def one_comparison(repo: Path, kind: str, suite, per_side: int) -> dict:
    head_env = {PLANTED_SLOWDOWN: str(PLANTED)} if kind == "power" else {}
    sides = {"base": Side("base", repo, "this tree"), "head": Side("head", repo, "this tree", head_env)}
    with tempfile.TemporaryDirectory(prefix="bench-calibrate-") as out:
        decisions = compare(sides, suite, per_side, Path(out), say=lambda _: None)
    return {"kind": kind, "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "decisions": [{**asdict(d), "regressed": d.regressed} for d in decisions]}


def residuals(comparisons: list[dict]) -> dict[str, list[float]]:
    """Per group: every A/A process's log median minus its side's mean (the measured process-to-process noise,
    heavy tail included), from which tests/bench/test_compare.py draws simulated comparisons."""
    out: dict[str, list[float]] = {}
    for c in comparisons:
        if c["kind"] == "aa":
            for d in c["decisions"]:
                for side in ("base", "head"):
                    logs = np.log(d[side])
                    out.setdefault(d["group"], []).extend(round(float(r), 5) for r in logs - logs.mean())
    return dict(sorted(out.items()))


def noise(residuals_by_group: dict[str, list[float]], processes: int) -> dict[str, float]:
    """Per group: the standard deviation of a process's log median around its side's mean, pooled over the A/A
    comparisons (``residuals``; one degree of freedom lost per side of ``processes``)."""
    return {group: round(float(np.sqrt(np.sum(np.square(r)) / max(len(r) - len(r) // processes, 1))), 4)
            for group, r in residuals_by_group.items()}


def summary(comparisons: list[dict]) -> dict:
    measured = residuals(comparisons)
    aa = [c for c in comparisons if c["kind"] == "aa"]
    power = [c for c in comparisons if c["kind"] == "power"]
    false_alarms = [{"comparison": i, "kind": c["kind"], "name": d["name"], "ratio": round(d["shift"]["ratio"], 4),
                     "p_value": round(d["p_value"], 4)}
                    for i, c in enumerate(comparisons) for d in c["decisions"]
                    if d["regressed"] and not (c["kind"] == "power" and d["group"] == TRAIN_STEP)]
    caught = [all(d["regressed"] for d in c["decisions"] if d["group"] == TRAIN_STEP) for c in power]
    missed = [{"comparison": comparisons.index(c), "finished": c["finished"],
               "ratios": [round(d["shift"]["ratio"], 3) for d in c["decisions"] if d["group"] == TRAIN_STEP],
               "p_values": [round(d["p_value"], 3) for d in c["decisions"] if d["group"] == TRAIN_STEP]}
              for c, hit in zip(power, caught, strict=True) if not hit]
    planted = [round(d["shift"]["ratio"], 3) for c in power for d in c["decisions"] if d["group"] == TRAIN_STEP]
    return {"aa_comparisons": len(aa), "aa_benchmark_comparisons": sum(len(c["decisions"]) for c in aa),
            "false_alarms": len(false_alarms), "false_alarm_list": false_alarms,
            "power_runs": len(power), "power_caught": int(sum(caught)), "power_missed": missed,
            "planted_ratio_min": min(planted, default=None), "planted_ratio_max": max(planted, default=None),
            "noise_sd_log": noise(measured, PROCESSES), "residuals_log": measured}


def docs_block(results: dict) -> str:
    s = results["summary"]
    groups = ", ".join(f"{g} {sd:.1%}" for g, sd in s["noise_sd_log"].items())
    floors = ", ".join(f"{g} +{f:.0%}" for g, f in results["floor"].items())
    alarms = "; ".join(f"{a['name']} x{a['ratio']:.3f} (p = {a['p_value']:.3f})" for a in s["false_alarm_list"]) or "none"
    return "\n".join([
        START,
        f"Measured on {results['machine']['host_cpus']} cores ({results['machine']['processor']}), torch "
        f"{results['machine']['torch']}, {results['started'][:10]} to {results['finished'][:10]}: "
        f"`{' '.join(results['suite'])}`, {results['processes']} processes a side (one thread each), "
        f"{results.get('streams', 1)} comparison(s) side by side, alpha {results['alpha']}, "
        f"floors {floors} (other groups +{results['default_floor']:.0%}).",
        "",
        f"- **A/A**: {s['aa_comparisons']} comparisons of this tree against itself, "
        f"{s['aa_benchmark_comparisons']} benchmark comparisons: **{s['false_alarms']} false "
        f"alarm{'' if s['false_alarms'] == 1 else 's'}** in all "
        f"(A/A and the power runs' unplanted benchmarks): {alarms}.",
        f"- **Power**: a {PLANTED:.0%} slower training step planted on one side: caught (every training-step "
        f"benchmark flagged) in **{s['power_caught']} of {s['power_runs']}** runs; estimated ratios "
        f"{s['planted_ratio_min']}-{s['planted_ratio_max']}"
        + "".join(f"; missed: comparison {m['comparison'] + 1} ({m['finished'][11:16]} UTC), ratios "
                  f"{', '.join(f'x{r}' for r in m['ratios'])}, p = {', '.join(map(str, m['p_values']))}"
                  for m in s["power_missed"]) + ".",
        f"- **Process-to-process noise** (sd of a process's log median): {groups}.",
        END])


def write_docs(results: dict, docs: Path) -> None:
    try:
        docs.write_text(replace_block(docs.read_text(), docs_block(results), START, END))
    except ValueError as e:
        raise HarnessError(f"{docs} has {e}") from e


def machine() -> dict:
    import torch

    return {"host_cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aa", type=int, default=50, help="A/A comparisons")
    parser.add_argument("--power", type=int, default=10, help="comparisons with the planted slowdown")
    parser.add_argument("--processes", type=int, default=PROCESSES)
    parser.add_argument("--streams", type=int, default=max(1, (os.cpu_count() or 1) // THREADS),
                        help="comparisons run side by side (default: one per core)")
    parser.add_argument("--out", type=Path, default=Path("results/bench/calibration.json"))
    parser.add_argument("--docs", type=Path, default=None, help="only rewrite this file's generated block")
    args = parser.parse_args(argv)
    try:
        if args.docs:
            results = json.loads(args.out.read_text())
            results["summary"] = summary(results["comparisons"])  # as this code computes it
            args.out.write_text(json.dumps(results, indent=1))
            write_docs(results, args.docs)
            print(f"{args.docs}: calibration block rewritten from {args.out}")
            return 0
        repo = Path(subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                                   check=True).stdout.strip())
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
        results = json.loads(args.out.read_text()) if args.out.is_file() else {
            "commit": commit, "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(), "suite": list(SUITE), "processes": args.processes, "alpha": ALPHA,
            "floor": FLOOR, "default_floor": DEFAULT_FLOOR, "planted_slowdown": PLANTED, "comparisons": []}
        # the power runs spread among the A/A ones, so both see the same stretch of the machine's day
        kinds = [c["kind"] for c in results["comparisons"]]  # a resumed calibration runs what is missing
        aa, power = max(0, args.aa - kinds.count("aa")), max(0, args.power - kinds.count("power"))
        plan = [plan_at(i, aa, power) for i in range(aa + power)]
        total = len(kinds) + len(plan)
        results["streams"] = args.streams
        todo = iter(enumerate(plan))
        lock = threading.Lock()

        def stream() -> None:
            while True:
                with lock:
                    i, kind = next(todo, (None, None))
                if kind is None:
                    return
                comparison = one_comparison(repo, kind, tuple(results["suite"]), results["processes"])
                with lock:  # appended as it finishes: an interrupted calibration resumes after the last one
                    results["comparisons"].append(comparison)
                    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
                    results["summary"] = summary(results["comparisons"])
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    args.out.write_text(json.dumps(results, indent=1))
                    s = results["summary"]
                    print(f"[{len(results['comparisons'])}/{total}] {kind}: false alarms so far "
                          f"{s['false_alarms']}, power caught {s['power_caught']}/{s['power_runs']}", flush=True)

        # each benchmark process runs on one thread (harness.bench.compare.THREADS), so ``streams`` comparisons
        # can run side by side, one per core: a busier machine than one bench-compare alone, so no kinder
        with ThreadPoolExecutor(max_workers=args.streams) as pool:
            for future in [pool.submit(stream) for _ in range(args.streams)]:
                future.result()
        return 0
    except (HarnessError, OSError, json.JSONDecodeError) as error:
        print(f"bench-calibrate: {error}", file=sys.stderr)
        return 2


def plan_at(i: int, aa: int, power: int) -> str:
    """The i-th comparison's kind: the power runs at even spacing among the A/A ones."""
    if not power:
        return "aa"
    every = (aa + power) / power
    return "power" if int((i + 1) / every) > int(i / every) else "aa"


if __name__ == "__main__":
    sys.exit(main())
