"""The leaking pairs a person can look at: for one split's evaluation set, the closest evaluation/training
frame pairs, one per evaluation video, each written as a small PNG (evaluation frame left, its nearest
training frame right) with a table of what each shows (``gallery.csv``). The split stage writes them;
the report embeds them.

The gallery favours variety over repetition: each evaluation video appears once (its closest pair), pairs
of two different videos come before pairs of one video at the same distance (they are the surprising
ones: a scene shared across videos), and a frame paired with itself (the frame split's shared frames)
comes last at its distance.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from harness.data.frames import read_frame
from harness.io import atomic_path, write_csv

GALLERY_COLUMNS = ["file", "role", "distance", "eval_video", "eval_frame", "train_video", "train_frame",
                   "eval_class", "train_class", "same_video", "same_frame"]


def select_pairs(pairs: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` closest pairs, one per evaluation video (see the module's ordering)."""
    if pairs.empty or n == 0:
        return pairs.iloc[:0]
    ordered = pairs.sort_values(["distance", "same_video", "same_frame", "eval_video", "eval_frame"], kind="stable")
    return ordered.drop_duplicates("eval_video").head(n).reset_index(drop=True)


def pair_image(eval_path: str, train_path: str, image_size: int, size: int) -> np.ndarray:
    """Both frames at ``size`` pixels a side, side by side with a 2-pixel white gap (RGB uint8)."""
    frames = [cv2.resize(read_frame(p, image_size), (size, size), interpolation=cv2.INTER_AREA)
              for p in (eval_path, train_path)]
    gap = np.full((size, 2, 3), 255, np.uint8)
    return np.concatenate([frames[0], gap, frames[1]], axis=1)


def write_gallery(pairs: pd.DataFrame, folder: Path, n: int, image_size: int, size: int = 96) -> pd.DataFrame:
    """Write the selected pairs' PNGs and ``gallery.csv`` into ``folder`` (emptied first); returns the table."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("pair_*.png"):
        old.unlink()
    chosen = select_pairs(pairs, n)
    files = []
    for i, pair in enumerate(chosen.itertuples(index=False)):
        name = f"pair_{i:02d}.png"
        image = pair_image(pair.eval_path, pair.train_path, image_size, size)
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if not ok:
            raise OSError(f"could not encode {name}")
        with atomic_path(folder / name) as tmp:
            tmp.write_bytes(encoded.tobytes())
        files.append(name)
    table = chosen.assign(file=files)[GALLERY_COLUMNS] if len(chosen) else pd.DataFrame(columns=GALLERY_COLUMNS)
    write_csv(folder / "gallery.csv", table)
    return table
