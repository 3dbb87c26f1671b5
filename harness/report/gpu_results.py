"""The results folder of make gpu-check (results/gpu): one JSON per card, named by the card; the report shows
the newest. Torch-free, so that the report reads it without the code that measures it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.io import read_json


def card_slug(device_name: str) -> str:
    """A file name for a card: 'NVIDIA H200' -> 'nvidia-h200'."""
    return re.sub(r"[^a-z0-9]+", "-", device_name.lower()).strip("-") or "unknown-gpu"



def latest_result(folder: Path) -> dict[str, Any] | None:
    """The newest gpu-check result in ``folder`` (by its ``finished`` time), or None when there is none."""
    results = [read_json(p) for p in sorted(Path(folder).glob("*.json"))] if Path(folder).is_dir() else []
    results = [r for r in results if isinstance(r, dict) and r.get("finished")]
    return max(results, key=lambda r: r["finished"]) if results else None
