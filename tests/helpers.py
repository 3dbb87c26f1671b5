"""Helpers the tests share (fixtures live in conftest.py): composed configs, PNG writers, a copy of the
repository to run DVC in, subprocesses with this environment, small synthetic datasets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import yaml

from harness.config import DataConfig, SyntheticConfig, WindowConfig, compose_params, parse_section

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


def dataset_workers() -> int:
    """Processes that generate and index a test's dataset: 2, or 1 in a speed-gate process (OMP_NUM_THREADS=1,
    harness.bench.compare), which keeps to one core so that a comparison beside it is not disturbed."""
    return 1 if os.environ.get("OMP_NUM_THREADS") == "1" else 2


def synthetic_dataset(params: dict, root: Path) -> dict:
    """``params``' synthetic dataset, generated under ``root`` and indexed (paths as listed)."""
    from harness.data.index import index_frames
    from harness.data.synthetic import generate

    data = section(params, "data", DataConfig)
    generate(section(params, "synthetic", SyntheticConfig), root, data.classes, data.normal_class, data.image_size,
             data.frame_every, workers=dataset_workers())
    index = index_frames(root, data.classes, data.image_size, workers=dataset_workers()).frames
    return {"root": root, "index": index, "params": params, "data": data,
            "windows": section(params, "windows", WindowConfig)}


def random_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniformly random 64-bit hashes."""
    return rng.integers(0, np.iinfo(np.int64).max, n, dtype=np.int64).astype(np.uint64) | (
        rng.integers(0, 2, n).astype(np.uint64) << np.uint64(63))


def frame_table(videos: dict[str, int], split: str = "train", label: int = 0) -> pd.DataFrame:
    """A minimal frame index: ``videos`` maps video id -> number of PNGs."""
    rows = []
    for video, n in videos.items():
        for i in range(n):
            rows.append({"path": f"{video}_{i * 10}.png", "official_split": split, "class_name": f"C{label}",
                         "label": label, "video_id": video, "frame_number": i * 10, "frame_index": i,
                         "phash": np.uint64(0), "conversions": "", "nested": False})
    return pd.DataFrame(rows)


def frame(seed: int, size=(64, 64)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.random((4, 4, 3)).astype(np.float32)
    return (cv2.resize(coarse, (size[1], size[0]), interpolation=cv2.INTER_CUBIC).clip(0, 1) * 255).astype(np.uint8)


def good_video(root, split, class_name, video, n, start_seed=0):
    for i in range(n):
        write_rgb_png(root / split / class_name / f"{video}_{i * 10}.png", frame(start_seed + i))


def flip_bits(rng, hashes, k):
    """``hashes`` with ``k`` distinct random bits flipped in each."""
    out = hashes.copy()
    for i in range(len(out)):
        for bit in rng.choice(64, k, replace=False):
            out[i] ^= np.uint64(1) << np.uint64(int(bit))
    return out
