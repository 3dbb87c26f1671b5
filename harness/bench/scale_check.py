"""`make scale-check`: the model-free part of the audit at UCF-Crime's size, timed stage by stage.

Generates the synthetic set in the real layout at ``--scale`` of UCF-Crime's size (1,899 videos and about
1.38 M 64x64 PNGs at 1.0: the generator draws every anomaly class alike, so the totals match, not each class),
then runs the pipeline's own stage scripts on it (prepare, every split strategy, the probe) one after another in
a work folder, each as its own process, and writes one JSON file: every stage's wall time and peak memory (the
largest resident set of the stage or any process it waited for, from wait4), the disk written besides the frames,
and each figure against the issue's targets (index + splits + probe at most 5 minutes, at most 4 GB a stage,
at most 1 GB of disk besides the frames). Generation is timed apart: it stands in for data a reviewer already
has. Not part of `make test`: at full size it takes about 14 minutes on 2 cores (6 of them generating).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from harness.config import compose_params
from harness.io import read_json, replace_block, write_json

log = logging.getLogger("harness")

ROOT = Path(__file__).resolve().parents[2]
# UCF-Crime's size (reference.md §2; Train per class in reports/claims.yaml, overlap.dataset): Train 800 normal and
# 810 anomaly videos, Test 150 and 140; 1,266,345 + 111,308 PNGs, of which 1,012,720 normal. The generator gives
# every anomaly class the same count, so 62 + 11 videos for each of 13 classes (949), and lengths drawn uniformly
# around the mean lengths: normal 1,066 PNGs (1,012,720 / 950), anomaly 384 (364,933 / 949).
REAL_SIZE = {"normal_train_videos": 800, "normal_test_videos": 150, "anomaly_train_videos": 62,
             "anomaly_test_videos": 11, "normal_frames": [700, 1432], "anomaly_frames": [200, 568]}
TARGETS = {"model_free_seconds": 300, "peak_memory_mb": 4096, "disk_besides_frames_mb": 1024}
STAGES = ("prepare", "split", "probe")


def overrides(scale: float) -> list[str]:
    """Hydra overrides that size the synthetic set at ``scale`` of UCF-Crime (at least one video of each kind)."""
    out = []
    for key, value in REAL_SIZE.items():
        if key.endswith("_videos"):
            value = max(1, round(value * scale))
        out.append(f"synthetic.{key}={value}")
    return out


def run_stage(command: list[str], cwd: Path) -> dict[str, Any]:
    """One stage script as its own process: wall seconds, peak resident memory (MB) and its exit status."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read() if process.stderr else b""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}): {stderr.decode()[-2000:]}")
    return {"seconds": round(seconds, 1), "peak_memory_mb": round(usage.ru_maxrss / 1024)}  # ru_maxrss: KB on Linux


def folder_mb(path: Path, skip: Path | None = None) -> float:
    """Bytes under ``path`` (not following links, leaving out ``skip``), in MB."""
    total = 0
    for entry in path.rglob("*"):
        if skip is not None and (entry == skip or skip in entry.parents):
            continue
        if entry.is_file() and not entry.is_symlink():
            total += entry.stat().st_size
    return round(total / 2**20, 1)


