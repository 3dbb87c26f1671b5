"""Speed regression gates (`make bench`): the workloads of the benchmark stage, timed by pytest-benchmark.

`make test` runs each once with timing disabled (they must work); `make bench` times them, saves a
baseline per machine and fails on a median regression above 10% against the last one."""

from __future__ import annotations

import itertools

import pytest
import torch

from harness.bench.timing import WARM_UP_CAP, timed_after_warm_up
from harness.bench.workbench import train_step
from harness.data.transforms import benchmark_albumentations, benchmark_torchvision
from harness.runtime.precision import resolve_precision

ROUNDS_STEP = 30  # a step is tens of milliseconds on 2 cores: 30 rounds keep a process's median within a few percent


@pytest.mark.benchmark(group="train-step")
@pytest.mark.parametrize("precision", ["fp32", "amp"])
def test_multitask_train_step(benchmark, workbench, precision):
    resolved = resolve_precision(precision, workbench.device)
    # the pipeline's own step (StepRunner): the run's optimizer, schedule, accumulation and clipping
    step = train_step(workbench, workbench.model("multitask"), workbench.loss("multitask"), resolved, steps=WARM_UP_CAP + ROUNDS_STEP + 5)
    batch = workbench.random_batch()
    accumulation = workbench.train_cfg.accumulation_steps
    benchmark.extra_info.update(precision=resolved.name, batch_size=workbench.cfg.batch_size, accumulation_steps=accumulation)
    clips = timed_after_warm_up(benchmark, lambda: step(itertools.repeat(batch)), rounds=ROUNDS_STEP)
    assert clips == workbench.cfg.batch_size * accumulation


@pytest.mark.benchmark(group="loader")
@pytest.mark.parametrize("workers", [0, 1])
def test_loader_pass(benchmark, workbench, workers):
    loader = workbench.loader(workers, tuned=workers > 0)
    batches = workbench.cfg.loader_batches

    def one_pass() -> int:
        return sum(len(b["label"]) for b in itertools.islice(iter(loader), batches))

    benchmark.extra_info.update(num_workers=workers, augment=workbench.cfg.augment)
    assert timed_after_warm_up(benchmark, one_pass) == batches * workbench.cfg.batch_size


@pytest.mark.benchmark(group="augment")
@pytest.mark.parametrize("library", ["albumentations", "torchvision"])
def test_augment_per_image(benchmark, library):
    image = torch.randint(0, 256, (64, 64, 3), dtype=torch.uint8)
    if library == "albumentations":
        transform, sample = benchmark_albumentations(), image.numpy()

        def run():
            return transform(image=sample)["image"].shape
    else:
        transform, sample = benchmark_torchvision(), image.permute(2, 0, 1).contiguous()

        def run():
            return tuple(transform(sample).permute(1, 2, 0).shape)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert tuple(timed_after_warm_up(benchmark, run, iterations=100)) == (64, 64, 3)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.benchmark(group="compile")
@pytest.mark.parametrize("mode", ["eager", "default"])
def test_baseline_inference(benchmark, workbench, mode):
    model = workbench.model("baseline").eval()
    runnable = model if mode == "eager" else torch.compile(model, mode=mode)
    clip = workbench.random_batch()["clip"]

    def infer():
        with torch.inference_mode():
            return runnable(clip)["logits"].shape

    # the first call compiles: warm_up times it apart (extra_info first_call_s), outside the timed rounds
    assert timed_after_warm_up(benchmark, infer)[0] == len(clip)


@pytest.mark.benchmark(group="probe")
def test_memorisation_probe_at_ucf_crime_scale(benchmark, bench_scale):
    """The probe's look-up (the clustered search built, then searched) and permutation test at the real set's
    size: 300,000 windows of 8x8 colour thumbnails (the write-up counts 303,173), 80/20 as its frame split, from
    1,610 videos (a tenth of each when untimed, `bench_scale`)."""
    import numpy as np
    import pandas as pd

    from harness.config import EvaluateConfig, ProbeConfig
    from harness.leakage.nearest import WindowSearch
    from harness.leakage.probe import probe

    rng = np.random.default_rng(0)
    n, dims, videos = int(300_000 * bench_scale), 8 * 8 * 3, int(1_610 * bench_scale)
    video = np.sort(rng.integers(0, videos, n))
    scene = rng.normal(0, 40, (videos, dims)).astype(np.float32)  # each video's look, plus per-window noise
    features = scene[video] + rng.normal(0, 4, (n, dims)).astype(np.float32)
    windows = pd.DataFrame({"window_id": np.arange(n), "video_id": video.astype(str),
                            "label": (video % 14).astype(np.int64)})
    train = rng.random(n) < 0.8
    cfg = ProbeConfig(thumbnail_size=8, permutations=500, seed=0)
    evaluate = EvaluateConfig(bootstrap_resamples=200, confidence=0.95, seed=0)
    benchmark.extra_info.update(windows=n, train_windows=int(train.sum()), dims=dims, permutations=cfg.permutations)
    def search_and_probe():
        return probe(WindowSearch(features), windows[train], windows[~train], tuple(f"C{i}" for i in range(14)), cfg,
                     evaluate)

    _, scores = benchmark.pedantic(search_and_probe, rounds=1, iterations=1)
    assert scores["window"]["accuracy"] == 1.0 and scores["permutation"]["accuracy_p_value"] < 0.01
