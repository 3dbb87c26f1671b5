"""Shared fixtures and hooks (the shared helper functions are in helpers.py): the smoke profile's
params and dataset, the benchmark workbench, the gpu marker, thread limits."""

from __future__ import annotations

import os

import pytest
import torch
from helpers import compose, synthetic_dataset

from harness.config import parse_section


@pytest.fixture(scope="session")
def smoke_params() -> dict:
    return compose("profile=smoke")


@pytest.fixture(scope="session")
def smoke_dataset(tmp_path_factory, smoke_params) -> dict:
    """The smoke profile's synthetic dataset, generated and indexed once per session."""
    return synthetic_dataset(smoke_params, tmp_path_factory.mktemp("smoke") / "frames")


def pytest_collection_modifyitems(config, items):
    """The one CUDA marker: a test marked ``gpu`` is skipped on a machine without a CUDA device (make gpu-check
    runs exactly these, with ``-m gpu``, where there is one)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (marker gpu; run make gpu-check on a machine with one)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _few_threads():
    """Tests share 2 cores with their own worker processes: keep torch to what it is given (OMP_NUM_THREADS when
    set: the speed gate runs its processes on one thread)."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    torch.set_num_threads(int(given) if given.isdigit() and int(given) > 0 else min(2, os.cpu_count() or 1))
    yield


# --------------------------------------------------------------------------- benchmarks (tests/benchmarks)
def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["torch"] = torch.__version__
    machine_info["torch_threads"] = torch.get_num_threads()
    machine_info["cuda"] = torch.version.cuda
    machine_info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    machine_info["bench_profile"] = os.environ.get("BENCH_PROFILE", "smoke")


@pytest.fixture(scope="session")
def bench_scale(request) -> float:
    """The share of the real data set's size a scale benchmark runs at: all of it when timed (`make bench`),
    a tenth when it only has to work (`make test`, --benchmark-disable), so the suite stays fast; BENCH_SCALE
    forces a value."""
    forced = os.environ.get("BENCH_SCALE")
    if forced:
        return float(forced)
    timed = request.config.getoption("benchmark_enable") or not request.config.getoption("benchmark_disable")
    return 1.0 if timed else 0.1


@pytest.fixture(scope="session")
def workbench(smoke_dataset):
    """The pytest-benchmark suite's workloads: the `bench` section of BENCH_PROFILE (default smoke) on the smoke
    dataset's frames. (A conftest.py in tests/benchmarks would shadow this module's name.)"""
    from harness.bench.workbench import make_workbench
    from harness.config import SplitsConfig
    from harness.data.windows import build_windows
    from harness.leakage.splits import make_manifest

    params = compose(f"profile={os.environ.get('BENCH_PROFILE', 'smoke')}")
    windows = build_windows(smoke_dataset["index"], smoke_dataset["windows"])
    manifest = make_manifest("frame", windows, parse_section(SplitsConfig, params["splits"], "splits"))
    return make_workbench(params, smoke_dataset["index"]["path"].to_numpy(), manifest.role("train"))
