"""Shared fixtures: composed configs, a tiny synthetic dataset on disk, PNG writers for bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from harness.config import (
    DataConfig,
    SyntheticConfig,
    WindowConfig,
    compose_params,
    parse_section,
)

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def compose(*overrides: str) -> dict:
    """The params a `dvc exp run -S ...` with these overrides would write."""
    return yaml.safe_load(compose_params(list(overrides)))


def section(params: dict, name: str, cls: type):
    return parse_section(cls, params[name], name)


def write_rgb_png(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def env_with_venv() -> dict[str, str]:
    """The environment for subprocesses: this interpreter's bin first, DVC quiet."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["DVC_NO_ANALYTICS"] = "1"
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def copy_repo(dest: Path) -> Path:
    """Copy the tracked and untracked-but-not-ignored files of this checkout to ``dest``, as a new git
    repository with one commit (DVC needs git; `dvc exp run` needs a commit)."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    run(["git", "init", "-q"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm", "snapshot"], dest)
    return dest


def run(cmd: list[str], cwd: Path, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """``cmd`` in ``cwd``; in a copy of the repository, the copy's own ``harness`` (not the editable install's)."""
    env = env_with_venv()
    if (Path(cwd) / "harness" / "__init__.py").is_file():
        env["PYTHONPATH"] = str(cwd)
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


@pytest.fixture(scope="session")
def smoke_params() -> dict:
    return compose("profile=smoke")


def synthetic_dataset(params: dict, root: Path) -> dict:
    """``params``' synthetic dataset, generated under ``root`` and indexed (paths as listed)."""
    from harness.data.index import index_frames
    from harness.data.synthetic import generate

    data = section(params, "data", DataConfig)
    generate(section(params, "synthetic", SyntheticConfig), root, data.classes, data.normal_class, data.image_size,
             data.frame_every, workers=2)
    index = index_frames(root, data.classes, data.image_size, workers=2).frames
    return {"root": root, "index": index, "params": params, "data": data,
            "windows": section(params, "windows", WindowConfig)}


def random_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniformly random 64-bit hashes."""
    return rng.integers(0, np.iinfo(np.int64).max, n, dtype=np.int64).astype(np.uint64) | (
        rng.integers(0, 2, n).astype(np.uint64) << np.uint64(63))


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
    """Tests share 2 cores with their own worker processes: keep torch to what it is given."""
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield


def frame_table(videos: dict[str, int], split: str = "train", label: int = 0) -> pd.DataFrame:
    """A minimal frame index: ``videos`` maps video id -> number of PNGs."""
    rows = []
    for video, n in videos.items():
        for i in range(n):
            rows.append({"path": f"{video}_{i * 10}.png", "official_split": split, "class_name": f"C{label}",
                         "label": label, "video_id": video, "frame_number": i * 10, "frame_index": i,
                         "phash": np.uint64(0), "conversions": "", "nested": False})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- benchmarks (tests/benchmarks)
def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["torch"] = torch.__version__
    machine_info["torch_threads"] = torch.get_num_threads()
    machine_info["cuda"] = torch.version.cuda
    machine_info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    machine_info["bench_profile"] = os.environ.get("BENCH_PROFILE", "smoke")


@pytest.fixture(scope="session")
def workbench(smoke_dataset):
    """The pytest-benchmark suite's workloads: the `bench` section of BENCH_PROFILE (default smoke) on the smoke
    dataset's frames. (A conftest.py in tests/benchmarks would shadow this module's name.)"""
    from harness.bench.workbench import make_workbench
    from harness.config import SplitsConfig
    from harness.data.windows import build_windows
    from harness.splits import make_manifest

    params = compose(f"profile={os.environ.get('BENCH_PROFILE', 'smoke')}")
    windows = build_windows(smoke_dataset["index"], smoke_dataset["windows"])
    manifest = make_manifest("frame", windows, parse_section(SplitsConfig, params["splits"], "splits"))
    return make_workbench(params, smoke_dataset["index"]["path"].to_numpy(), manifest.role("train"))
