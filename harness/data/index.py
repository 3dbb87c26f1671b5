"""The frame index: one row per usable PNG of a Kaggle-layout folder, with its perceptual hash.

``scan_layout`` lists ``<root>/Train|Test/<Class>/...`` with ``os.scandir`` (no per-file stat) and
sorts out what can never be a frame (wrong extension, no frame number, unknown class folder).
``index_frames`` then decodes every candidate on all cores, converts what is convertible (grey, RGBA,
16-bit, odd size), hashes in vectorised batches, and returns the index with a report of every file
it skipped and why. Nothing is copied: the index points at the files where they are.
"""

from __future__ import annotations

import gc
import os
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from harness.data.frames import UnusableFrame, decode_png_bgr, read_bytes, silence_decoder_warnings, thumbnail_batch
from harness.data.layout import OFFICIAL_SPLITS, parse_frame_name
from harness.data.phash import phash_batch
from harness.errors import HarnessError

INDEX_COLUMNS = [
    "path",  # the PNG, as a path usable from the repository root
    "official_split",  # train | test: the dataset's own Train/Test folders
    "class_name",
    "label",  # position of class_name in data.classes
    "video_id",  # file stem split once from the right on "_"
    "frame_number",  # the number after that "_" (original video frame)
    "frame_index",  # position of the frame within its video, sorted by frame_number
    "phash",  # 64-bit perceptual hash (imagehash.phash bits) of the converted frame
    "crc32",  # CRC-32 of the file's bytes: what the frame holds, for the split manifests' content hash
    "conversions",  # what was done to make it RGB image_size x image_size ("" = nothing)
    "nested",  # the file sat in a sub-folder of its class folder
]
_CHUNK = 512  # files per worker task


@dataclass(slots=True)  # one per PNG (1.4 M at UCF-Crime's size): slots take 80 bytes each instead of 176
class Candidate:
    path: str
    official_split: str
    class_name: str
    video_id: str
    frame_number: int
    nested: bool


@dataclass
class ScanResult:
    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    missing_class_folders: dict[str, list[str]] = field(default_factory=dict)
    layout_root: str = ""


def find_layout_root(root: Path) -> Path:
    """The folder holding Train/ and/or Test/: ``root`` itself or a single wrapper folder below it."""
    if not root.is_dir():
        raise HarnessError(f"data.root = '{root}' does not exist or is not a folder")

    def has_split(folder: Path) -> bool:
        return any((folder / name).is_dir() for name in OFFICIAL_SPLITS)

    if has_split(root):
        return root
    # Kaggle archives often unpack into a wrapper folder (archive/, UCF-Crime/); look two levels down
    children = [p for p in sorted(root.iterdir()) if p.is_dir()]
    found = [p for p in children if has_split(p)]
    if not found:
        found = [q for p in children for q in sorted(p.iterdir()) if q.is_dir() and has_split(q)]
    if len(found) == 1:
        return found[0]
    raise HarnessError(
        f"data.root = '{root}' holds no Train/ or Test/ folder (the Kaggle layout is "
        f"Train|Test/<Class>/<VideoId>_<n>.png); point data.root at the folder that holds them"
    )


def _walk(folder: str, skipped: list[dict[str, str]]) -> Iterable[tuple[str, str, bool]]:
    """Yield (path, name, is_nested) for every file below ``folder``, depth-first, with os.scandir.

    Symbolic links to folders are followed once: a folder already visited (a link loop) is not entered
    again. A folder that cannot be read joins ``skipped`` with its reason.
    """
    seen: set[tuple[int, int]] = set()
    stack = [(folder, False)]
    while stack:
        current, nested = stack.pop()
        try:
            info = os.stat(current)
            if (info.st_dev, info.st_ino) in seen:
                skipped.append({"path": current, "reason": "folder already listed (a symbolic link loop)"})
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(current) as entries:
                listed = list(entries)
        except OSError as e:
            skipped.append({"path": current, "reason": f"folder cannot be read ({e.strerror or e})"})
            continue
        for entry in listed:
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                stack.append((entry.path, True))
            else:
                yield entry.path, entry.name, nested


def scan_layout(root: Path, classes: tuple[str, ...], extension: str = ".png") -> ScanResult:
    """List the candidate frames under ``root``; set aside files that can never be frames."""
    result = ScanResult()
    for _ in _scan(root, classes, result, extension):
        pass
    return result


