"""Exact duplicates across identities: one picture filed as two frames.

A frame's identity is (video id, frame number). Two identities with the same content leak more plainly
than any near-duplicate: a copied scene, a video filed twice under two names, a frozen stream. Files
are grouped by the CRC-32 of their bytes (already in the frame index), and only files whose CRC-32
is shared are decoded: a hash of their pixels confirms the match, so a CRC-32 collision (about 200
chance pairs among 1.38 M files) is never counted. Pairs are counted by the split roles of their two
frames in one manifest.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import cv2
import numpy as np
import pandas as pd

UNUSED = "unused"  # a frame no window of the manifest reads
ROLE_ORDER = ("train", "val", "test", UNUSED)


def pixel_hash(path: str) -> str:
    """BLAKE2b of a PNG's decoded pixels with their shape and type ("" where it cannot be decoded)."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        return ""
    digest = hashlib.blake2b(f"{image.shape}{image.dtype}".encode(), digest_size=16)
    digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()


def duplicate_groups(index: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``index`` whose content another row repeats: index row, video_id, frame_number, path and
    ``group`` (one number per distinct content)."""
    shared = index[index.duplicated("crc32", keep=False)]
    if shared.empty:
        return pd.DataFrame(columns=["row", "video_id", "frame_number", "path", "group"])
    pixels = shared["path"].map(pixel_hash)
    frame = pd.DataFrame({"row": shared.index.to_numpy(), "video_id": shared["video_id"].to_numpy(),
                          "frame_number": shared["frame_number"].to_numpy(), "path": shared["path"].to_numpy(),
                          "content": shared["crc32"].astype(str).to_numpy() + ":" + pixels.to_numpy()})
    frame = frame[(pixels != "").to_numpy() & frame.duplicated("content", keep=False).to_numpy()]
    frame["group"] = pd.factorize(frame["content"], sort=True)[0]
    return frame.drop(columns="content").reset_index(drop=True)


def frame_roles(n_rows: int, rows_by_role: dict[str, np.ndarray]) -> np.ndarray:
    """Each index row's role: the first of train, val, test whose windows read it, else unused."""
    roles = np.full(n_rows, UNUSED, dtype=object)
    for role in reversed(ROLE_ORDER[:-1]):
        if role in rows_by_role:
            roles[rows_by_role[role]] = role
    return roles


def _pair_name(a: str, b: str) -> str:
    a, b = sorted((a, b), key=ROLE_ORDER.index)
    return f"{a}/{b}" if a != b else f"within {a}"


def exact_duplicates(groups: pd.DataFrame, roles: np.ndarray, examples: int) -> dict[str, Any]:
    """Pairs of identities with one content, by role pair (all pairs and those across two videos),
    with up to ``examples`` groups listed."""
    if groups.empty:
        return {"groups": 0, "frames": 0, "pairs_by_role": {}, "examples": []}
    frame = groups.assign(role=roles[groups["row"].to_numpy()])
    by_pair: dict[str, dict[str, int]] = {}
    per_role = frame.groupby(["group", "role"]).size()
    per_video = frame.groupby(["group", "video_id", "role"]).size()
    for a, b in itertools.combinations_with_replacement(ROLE_ORDER, 2):
        pairs, same_video = _pairs(per_role, a, b), _pairs(per_video, a, b)
        if pairs:
            by_pair[_pair_name(a, b)] = {"pairs": pairs, "cross_video_pairs": pairs - same_video}
    listed = [
        [{"video_id": r.video_id, "frame_number": int(r.frame_number), "role": r.role, "path": str(r.path)}
         for r in members.itertuples()][:4]
        for _, members in itertools.islice(frame.groupby("group"), examples)
    ]
    return {
        "groups": int(frame["group"].nunique()),
        "frames": int(len(frame)),
        "pairs_by_role": by_pair,
        "examples": listed,
    }


def _pairs(counts: pd.Series, a: str, b: str) -> int:
    """Unordered pairs with one member in role ``a`` and one in ``b``, summed over the other index levels."""
    table = counts.unstack("role", fill_value=0)
    if a not in table or b not in table:
        return 0
    if a == b:
        return int((table[a] * (table[a] - 1) // 2).sum())
    return int((table[a] * table[b]).sum())
