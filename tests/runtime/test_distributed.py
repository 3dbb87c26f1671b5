"""Data-parallel training: 2 processes under torchrun (gloo on CPU) against one process with the same
global batch, resume of a data-parallel run, and the ranks' shared arithmetic."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from helpers import REPO, compose, run

from harness.errors import ConfigError
from harness.models import build_model
from harness.runtime.distributed import SINGLE, Ranks, broadcast, choose_backend, gather, sum_across
from harness.train.checkpoints import load_checkpoint

# What "parity" means here: the baseline CNN (GroupNorm, no dropout, per-sample cross-entropy) sees the
# same windows and augmentations in both runs; only the float32 summation order of the gradient
# all-reduce differs, so the curves agree to rounding. Measured after 8 optimizer steps: loss 1.2e-7,
# gradient norm 1.1e-6, weights 2.5e-6 at most; the tolerances leave 10-100x room.
LOSS_TOL = 1e-5
WEIGHT_TOL = 5e-5
# The first conv's bias feeds a GroupNorm with one channel per group, which subtracts it again: its true
# gradient is 0, so it receives only rounding noise, which AdamW divides by its own root-mean-square and
# turns into lr-sized steps (measured 6e-4 apart). The model's outputs do not depend on it (checked below).
NO_GRADIENT = {"features.0.bias"}


def test_single_process_helpers_are_identity():
    assert sum_across(SINGLE, {"a": 1.5}) == {"a": 1.5}
    assert gather(SINGLE, 3) == [3]
    assert broadcast(SINGLE, {"x": 1}) == {"x": 1}
    assert not SINGLE.enabled and SINGLE.is_main
    assert Ranks(rank=1, world_size=2).enabled and not Ranks(rank=1, world_size=2).is_main


def test_backend_choice():
    assert choose_backend("auto", torch.device("cpu")) == "gloo"
    assert choose_backend("auto", torch.device("cuda")) == "nccl"
    with pytest.raises(ConfigError, match="train.dist_backend = 'nccl' needs CUDA"):
        choose_backend("nccl", torch.device("cpu"))


def stage(tmp: Path, params: Path, script: str, *args: str) -> str:
    return run(["python", str(REPO / "stages" / script), "--params", str(params), *args], tmp).stderr


def compose_to(path: Path, *overrides: str) -> Path:
    run(["python", "-m", "harness.config", "profile=smoke", "run.threads=1", *overrides, "--output", str(path)], REPO)
    return path


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("ddp")
    params = compose_to(tmp / "params.yaml")
    data = tmp / "data"
    stage(tmp, params, "prepare.py", "--out", str(data))
    stage(tmp, params, "split.py", "--strategy", "frame", "--index", str(data / "index.parquet"),
          "--out", str(data / "frame"))
    return {"tmp": tmp, "index": data / "index.parquet", "manifest": data / "frame" / "manifest.parquet"}


def train(prepared: dict, name: str, model: str, *overrides: str) -> tuple[dict, str]:
    tmp = prepared["tmp"]
    params = compose_to(tmp / f"{name}.yaml", *overrides)
    log = stage(tmp, params, "train.py", "--model", model, "--manifest", str(prepared["manifest"]),
                "--index", str(prepared["index"]), "--out", str(tmp / name), "--eval-out", str(tmp / name / "eval"))
    return json.loads((tmp / name / "summary.json").read_text()), log


def curve(summary: dict) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in summary["history"]]


def assert_close_curves(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        assert ra.keys() == rb.keys()
        for key in ra:
            assert ra[key] == pytest.approx(rb[key], rel=LOSS_TOL, abs=LOSS_TOL), (ra["epoch"], key)


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(prepared):
    common = ("train.epochs=3", "train.samples_per_epoch=32", "train.early_stopping_patience=1")
    single, _ = train(prepared, "single", "baseline", "train.batch_size=8", "train.accumulation_steps=1", *common)
    ddp, log = train(prepared, "ddp", "baseline", "train.batch_size=4", "train.accumulation_steps=1",
                     "train.nproc_per_node=2", *common)
    # 2 processes x 2 accumulated batches of 2: gradients all-reduced once per group (no_sync before)
    accumulated, _ = train(prepared, "ddp-accumulated", "baseline", "train.batch_size=2",
                           "train.accumulation_steps=2", "train.nproc_per_node=2", *common)

    assert "starting 2 data-parallel processes with torchrun" in log
    assert (single["world_size"], ddp["world_size"]) == (1, 2)
    assert ddp["dist_backend"] == "gloo"
    assert single["global_batch_size"] == ddp["global_batch_size"] == 8
    assert single["optimizer_steps_per_epoch"] == ddp["optimizer_steps_per_epoch"] == 4
    assert ddp["batches_per_epoch"] == 4  # per process
    # early stopping is decided once: both runs stop after the same epoch, for the same reason
    assert (single["epochs_run"], single["stopped_by"]) == (ddp["epochs_run"], ddp["stopped_by"])
    assert accumulated["global_batch_size"] == 8 and accumulated["batches_per_epoch"] == 8
    for other in (ddp, accumulated):
        assert_close_curves(curve(single), curve(other))
        assert single["best_val_score"] == pytest.approx(other["best_val_score"], abs=LOSS_TOL)

    weights = {name: load_checkpoint(prepared["tmp"] / name / "checkpoints" / "last.pt")["model"]
               for name in ("single", "ddp", "ddp-accumulated")}
    for name in ("ddp", "ddp-accumulated"):
        for key, value in weights["single"].items():
            if key not in NO_GRADIENT:
                torch.testing.assert_close(weights[name][key], value, rtol=WEIGHT_TOL, atol=WEIGHT_TOL)
    models = []
    for name in ("single", "ddp", "ddp-accumulated"):
        model = build_model("baseline", compose("profile=smoke")["model"]["baseline"], 14)
        model.load_state_dict(weights[name])
        models.append(model.eval())
    clip = torch.randint(0, 256, (4, 16, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    with torch.no_grad():
        for model in models[1:]:
            torch.testing.assert_close(model(clip)["logits"], models[0](clip)["logits"], rtol=WEIGHT_TOL,
                                       atol=WEIGHT_TOL)
    # rank 0 alone wrote the outputs; every rank's RNG state is in the checkpoint for resume
    last = load_checkpoint(prepared["tmp"] / "ddp" / "checkpoints" / "last.pt")
    assert last["world_size"] == 2 and len(last["rng_cpu"]) == 2
    assert (prepared["tmp"] / "ddp" / "live" / "metrics.json").is_file()


@pytest.mark.slow
def test_a_data_parallel_run_resumes_to_the_same_end(prepared):
    """Multi-task model with a "pretrained" backbone (saved weights, so progressive unfreezing freezes it in
    epoch 1 and rebuilds DDP at epoch 2; dropout draws from each rank's own random stream, restored from the
    checkpoint): resuming from the epoch-1 checkpoint ends exactly where the uninterrupted run ended."""
    from harness.models import build_model

    weights = prepared["tmp"] / "backbone.pt"
    params = yaml.safe_load(compose_to(prepared["tmp"] / "weights.yaml").read_text())
    torch.save(build_model("multitask", params["model"]["multitask"], 14).backbone.state_dict(), weights)
    overrides = ("train.epochs=2", "train.samples_per_epoch=32", "train.nproc_per_node=2",
                 f"model.multitask.pretrained_weights={weights}")
    clean, _ = train(prepared, "mt-clean", "multitask", *overrides)
    resumed_dir = prepared["tmp"] / "mt-resumed" / "checkpoints"
    resumed_dir.mkdir(parents=True)
    shutil.copy(prepared["tmp"] / "mt-clean" / "checkpoints" / "epoch_001.pt", resumed_dir / "last.pt")
    epoch_1 = torch.load(resumed_dir / "last.pt", weights_only=True)  # what a run killed after epoch 1 leaves
    torch.save({k: epoch_1[k] for k in ("model", "epoch", "fingerprint", "code_hash")}, resumed_dir / "best.pt")
    resumed, log = train(prepared, "mt-resumed", "multitask", *overrides)

    assert "resuming from" in log and resumed["resumed_after_epoch"] == 1
    assert [r["backbone_trainable"] for r in clean["history"]] == [0.0, 1.0]
    assert curve(resumed) == curve(clean)
    rng = load_checkpoint(prepared["tmp"] / "mt-clean" / "checkpoints" / "epoch_001.pt")["rng_cpu"]
    assert len(rng) == 2 and not torch.equal(rng[0], rng[1])  # one stream per rank
    a = load_checkpoint(prepared["tmp"] / "mt-clean" / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(prepared["tmp"] / "mt-resumed" / "checkpoints" / "last.pt")["model"]
    for key in a:
        assert torch.equal(a[key], b[key]), key
