"""Seeds, determinism, device choice and a record of the environment every output carries."""

from __future__ import annotations

import os
import platform
import random
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.config import RunConfig
from harness.errors import ConfigError

_PACKAGES = (
    "torch", "torchvision", "timm", "albumentations", "numpy", "pandas", "scikit-learn",
    "opencv-python-headless", "dvc", "dvclive", "hydra-core", "pytest-benchmark", "jinja2", "matplotlib",
)


def resolve_device(run: RunConfig) -> torch.device:
    """The device ``run.device`` asks for; cuda without a GPU is a configuration error."""
    if run.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("params.yaml: run.device = 'cuda' but no CUDA device is available; use 'auto' or 'cpu'")
    if run.device == "cpu" or (run.device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda")


def set_threads(run: RunConfig, processes: int = 1) -> int:
    """torch's intra-op threads: ``run.threads``, else ``OMP_NUM_THREADS`` when set (as torch itself reads it;
    the speed gate sets 1), else the machine's cores shared among ``processes``."""
    from_env = os.environ.get("OMP_NUM_THREADS", "")
    threads = run.threads or (int(from_env) if from_env.isdigit() and int(from_env) > 0 else 0) \
        or max(1, (os.cpu_count() or 1) // processes)
    torch.set_num_threads(threads)
    return threads


def seed_everything(seed: int, deterministic: bool) -> dict[str, Any]:
    """Seed Python, NumPy and torch; with ``deterministic`` force deterministic algorithms.

    Returns the flags in force, for the run's record. DataLoader workers and albumentations are
    seeded where they are built (harness.data.dataset), from the same seed.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        # cuBLAS needs a fixed workspace to be deterministic (CUDA docs); harmless on CPU
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic
    return determinism_flags(seed)


def determinism_flags(seed: int | None = None) -> dict[str, Any]:
    return {
        "seed": seed,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "torch_threads": torch.get_num_threads(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }


def _git(*args: str, cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return round(pages * size / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def gpu_name() -> str | None:
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def hardware() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "gpu": gpu_name(),
        "gpu_count": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def library_versions() -> dict[str, str | None]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(cwd: Path | None = None) -> dict[str, Any]:
    """The commit of the repository at ``cwd`` (default: here) and whether tracked files differ from it."""
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    return {"commit": _git("rev-parse", "HEAD", cwd=cwd), "dirty": bool(status) if status is not None else None}


def environment() -> dict[str, Any]:
    """Everything an output needs to say where it came from."""
    return {"hardware": hardware(), "libraries": library_versions(), "git": git_state()}
