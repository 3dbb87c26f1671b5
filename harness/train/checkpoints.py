"""Checkpoints and run fingerprints: written atomically, loaded with ``weights_only=True``, never resumed by a
run of other code, settings or data; and the trained model a train stage left (``load_trained_model``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from harness.errors import HarnessError
from harness.io import atomic_path, read_json
from harness.models import build_model

if TYPE_CHECKING:
    from harness.train.spec import RunSpec


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; a damaged file is one clear error."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise HarnessError(f"checkpoint {path} does not exist; run the train stage first") from None
    except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError, zipfile errors...
        raise HarnessError(
            f"checkpoint {path} is corrupt or truncated ({type(e).__name__}); delete it to train from scratch"
        ) from None


def fingerprint(*parts: Any) -> str:
    """A hash of everything that determines a run, to refuse resuming a checkpoint of another config."""
    text = json.dumps(parts, sort_keys=True, default=lambda o: dataclasses.asdict(o) if dataclasses.is_dataclass(o) else str(o))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stale_checkpoint(checkpoint: dict[str, Any], spec: RunSpec) -> str | None:
    """Why ``checkpoint`` must not be resumed by ``spec``'s run (None when it may): written by other code,
    or for other settings or data."""
    if checkpoint.get("code_hash") != spec.code_hash:
        return f"it was written by other code (code hash {checkpoint.get('code_hash')}, now {spec.code_hash})"
    if checkpoint.get("fingerprint") != spec.run_fingerprint:
        return "it belongs to other settings or data"
    return None


def load_trained_model(run_dir: Path, params: dict[str, Any], device) -> tuple[Any, dict[str, Any]]:
    """The model a train stage left in ``run_dir`` (best checkpoint), rebuilt from params.yaml."""
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        raise HarnessError(f"{summary_path} does not exist: run the train stage first (dvc repro)")
    summary = read_json(summary_path)
    model = build_model(summary["model"], params["model"][summary["model"]], len(params["data"]["classes"]))
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "best.pt", map_location="cpu")
    written_by = {k: checkpoint.get(k) for k in ("fingerprint", "code_hash")}
    if written_by != {"fingerprint": summary.get("run_fingerprint"), "code_hash": summary.get("code_hash")}:
        raise HarnessError(f"{run_dir}/checkpoints/best.pt was not written by the run {summary_path} describes "
                           f"(other code or settings); retrain with `dvc repro`")
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError:
        raise HarnessError(
            f"{run_dir}/checkpoints/best.pt does not fit model.{summary['model']} in params.yaml; "
            f"retrain with `dvc repro`"
        ) from None
    return model.to(device).eval(), summary
