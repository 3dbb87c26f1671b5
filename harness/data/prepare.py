"""The prepare step: turn the configured data source into PNG frames on disk and index them."""

from __future__ import annotations

import logging
from pathlib import Path

from harness.config import DataConfig, SyntheticConfig
from harness.data.index import IndexResult, index_frames
from harness.data.synthetic import generate
from harness.data.videos import extract_frames

log = logging.getLogger("harness")


def prepare(data: DataConfig, synthetic: SyntheticConfig, frames_dir: Path, repo_root: Path,
            thumbnail_size: int = 0) -> IndexResult:
    """Generate, extract or locate the frames, then index them (with the probe's thumbnails of ``thumbnail_size``
    pixels a side, from the same decode, when it is not 0).

    synthetic and ucf_crime_videos write PNGs into ``frames_dir``; ucf_crime_frames indexes
    ``data.root`` in place and leaves ``frames_dir`` holding only a note.
    """
    frames_dir.mkdir(parents=True, exist_ok=True)
    extraction = None
    if data.source == "synthetic":
        counts = generate(synthetic, frames_dir, data.classes, data.normal_class, data.image_size,
                          data.frame_every, data.workers)
        log.info("synthesised %d frames of %d videos", counts["frames"], counts["videos"])
        root = frames_dir
    elif data.source == "ucf_crime_videos":
        source = data.require_root()
        extraction = extract_frames(source, frames_dir, data.classes, data.frame_every, data.image_size, data.workers)
        log.info("extracted %d frames from %d videos", extraction["frames_extracted"], extraction["videos_found"])
        root = frames_dir
    else:
        root = data.require_root()
        (frames_dir / "README.txt").write_text(
            f"Frames are indexed in place under {root}; nothing was copied here.\n", encoding="utf-8"
        )
    result = index_frames(root, data.classes, data.image_size, data.workers, relative_to=repo_root,
                          skipped_earlier=extraction["skipped"] if extraction else None, thumbnail_size=thumbnail_size)
    result.report = {"source": data.source, **result.report}
    if extraction is not None:
        result.report["extraction"] = {k: v for k, v in extraction.items() if k != "skipped"}
    return result