def _scan(root: Path, classes: tuple[str, ...], result: ScanResult,  # noqa: C901 -- one walk over the layout; each branch sets aside one kind of non-frame file
          extension: str = ".png") -> Iterator[list[Candidate]]:
    """scan_layout's walk, into ``result``, yielding each class folder's candidates as soon as it is listed (the
    index starts decoding them while the next folder is listed)."""
    layout = find_layout_root(root)
    result.layout_root = str(layout)
    for folder_name, split in OFFICIAL_SPLITS.items():
        split_dir = layout / folder_name
        if not split_dir.is_dir():
            result.missing_class_folders[folder_name] = list(classes)
            continue
        present = set()
        try:
            with os.scandir(split_dir) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as e:
            result.skipped.append({"path": str(split_dir), "reason": f"folder cannot be read ({e.strerror or e})"})
            result.missing_class_folders[folder_name] = list(classes)
            continue
        for entry in entries:
            if not entry.is_dir():
                result.skipped.append({"path": entry.path, "reason": "file outside any class folder"})
                continue
            if entry.name not in classes:
                for path, _, _ in _walk(entry.path, result.skipped):
                    result.skipped.append({"path": path, "reason": f"unknown class folder '{entry.name}'"})
                continue
            found = []
            for path, name, nested in _walk(entry.path, result.skipped):
                if not name.lower().endswith(extension):
                    result.skipped.append({"path": path, "reason": f"not a {extension} file"})
                    continue
                parsed = parse_frame_name(name)
                if parsed is None:
                    result.skipped.append({"path": path, "reason": "no frame number in file name"})
                    continue
                found.append(Candidate(path, split, entry.name, parsed[0], parsed[1], nested))
            if found:  # a class folder without one candidate frame counts as missing
                present.add(entry.name)
                result.candidates += found
                yield found
        missing = [c for c in classes if c not in present]
        if missing:
            result.missing_class_folders[folder_name] = missing


# --------------------------------------------------------------------------- decoding, in workers
def _init_worker() -> None:
    silence_decoder_warnings()
    # libpng writes its complaints straight to stderr; every failure is reported with its reason
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one process per core; BLAS threads would only contend


Decoded = tuple[np.ndarray, np.ndarray, list[str], list[str | None], np.ndarray]


def _decode_chunk(args: tuple[list[str], int, int]) -> Decoded:
    """Decode and hash a chunk of PNGs: (pHashes, CRC-32s, conversions, reason or None, thumbnails) per file; the
    thumbnails (harness.data.frames.thumbnail) have ``thumbnail_size`` pixels a side, none when it is 0. Each file is
    read once and decoded once; the frames stay in OpenCV's channel order (BGR), which the hash reads as such, and
    only the thumbnails are turned to RGB (area averaging is per channel, so the order can change after it)."""
    paths, image_size, thumbnail_size = args
    n = len(paths)
    frames = np.zeros((n, image_size, image_size, 3), np.uint8)  # an unusable file's row stays all zeros
    checksums = np.zeros(n, np.uint32)
    conversions: list[str] = []
    reasons: list[str | None] = []
    for i, path in enumerate(paths):
        try:
            data = read_bytes(path)
            checksums[i] = zlib.crc32(data)
            frames[i], converted = decode_png_bgr(data, image_size)
        except UnusableFrame as e:
            reasons.append(str(e))
            conversions.append("")
            continue
        except OSError as e:
            reasons.append(f"cannot be read ({e.strerror or e})")
            conversions.append("")
            continue
        conversions.append(",".join(converted))
        reasons.append(None)
    small = np.zeros((n, 0), np.uint8)
    if thumbnail_size:
        small = thumbnail_batch(frames, thumbnail_size).reshape(n, -1, 3)[:, :, ::-1].reshape(n, -1)
    return phash_batch(frames, "bgr"), checksums, conversions, reasons, small


