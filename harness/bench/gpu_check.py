"""`make gpu-check`: what only a CUDA GPU can measure, in one prepared run of at most about 8 minutes.

Three parts, each under its own time limit, each recorded even when it fails:
1. the ``gpu`` tests (fp16 + GradScaler training, pinned memory; ``pytest -m gpu``);
2. the benchmark stage on CUDA, on a freshly prepared synthetic set of the cpu profile: fp16 vs fp32 step,
   the step's peak memory, the loader with pinned memory, torch.compile including ``reduce-overhead``,
   FLOPs and the fraction of the card's peak;
3. a few training steps of the write-up's model at its own dimensions (profile=paper: efficientnet_b0,
   224 px, batch 64, fp16), with their step time and peak memory.

It writes one JSON, ``<out>/<card>.json`` (for example ``results/gpu/nvidia-h200.json``): commit it. The
report shows the newest file of that folder beside the CPU run's figures. On a machine without a GPU it
says so in one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.io import read_json, write_json
from harness.report.gpu_results import card_slug
from harness.sources import ROOT

NEEDS_GPU = "make gpu-check needs a CUDA GPU, and torch sees none on this machine: nothing was measured"
LIMITS = {"tests": 150, "benchmark": 240, "paper_steps": 90}  # seconds per part: 8 minutes in all


def junit_summary(path: Path) -> dict[str, Any]:
    """Counts and failed test names from a pytest --junitxml file."""
    root = ElementTree.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    failed = [f"{case.get('classname')}::{case.get('name')}" for case in root.iter("testcase")
              if case.find("failure") is not None or case.find("error") is not None]
    return {**counts, "passed": counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"],
            "failed": failed}


def _run(cmd: list[str], limit: int, cwd: Path) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=limit)
        status, tail = ("ok" if done.returncode == 0 else f"exit {done.returncode}"), (done.stdout + done.stderr)[-1500:]
    except subprocess.TimeoutExpired:
        status, tail = f"stopped after its {limit} s limit", ""
    return {"status": status, "seconds": round(time.perf_counter() - start, 1), "log_tail": tail}


def gpu_tests(repo: Path, work: Path) -> dict[str, Any]:
    report = work / "gpu-tests.xml"
    run = _run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
               LIMITS["tests"], repo)
    return {**run, **(junit_summary(report) if report.is_file() else {})}


def benchmark_on_cuda(repo: Path, work: Path, profile: str = "cpu", device: str = "cuda") -> dict[str, Any]:
    """prepare -> split@frame -> benchmark, the pipeline's own stage scripts, with run.device=cuda (the tests run
    the same sequence on the CPU with the smoke profile)."""
    params = work / "params.yaml"
    steps = [
        [sys.executable, "-m", "harness.config", f"profile={profile}", f"run.device={device}", "--output", str(params)],
        [sys.executable, "stages/prepare.py", "--params", str(params), "--out", str(work / "prepared")],
        [sys.executable, "stages/split.py", "--strategy", "frame", "--params", str(params),
         "--index", str(work / "prepared/index.parquet"), "--out", str(work / "splits/frame")],
        [sys.executable, "stages/benchmark.py", "--params", str(params), "--index", str(work / "prepared/index.parquet"),
         "--manifest", str(work / "splits/frame/manifest.parquet"), "--out", str(work / "bench")],
    ]
    deadline = time.monotonic() + LIMITS["benchmark"]
    for cmd in steps:
        run = _run(cmd, max(1, int(deadline - time.monotonic())), repo)
        if run["status"] != "ok":
            return {**run, "failed_step": Path(cmd[1]).name if cmd[1].endswith(".py") else "compose"}
    summary = read_json(work / "bench" / "summary.json")
    return {"status": "ok", "claims": summary["claims"], "flops": summary.get("flops"),
            "environment": summary.get("environment")}


def paper_steps(steps: int = 5, warmup: int = 2) -> dict[str, Any]:
    """Optimizer steps of the multi-task model at the write-up's dimensions (profile=paper), fp16 on CUDA."""
    import numpy as np
    import pandas as pd
    import torch
    import yaml

    from harness.bench.workbench import make_workbench, train_step
    from harness.config import BenchConfig, TrainConfig, compose_params, load_section
    from harness.runtime.precision import resolve_precision

    params = yaml.safe_load(compose_params(["profile=paper", "run.device=cuda"]))
    train = load_section(params, "train", TrainConfig)
    bench_cfg = dataclasses.replace(load_section(params, "bench", BenchConfig), batch_size=train.batch_size)
    bench = make_workbench(params, np.array([]), pd.DataFrame(columns=["label"]), cfg=bench_cfg)  # random clips only
    device = bench.device
    step = train_step(bench, bench.model("multitask"), bench.loss("multitask"), resolve_precision("amp", device))
    batch = bench.random_batch()
    for _ in range(warmup):
        step(iter([batch] * train.accumulation_steps))
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        clips = step(iter([batch] * train.accumulation_steps))
        torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    median = float(np.median(times))
    return {"status": "ok", "optimizer_step_seconds": [round(t, 4) for t in times],
            "median_step_seconds": round(median, 4), "clips_per_s": round(clips / median, 1),
            "clips_per_step": clips, "clip_shape": f"{bench.clip_frames}x3x{bench.input_size}x{bench.input_size}",
            "peak_memory_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder of the committed results (results/gpu)")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print(NEEDS_GPU)
        return 2
    repo = ROOT  # the stage scripts and tests run from the repository
    card = torch.cuda.get_device_name(0)
    result: dict[str, Any] = {"card": card, "started": datetime.now(UTC).isoformat(timespec="seconds"),
                              "torch": torch.__version__, "cuda": torch.version.cuda}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        work = Path(tmp)
        for name, part in (("tests", lambda: gpu_tests(repo, work)), ("benchmark", lambda: benchmark_on_cuda(repo, work)),
                           ("paper_steps", paper_steps)):
            print(f"gpu-check: {name} (limit {LIMITS[name]} s)", flush=True)
            try:
                result[name] = part()
            except (HarnessError, RuntimeError, OSError, KeyError, ValueError) as e:
                result[name] = {"status": f"failed: {type(e).__name__}: {e}"}
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    from harness.runtime.runinfo import environment

    result["environment"] = environment()
    path = args.out / f"{card_slug(card)}.json"
    write_json(path, result)
    print(json.dumps({k: (v.get("status") if isinstance(v, dict) else v) for k, v in result.items()
                      if k != "environment"}, indent=1))
    print(f"wrote {path}: commit it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