def scale_check(scale: float, work: Path) -> dict[str, Any]:
    """Generate, then run prepare (indexing), every split and the probe in ``work``; the timings and targets."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    params = yaml.safe_load(compose_params(overrides(scale)))
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    python, stages = sys.executable, ROOT / "stages"
    prepared, splits, probe = work / "prepared", work / "splits", work / "probe"
    results: dict[str, Any] = {}
    log.info("prepare: generating and indexing at scale %g (%s)", scale, ", ".join(overrides(scale)))
    results["prepare"] = run_stage([python, str(stages / "prepare.py"), "--out", str(prepared)], work)
    timing = read_json(prepared / "report.json")["timing"]
    summary = read_json(prepared / "summary.json")
    results["prepare"]["index_seconds"] = timing["total_seconds"]
    results["prepare"]["generation_seconds"] = round(results["prepare"]["seconds"] - timing["total_seconds"], 1)
    for strategy in params["pipeline"]["strategies"]:
        log.info("split@%s", strategy)
        results[f"split@{strategy}"] = run_stage([python, str(stages / "split.py"), "--strategy", strategy, "--index",
                                                  str(prepared / "index.parquet"), "--out", str(splits / strategy)], work)
    log.info("probe")
    results["probe"] = run_stage([python, str(stages / "probe.py"), "--splits", str(splits), "--index",
                                  str(prepared / "index.parquet"), "--thumbnails", str(prepared / "thumbnails.npy"),
                                  "--out", str(probe)], work)
    split_seconds = sum(v["seconds"] for k, v in results.items() if k.startswith("split@"))
    model_free = timing["total_seconds"] + split_seconds + results["probe"]["seconds"]
    peak = max(v["peak_memory_mb"] for v in results.values())
    disk = folder_mb(work, skip=prepared / "frames")
    measured = {"model_free_seconds": round(model_free, 1), "peak_memory_mb": peak, "disk_besides_frames_mb": disk}
    return {
        "scale": scale, "frames": summary["frames"], "videos": summary["videos"],
        "machine": {"hostname": platform.node(), "cpu_count": os.cpu_count(), "processor": platform.processor()},
        "stages": results,
        "index_frames_per_second": timing["frames_per_second"],
        "model_free_seconds": {"index": timing["total_seconds"], "splits": round(split_seconds, 1),
                               "probe": results["probe"]["seconds"], "total": round(model_free, 1)},
        "measured": measured, "targets": TARGETS,
        # the targets are for the full size: a smaller run judges none of them (None), it only shows where time goes
        "meets_targets": {k: measured[k] <= TARGETS[k] if scale == 1 else None for k in TARGETS},
    }


START, END = "<!-- scale:start -->", "<!-- scale:end -->"


def docs_block(result: dict[str, Any], name: str) -> str:
    """The results as the Markdown that docs/data.md shows between START and END (written by --docs)."""
    m, t, ok = result["measured"], result["targets"], result["meets_targets"]
    total = result["model_free_seconds"]

    def judged(key: str) -> str:
        return {True: "met", False: "not met", None: "not judged at this scale"}[ok[key]]

    lines = [START, "",
             f"Generated by `make scale-check` from `results/scale/{name}` (scale {result['scale']:g}: "
             f"{result['frames']:,} PNGs of {result['videos']:,} videos; {result['machine']['cpu_count']} cores). "
             f"Index + splits + probe: **{total['total']:,.0f} s** (index {total['index']:,.0f} s at "
             f"{result['index_frames_per_second']:,.0f} frames/s, splits {total['splits']:,.0f} s, probe "
             f"{total['probe']:,.0f} s) against a target of {t['model_free_seconds']} s "
             f"at full size ({judged('model_free_seconds')}); peak memory {m['peak_memory_mb']:,} MB against "
             f"{t['peak_memory_mb']:,} ({judged('peak_memory_mb')}); disk besides the frames "
             f"{m['disk_besides_frames_mb']:,.0f} MB against {t['disk_besides_frames_mb']:,} "
             f"({judged('disk_besides_frames_mb')})." + ("" if result["scale"] == 1 else
             " The targets are for UCF-Crime's size; this run is smaller and judges none of them: it shows where the "
             "time goes."), "",
             "| stage | seconds | peak memory (MB) |", "|---|---|---|"]
    for stage, v in result["stages"].items():
        extra = (f" (generation {v['generation_seconds']:,.0f} s, index {v['index_seconds']:,.0f} s)"
                 if stage == "prepare" else "")
        lines.append(f"| {stage} | {v['seconds']:,.1f}{extra} | {v['peak_memory_mb']:,} |")
    return "\n".join([*lines, "", END])


def write_docs(path: Path, block: str) -> None:
    path.write_text(replace_block(path.read_text(), block, START, END))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of UCF-Crime's size (1.0: the real size)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/repro-harness-scale-check"),
                        help="where the frames and stage outputs go (deleted first; about 6 GB at full size)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "scale")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--docs", type=Path, help="a Markdown file whose scale block shows the results (docs/data.md)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="scale-check: %(message)s")
    result = scale_check(args.scale, args.work)
    path = args.out / f"{platform.node()}-scale-{args.scale:g}.json"
    write_json(path, result)
    if args.docs:
        write_docs(args.docs, docs_block(result, path.name))
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)
    log.info("%s frames: index %ss, splits %ss, probe %ss = %ss (target %ss); peak %s MB; disk %s MB -> %s",
             f"{result['frames']:,}", *result["model_free_seconds"].values(), TARGETS["model_free_seconds"],
             result["measured"]["peak_memory_mb"], result["measured"]["disk_besides_frames_mb"], path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