def decode_and_hash(batches: Iterable[list[str]], image_size: int, workers: int, thumbnail_size: int = 0) -> Decoded:
    """Decode and hash the paths of ``batches`` on ``workers`` processes, with a progress bar (see _decode_chunk). Each
    batch is sent to the workers as it comes, so a listing that yields folder by folder overlaps the decoding."""
    hashes, checksums, conversions, reasons = [np.zeros(0, np.uint64)], [np.zeros(0, np.uint32)], [], []
    thumbnails = [np.zeros((0, thumbnail_size * thumbnail_size * 3), np.uint8)]
    bar = tqdm(total=0, desc="index", unit="frame", unit_scale=True, disable=None)  # off when not a terminal
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as pool:
        try:
            pending = []
            for paths in batches:
                pending += [pool.submit(_decode_chunk, (paths[i : i + _CHUNK], image_size, thumbnail_size))
                            for i in range(0, len(paths), _CHUNK)]
                bar.total += len(paths)
                bar.refresh()
            for future in pending:
                h, k, c, r, t = future.result()
                hashes.append(h)
                checksums.append(k)
                conversions += c
                reasons += r
                thumbnails.append(t)
                bar.update(len(c))
        except BaseException:  # a failing listing or worker, or Ctrl-C: drop the queued chunks, do not wait for them
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            bar.close()
    return np.concatenate(hashes), np.concatenate(checksums), conversions, reasons, np.concatenate(thumbnails)


def _read_only(paths: list[str]) -> int:
    import cv2

    for path in paths:
        cv2.imread(path, cv2.IMREAD_UNCHANGED)
    return len(paths)


def decode_floor(paths: list[str], workers: int) -> float:
    """Frames per second that decoding alone reaches on ``paths``: cv2.imread of every file on ``workers``
    processes, chunked as the index chunks them. The floor an index of the same files is measured against
    (tests/benchmarks/test_index_throughput.py): the index reads, decodes and hashes each file once, so its rate can
    approach this one but not pass it."""
    chunks = [paths[i : i + _CHUNK] for i in range(0, len(paths), _CHUNK)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as pool:
        done = sum(pool.map(_read_only, chunks))
    return done / (time.perf_counter() - started)


# --------------------------------------------------------------------------- the index
@dataclass
class IndexResult:
    frames: pd.DataFrame
    report: dict
    thumbnails: np.ndarray | None = None  # row i: frames' row i (harness.data.frames.thumbnail), when asked for


def index_frames(
    root: Path,
    classes: tuple[str, ...],
    image_size: int,
    workers: int = 0,
    relative_to: Path | None = None,
    skipped_earlier: list[dict[str, str]] | None = None,
    thumbnail_size: int = 0,
) -> IndexResult:
    """Index a Kaggle-layout folder. Paths are stored relative to ``relative_to`` when they lie below it.

    ``skipped_earlier`` lists files an earlier step set aside (videos that would not decode); they join
    the report's list of skipped files. With ``thumbnail_size``, each frame's probe thumbnail comes from the same
    decode (the probe never reads a PNG again).
    """
    with _collector_paused():
        return _index_frames(root, classes, image_size, workers, relative_to, skipped_earlier, thumbnail_size)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the index builds its millions of small objects (none of them in a
    cycle): its collections, which scan every object alive, cost the parent a tenth of its time here."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _index_frames(root: Path, classes: tuple[str, ...], image_size: int, workers: int, relative_to: Path | None,
                  skipped_earlier: list[dict[str, str]] | None, thumbnail_size: int) -> IndexResult:
    workers = workers or os.cpu_count() or 1
    started = time.perf_counter()
    scan = ScanResult()
    batches = ([c.path for c in found] for found in _scan(root, classes, scan))
    hashes, checksums, conversions, reasons, thumbnails = decode_and_hash(batches, image_size, workers, thumbnail_size)
    decoded = time.perf_counter()
    paths = [c.path for c in scan.candidates]

    skipped = list(skipped_earlier or []) + list(scan.skipped)
    keep = []
    for i, reason in enumerate(reasons):
        if reason is None:
            keep.append(i)
        else:
            skipped.append({"path": paths[i], "reason": reason})
    cands = [scan.candidates[i] for i in keep]
    frames = pd.DataFrame(
        {
            "path": [c.path for c in cands],
            "official_split": [c.official_split for c in cands],
            "class_name": [c.class_name for c in cands],
            "video_id": [c.video_id for c in cands],
            "frame_number": np.array([c.frame_number for c in cands], np.int64),
            "phash": hashes[keep] if keep else np.zeros(0, np.uint64),
            "crc32": checksums[keep] if keep else np.zeros(0, np.uint32),
            "conversions": [conversions[i] for i in keep],
            "nested": np.array([c.nested for c in cands], bool),
            "_decoded_row": np.array(keep, np.int64),  # where its thumbnail is, through the drops and the sort
        }
    )
    frames, dropped = _drop_inconsistent(frames)
    skipped += dropped
    if frames.empty:
        raise HarnessError(
            f"data.root = '{root}' holds no usable frames ({len(skipped)} files skipped; "
            f"expected Train|Test/<Class>/<VideoId>_<n>.png)"
        )
    frames["label"] = frames["class_name"].map({c: i for i, c in enumerate(classes)}).astype(np.int16)
    frames = frames.sort_values(["official_split", "video_id", "frame_number"], kind="stable", ignore_index=True)
    frames["frame_index"] = frames.groupby("video_id", sort=False).cumcount().astype(np.int32)
    if relative_to is not None:
        frames["path"] = relative_paths(frames["path"], root, relative_to)
    thumbnails = thumbnails[frames["_decoded_row"].to_numpy()] if thumbnail_size else None
    frames = frames[INDEX_COLUMNS]
    finished = time.perf_counter()

    seconds = finished - started
    converted: Counter[str] = Counter()
    for kinds, count in frames["conversions"].value_counts().items():  # a few distinct values, not a row each
        converted.update({kind: int(count) for kind in kinds.split(",") if kind})
    report = {
        "root": str(root),
        "layout_root": scan.layout_root,
        "frames": int(len(frames)),
        "videos": int(frames["video_id"].nunique()),
        "files_listed": len(scan.candidates) + len(scan.skipped),
        "skipped_count": len(skipped),
        "skipped_by_reason": dict(Counter(_reason_kind(s["reason"]) for s in skipped)),
        "converted_count": int((frames["conversions"] != "").sum()),
        "converted_by_kind": dict(converted),
        "nested_folder_frames": int(frames["nested"].sum()),
        "missing_class_folders": scan.missing_class_folders,
        "frames_by_split_and_class": {
            split: group["class_name"].value_counts().sort_index().to_dict()
            for split, group in frames.groupby("official_split")
        },
        "videos_by_split_and_class": {
            split: group.groupby("class_name")["video_id"].nunique().to_dict()
            for split, group in frames.groupby("official_split")
        },
        "timing": {
            "workers": workers,
            "list_decode_and_hash_seconds": round(decoded - started, 3),  # the listing overlaps the decoding
            "total_seconds": round(seconds, 3),
            # files listed, decoded, hashed and indexed per second, end to end
            "frames_per_second": round(len(paths) / seconds, 1) if seconds > 0 else None,
        },
        "skipped": skipped,
    }
    return IndexResult(frames, report, thumbnails)


