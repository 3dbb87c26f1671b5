"""The frame index against the decode floor (issue 25): the index reads, decodes and hashes (CRC-32, pHash)
every PNG once (and makes the probe's thumbnails from the same decode, as the prepare stage does), so its rate is compared with decoding alone on the same files, in the same run, with the
same worker count: `ratio` in the benchmark's extra_info (target: at least 0.8 on this 2-core machine).

Timed (`make bench`): the default synthetic set (16,156 PNGs of 64x64). Untimed (`make test`): the smoke set."""

from __future__ import annotations

import statistics

import pytest
import yaml
from helpers import synthetic_dataset

from harness.config import compose_params
from harness.data.index import decode_floor, index_frames, scan_layout

WORKERS = 2


@pytest.fixture(scope="module")
def frames_root(bench_scale, smoke_dataset, tmp_path_factory):
    thumbnail_size = yaml.safe_load(compose_params([]))["probe"]["thumbnail_size"]  # made in the same pass, as prepare does
    if bench_scale < 1:
        return smoke_dataset["root"], smoke_dataset["data"], thumbnail_size
    dataset = synthetic_dataset(yaml.safe_load(compose_params([])), tmp_path_factory.mktemp("index") / "frames")
    return dataset["root"], dataset["data"], thumbnail_size


@pytest.mark.benchmark(group="index")
def test_index_against_the_decode_floor(benchmark, frames_root):
    root, data, thumbnail_size = frames_root
    paths = [c.path for c in scan_layout(root, data.classes).candidates]
    decode_floor(paths, WORKERS)  # both measured warm (the files in the page cache), both the median of 3 rounds
    floor = statistics.median(decode_floor(paths, WORKERS) for _ in range(3))
    result = benchmark.pedantic(index_frames, args=(root, data.classes, data.image_size, WORKERS),
                                kwargs={"thumbnail_size": thumbnail_size}, rounds=3, iterations=1, warmup_rounds=1)
    rate = len(paths) / benchmark.stats.stats.median if benchmark.stats else result.report["timing"]["frames_per_second"]
    benchmark.extra_info.update(frames=len(paths), workers=WORKERS, decode_floor_frames_per_second=round(floor),
                                index_frames_per_second=round(rate), ratio=round(rate / floor, 3))
    assert len(result.frames) == len(paths) and result.frames["phash"].nunique() > 1
