"""Timing primitives: pure functions that carry the benchmark's honesty rules, unit-tested on their own.

Every arm is warmed up first (not timed); on a GPU the device is synchronised before every clock read;
arms are interleaved over rounds with the order rotating each round, so drift in the machine hits all
arms alike; a record is the median and IQR of its per-round rates, noisy when IQR / median exceeds a
bound; a ratio is the ratio of medians with a 95% interval from resampling the paired rounds.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_arms(arms: dict[str, Callable[[], int]], warmup_steps: int, timed_steps: int, repeats: int,
              device: torch.device) -> dict[str, list[float]]:
    """Items per second of each arm in each round. An arm is a callable doing one step and returning
    the number of items (clips, images) it processed. Warm-up steps are run first and not timed."""
    for step in arms.values():
        for _ in range(warmup_steps):
            step()
    synchronize(device)
    names = list(arms)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            synchronize(device)
            start = time.perf_counter()
            items = sum(arms[name]() for _ in range(timed_steps))
            synchronize(device)
            rates[name].append(items / (time.perf_counter() - start))
    return rates


def summarise(rates: list[float], noisy_bound: float) -> dict[str, Any]:
    q1, median, q3 = np.percentile(rates, [25, 50, 75])
    spread = float((q3 - q1) / median) if median > 0 else float("nan")
    return {"samples_per_s": round(float(median), 3), "iqr": round(float(q3 - q1), 3),
            "iqr_over_median": round(spread, 4), "noisy": bool(spread > noisy_bound),
            "rounds": [round(r, 3) for r in rates]}


def ratio_with_interval(fast: list[float], slow: list[float], resamples: int, seed: int) -> dict[str, float]:
    """median(fast) / median(slow), with a 95% interval from resampling the paired rounds."""
    a, b = np.asarray(fast), np.asarray(slow)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(resamples, len(a)))
    samples = np.median(a[idx], axis=1) / np.median(b[idx], axis=1)
    low, high = np.percentile(samples, [2.5, 97.5])
    return {"ratio": round(float(np.median(a) / np.median(b)), 4), "ci_low": round(float(low), 4),
            "ci_high": round(float(high), 4)}


def environment(device: torch.device) -> dict[str, Any]:
    return {
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "threads": torch.get_num_threads(),
    }


WARM_UP_CAP = 30  # calls: a warm-up that has not settled by then is reported as such (warm_steady false)


def warm_up(fn: Callable[[], Any], window: int = 3, within: float = 0.10, max_rounds: int = WARM_UP_CAP,
            max_seconds: float = 30.0) -> dict[str, Any]:
    """Call ``fn`` until it runs at a steady speed, and say how long that took: warm-up that is measured, not
    guessed (cold page cache, allocator, loader workers, torch.compile's and inductor's caches all settle at
    their own pace). Steady means the last ``window`` calls all lie within ``within`` of their median; after
    ``max_rounds`` calls or ``max_seconds`` it stops anyway and says it never settled. The first call (a
    compile's, a worker start's) is reported apart; none of these calls is a timed round."""
    times: list[float] = []
    started = time.perf_counter()
    stable = False
    while len(times) < max_rounds and time.perf_counter() - started < max_seconds:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        last = np.asarray(times[-window:])
        if len(times) > window and np.all(np.abs(last / np.median(last) - 1) <= within):
            stable = True
            break
    return {"warmup_rounds": len(times), "first_call_s": round(times[0], 6), "warm_steady": stable,
            "warmup_s": round(time.perf_counter() - started, 3)}


def timed_after_warm_up(benchmark, fn: Callable[[], Any], rounds: int = 10, iterations: int = 1, **warm) -> Any:
    """pytest-benchmark's ``pedantic`` after :func:`warm_up` (its record in ``extra_info``); with timing disabled
    (``make test``) the function just runs once, as pedantic does. Each warm-up call runs ``iterations`` times,
    like a round."""
    if not getattr(benchmark, "disabled", False):
        benchmark.extra_info.update(warm_up(lambda: [fn() for _ in range(iterations)], **warm))
    return benchmark.pedantic(fn, rounds=rounds, iterations=iterations, warmup_rounds=0)