def _reason_kind(reason: str) -> str:
    """Group reasons for the summary: the part before any quoted name or detail."""
    return reason.split(" '")[0].split(" (")[0]


def _relative(path: str, base: Path) -> str:
    """``path`` resolved, relative to ``base`` when it lies below it, else absolute."""
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return str(Path(path).resolve())


def relative_paths(paths: Iterable[str], root: Path, base: Path) -> list[str]:
    """Listed paths (all below ``root``) as seen from ``base``. The root is resolved once and its prefix
    swapped in: resolving each of 1.38 M paths would take minutes (about 0.1 ms a path here)."""
    prefix = str(Path(root))
    new_prefix = _relative(prefix, base)
    out = []
    for path in paths:
        if path.startswith(prefix + os.sep):
            rest = path[len(prefix) + 1 :]
            out.append(rest if new_prefix == "." else os.path.join(new_prefix, rest))
        else:
            out.append(_relative(path, base))
    return out


def _drop_inconsistent(frames: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Drop frames whose identity is ambiguous: a video id under two classes or splits, a frame number twice."""
    dropped = []
    homes = frames.groupby("video_id")[["official_split", "class_name"]].nunique()
    ambiguous = set(homes.index[(homes["official_split"] > 1) | (homes["class_name"] > 1)])
    if ambiguous:
        mask = frames["video_id"].isin(ambiguous)
        for path, video in zip(frames.loc[mask, "path"], frames.loc[mask, "video_id"], strict=True):
            dropped.append({"path": path, "reason": f"video id '{video}' appears under more than one class or split"})
        frames = frames[~mask]
    dup = frames.duplicated(["video_id", "frame_number"], keep="first")
    for path in frames.loc[dup, "path"]:
        dropped.append({"path": path, "reason": "duplicate frame number within its video"})
    return frames[~dup].reset_index(drop=True), dropped
