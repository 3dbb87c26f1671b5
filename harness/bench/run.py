"""The benchmark's orchestrator: every configured workload in turn, their records and the summary the
report reads (claims by name, FLOPs, augmentation times, environment)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from harness.bench.timing import environment
from harness.bench.workbench import Workbench
from harness.bench.workloads import WORKLOADS, flops_workload

log = logging.getLogger("harness")


def run_benchmarks(bench: Workbench, progress: Callable[[str], Any] = lambda _: None) -> tuple[list[dict], dict[str, Any]]:
    """Every configured workload; returns all records and the summary (claims by name, FLOPs)."""
    records: list[dict[str, Any]] = []
    claims: dict[str, Any] = {}
    by_workload: dict[str, list[dict[str, Any]]] = {}
    for name in bench.cfg.workloads:
        progress(name)
        start = time.perf_counter()
        if name == "flops":  # the FLOP/s of the precision arms: reuses their records when they ran
            new, found = flops_workload(bench, by_workload.get("precision"))
        else:
            new, found = WORKLOADS[name](bench)
        log.info("bench %s: %d records in %.1f s", name, len(new), time.perf_counter() - start)
        by_workload[name] = new
        records += new
        claims.update(found)
    flops = claims.pop("flops", None)
    augment = {k: claims.pop(k) for k in list(claims) if k.startswith("albumentations_ms_per_image_")}
    summary = {"claims": claims, "augment": {k: v["value"] for k, v in augment.items()}, "flops": flops,
               "environment": environment(bench.device),
               "noisy_records": sum(1 for r in records if r.get("noisy"))}
    return records, summary
