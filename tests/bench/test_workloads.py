"""The benchmark's workloads run the pipeline's own training step and loader, and its registry names what
params.yaml may ask for."""

import itertools
import typing
from pathlib import Path

import torch

from harness.bench.workbench import train_step
from harness.bench.workloads import WORKLOADS
from harness.config import BenchConfig
from harness.data.dataset import ClipDataset
from harness.runtime.precision import resolve_precision
from harness.sources import project_files
from harness.train.optimisation import StepRunner

REPO = Path(__file__).resolve().parents[2]


def test_the_registry_holds_every_workload_the_schema_names():
    names = typing.get_args(typing.get_args(typing.get_type_hints(BenchConfig)["workloads"])[0])
    assert set(names) == set(WORKLOADS)


def test_a_change_to_the_training_step_changes_the_benchmarked_step(workbench, monkeypatch):
    """The benchmark's step is StepRunner.run itself: patch it and the benchmark runs the patched code."""
    seen = []
    original = StepRunner.run

    def changed(self, batches, progress=None):
        batches = list(batches)
        seen.append(len(batches))
        return original(self, batches, progress)

    monkeypatch.setattr(StepRunner, "run", changed)
    step = train_step(workbench, workbench.model("baseline"), workbench.loss("baseline"),
                      resolve_precision("fp32", workbench.device))
    clips = step(itertools.repeat(workbench.random_batch()))
    accumulation = workbench.train_cfg.accumulation_steps
    assert seen == [accumulation]  # one optimizer step = one accumulation group, as in training
    assert clips == workbench.cfg.batch_size * accumulation


def test_a_change_to_the_training_data_path_changes_the_benchmarked_loader(workbench, monkeypatch):
    """The loader workload reads clips through training's ClipDataset and make_loader."""
    calls = []
    original = ClipDataset.__getitem__

    def changed(self, i):
        calls.append(i)
        return original(self, i)

    monkeypatch.setattr(ClipDataset, "__getitem__", changed)
    batch = next(iter(workbench.loader(workers=0, tuned=False)))
    assert len(calls) == workbench.cfg.batch_size == len(batch["label"])
    assert batch["clip"].dtype == torch.uint8  # what training's collate delivers: frames decoded, not yet scaled


def test_the_benchmark_stage_reruns_when_the_training_step_or_loader_changes():
    """DVC re-runs the benchmark when a file it imports changes: training's step and loader are among them."""
    files = {str(p) for p in project_files(REPO / "stages" / "benchmark.py")}
    assert {"harness/train/optimisation.py", "harness/runtime/loaders.py", "harness/data/dataset.py"} <= files
