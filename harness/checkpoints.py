"""Checkpoints and run fingerprints: written atomically, loaded with ``weights_only=True``, and never
resumed by a run of other code, settings or data."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from harness.errors import HarnessError
from harness.io import atomic_path

if TYPE_CHECKING:
    from harness.training import RunSpec


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
