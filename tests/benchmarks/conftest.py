"""The pytest-benchmark suite's fixtures: one Workbench on the smoke dataset, and the machine's GPU in
the saved machine info (so `make bench` compares a run only with runs of the same hardware)."""

from __future__ import annotations

import os

import pytest
import torch
import yaml

from harness.bench import make_workbench
from harness.config import SplitsConfig, compose_params, parse_section
from harness.data.windows import build_windows
from harness.splits import make_manifest


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["torch"] = torch.__version__
    machine_info["torch_threads"] = torch.get_num_threads()
    machine_info["cuda"] = torch.version.cuda
    machine_info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    machine_info["bench_profile"] = os.environ.get("BENCH_PROFILE", "smoke")


@pytest.fixture(scope="session")
def workbench(smoke_dataset):
    """Benchmarks use the `bench` section of BENCH_PROFILE (default smoke) on the smoke dataset's frames."""
    params = yaml.safe_load(compose_params([f"profile={os.environ.get('BENCH_PROFILE', 'smoke')}"]))
    windows = build_windows(smoke_dataset["index"], smoke_dataset["windows"])
    manifest = make_manifest("frame", windows, parse_section(SplitsConfig, params["splits"], "splits"))
    return make_workbench(params, smoke_dataset["index"]["path"].to_numpy(), manifest.role("train"))
