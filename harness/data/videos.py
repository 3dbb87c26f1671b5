"""Frames from the original UCF-Crime videos, in the Kaggle layout.

Every ``frame_every``-th frame (0, 10, 20, ...) of ``<root>/Train|Test/<Class>/<VideoId>.mp4`` is
resized to ``image_size`` square with OpenCV's area filter and written as
``<out>/Train|Test/<Class>/<VideoId>_<n>.png``, where n is the original frame number -- how the
Kaggle frame set was made (reference.md section 2). Videos are decoded in parallel, one per process.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
from tqdm import tqdm

from harness.data.frames import silence_decoder_warnings, write_png
from harness.data.index import find_layout_root
from harness.data.layout import OFFICIAL_SPLITS, frame_filename
from harness.errors import HarnessError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".mpg", ".mpeg", ".m4v")


def list_videos(root: Path, classes: tuple[str, ...]) -> tuple[list[tuple[Path, str, str]], list[dict[str, str]]]:
    """(video file, split folder, class) for every video; plus files set aside with a reason."""
    layout = find_layout_root(root)
    videos, skipped = [], []
    for folder in OFFICIAL_SPLITS:
        split_dir = layout / folder
        if not split_dir.is_dir():
            continue
        for path in sorted(split_dir.rglob("*")):
            if path.is_dir():
                continue
            class_name = path.relative_to(split_dir).parts[0] if len(path.relative_to(split_dir).parts) > 1 else None
            if class_name is None:
                skipped.append({"path": str(path), "reason": "file outside any class folder"})
            elif class_name not in classes:
                skipped.append({"path": str(path), "reason": f"unknown class folder '{class_name}'"})
            elif path.suffix.lower() not in VIDEO_EXTENSIONS:
                skipped.append({"path": str(path), "reason": "not a video file"})
            else:
                videos.append((path, folder, class_name))
    return videos, skipped


def _extract_one(args: tuple[str, str, int, int]) -> tuple[str, int, str | None]:
    """Extract one video; returns (video path, frames written, reason it failed or None)."""
    video_path, out_dir, every, size = args
    silence_decoder_warnings()
    capture = cv2.VideoCapture(video_path)
    if not capture.isOpened():
        return video_path, 0, "cannot be opened as a video"
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    video_id = Path(video_path).stem
    number, written = 0, 0
    try:
        while True:
            # grab() skips decoding to RGB for frames that are not kept
            if not capture.grab():
                break
            if number % every == 0:
                ok, bgr = capture.retrieve()
                if ok:
                    rgb = cv2.cvtColor(cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
                    write_png(os.path.join(out_dir, frame_filename(video_id, number)), rgb)
                    written += 1
            number += 1
    finally:
        capture.release()
    return video_path, written, None if written else "no frame could be decoded"


def extract_frames(root: Path, out: Path, classes: tuple[str, ...], every: int, size: int, workers: int = 0) -> dict:
    """Extract every video under ``root`` into the Kaggle layout under ``out``; returns a report."""
    videos, skipped = list_videos(root, classes)
    if not videos:
        raise HarnessError(
            f"data.root = '{root}' holds no video files under Train|Test/<Class>/ "
            f"(looked for {', '.join(VIDEO_EXTENSIONS)})"
        )
    jobs = [(str(p), str(out / folder / class_name), every, size) for p, folder, class_name in videos]
    frames = 0
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        for path, written, reason in tqdm(pool.map(_extract_one, jobs), total=len(jobs), desc="extract", unit="video",
                                                 disable=None):  # None: no bar when not a terminal
            frames += written
            if reason:
                skipped.append({"path": path, "reason": reason})
    return {"videos_found": len(videos), "frames_extracted": frames, "skipped": skipped}
