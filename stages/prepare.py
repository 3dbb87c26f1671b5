"""DVC stage `prepare`: data source -> frames on disk + frame index + prepare report.

Writes, under --out: frames/ (synthetic or extracted PNGs; a note when indexing in place),
index.parquet (one row per usable frame, with its pHash), thumbnails.npy (each index row's probe thumbnail,
probe.thumbnail_size pixels a side, uint8, from the same decode: the probe reads no PNG), report.json (every skipped file and why,
conversions, counts, throughput) and summary.json (the counts, as DVC metrics).
"""

import argparse
import logging
from pathlib import Path

from harness.cli import run_stage
from harness.config import (
    DataConfig,
    PipelineConfig,
    ProbeConfig,
    RunConfig,
    SyntheticConfig,
    load_params,
    load_section,
)
from harness.data.prepare import prepare
from harness.io import write_json, write_npy, write_parquet

log = logging.getLogger("harness")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    run = load_section(params, "run", RunConfig)
    load_section(params, "pipeline", PipelineConfig)  # dvc.yaml's stage lists: a wrong name stops here, first
    data = load_section(params, "data", DataConfig)
    synthetic = load_section(params, "synthetic", SyntheticConfig)

    thumbnail_size = load_section(params, "probe", ProbeConfig).thumbnail_size
    result = prepare(data, synthetic, args.out / "frames", repo_root=Path.cwd(), thumbnail_size=thumbnail_size)
    report = result.report
    frames = result.frames
    summary = {
        "data_source": data.source,
        "profile": run.profile,
        "frames": report["frames"],
        "videos": report["videos"],
        "train_frames": int((frames["official_split"] == "train").sum()),
        "test_frames": int((frames["official_split"] == "test").sum()),
        "normal_frame_share": round(float((frames["class_name"] == data.normal_class).mean()), 4),
        "skipped_files": report["skipped_count"],
        "converted_frames": report["converted_count"],
        "index_frames_per_second": report["timing"]["frames_per_second"],
        "index_workers": report["timing"]["workers"],
    }
    write_parquet(args.out / "index.parquet", frames)
    write_npy(args.out / "thumbnails.npy", result.thumbnails)
    write_json(args.out / "report.json", report)
    write_json(args.out / "summary.json", summary)
    log.info(
        "indexed %d frames of %d videos from %s at %s frames/s; skipped %d files, converted %d%s",
        report["frames"], report["videos"], data.source, report["timing"]["frames_per_second"],
        report["skipped_count"], report["converted_count"],
        f" (reasons in {args.out / 'report.json'})" if report["skipped_count"] else "",
    )


if __name__ == "__main__":
    run_stage("prepare", main)
