"""The training loop: it learns, accumulation is exact, an interrupted run resumes to the same end,
damaged checkpoints are one clear error, and the CUDA paths run where a GPU is present."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import REPO, compose, env_with_venv, section

from harness.config import TrainConfig
from harness.data.windows import build_windows
from harness.errors import HarnessError
from harness.leakage.splits import make_manifest, manifest_hash
from harness.models import build_model
from harness.runtime.precision import resolve_precision
from harness.train.checkpoints import load_checkpoint, save_checkpoint
from harness.train.loop import train_model
from harness.train.losses import CrossEntropyLoss
from harness.train.optimisation import StepRunner, make_optimizer, make_scheduler
from harness.train.run_setup import build_run

CPU = torch.device("cpu")


def toy_batches(n_batches: int, batch_size: int, seed: int = 0):
    """A learnable toy set: each class is a clip of one grey level (plus noise)."""
    rng = np.random.default_rng(seed)
    for _ in range(n_batches):
        labels = rng.integers(0, 4, batch_size)
        level = (labels * 60 + 20)[:, None, None, None, None]
        clip = np.clip(level + rng.normal(0, 10, (batch_size, 4, 3, 16, 16)), 0, 255).astype(np.uint8)
        yield {"clip": torch.from_numpy(clip), "label": torch.from_numpy(labels), "video": torch.arange(batch_size)}


def baseline(n_classes=4, seed=0):
    torch.manual_seed(seed)
    return build_model("baseline", {"channels": [8, 16], "norm": "group"}, n_classes)


def runner_for(model, cfg: TrainConfig, accumulation: int, steps: int):
    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, dataclasses.replace(cfg, epochs=1), steps)
    return StepRunner(model, CrossEntropyLoss(), optimizer, scheduler, resolve_precision("fp32", CPU),
                      accumulation, cfg.grad_clip, CPU)


@pytest.fixture(scope="module")
def train_cfg():
    return section(compose("profile=smoke"), "train", TrainConfig)


def test_loss_falls_on_a_learnable_toy_set(train_cfg):
    model = baseline()
    runner = runner_for(model, dataclasses.replace(train_cfg, max_lr=1e-2), accumulation=1, steps=60)
    first = runner.run(toy_batches(10, 16, seed=1))
    for _ in range(4):
        last = runner.run(toy_batches(10, 16, seed=2))
    assert last["loss/total"] < 0.5 * first["loss/total"]
    assert last["accuracy"] > 0.9


def test_two_accumulated_halves_equal_one_double_batch(train_cfg):
    batch = next(toy_batches(1, 8, seed=3))
    halves = [{k: v[:4] for k, v in batch.items()}, {k: v[4:] for k, v in batch.items()}]
    a, b = baseline(seed=5), baseline(seed=5)
    runner_for(a, train_cfg, accumulation=2, steps=1).run(halves)
    runner_for(b, train_cfg, accumulation=1, steps=1).run([batch])
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)  # float32 summation order
    untouched = baseline(seed=5)
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), untouched.parameters(), strict=True))


def test_gradient_clipping_bounds_the_norm(train_cfg):
    model = baseline()
    stats = runner_for(model, dataclasses.replace(train_cfg, grad_clip=1e-3), 1, 5).run(toy_batches(5, 8))
    assert stats["grad_norm"] > 1e-3  # the norm is logged before clipping
    assert stats["optimizer_steps"] == 5


def test_bf16_autocast_runs_on_cpu(train_cfg):
    model = build_model("multitask", compose("profile=smoke")["model"]["multitask"], 4)
    precision = resolve_precision("amp", CPU)
    assert precision.name == "bf16-amp" and not precision.scaler
    with precision.autocast():
        out = model(torch.randint(0, 255, (2, 16, 3, 16, 16), dtype=torch.uint8))
    assert out["logits"].dtype == torch.bfloat16


def test_damaged_checkpoints_are_one_clear_error(tmp_path):
    good = tmp_path / "good.pt"
    save_checkpoint(good, {"model": baseline().state_dict(), "epoch": 1})
    assert load_checkpoint(good)["epoch"] == 1
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:200])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    for path in (truncated, garbage):
        with pytest.raises(HarnessError, match=f"checkpoint {path} is corrupt or truncated .*; delete it"):
            load_checkpoint(path)
    with pytest.raises(HarnessError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_checkpoints_refuse_pickled_code(tmp_path):
    """weights_only=True: a checkpoint that would run code on load is refused, not executed."""
    path = tmp_path / "evil.pt"
    torch.save({"payload": os.system}, path)
    with pytest.raises(HarnessError, match="corrupt or truncated"):
        load_checkpoint(path)


# --------------------------------------------------------------------------- whole runs
def smoke_setup(smoke_dataset, out_dir, **train_overrides):
    params = copy.deepcopy(smoke_dataset["params"])
    params["train"].update(train_overrides)
    windows = build_windows(smoke_dataset["index"], smoke_dataset["windows"])
    from harness.config import SplitsConfig

    manifest = make_manifest("frame", windows, section(params, "splits", SplitsConfig))
    return build_run(params, "multitask", manifest, manifest_hash(manifest.windows, smoke_dataset["index"]), smoke_dataset["index"], out_dir)


def test_a_run_is_deterministic_and_records_its_mode(smoke_dataset, tmp_path):
    first = train_model(smoke_setup(smoke_dataset, tmp_path / "a").spec)
    second = train_model(smoke_setup(smoke_dataset, tmp_path / "b").spec)
    strip = lambda h: [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in h]  # noqa: E731
    assert strip(first["history"]) == strip(second["history"])
    setup = smoke_setup(smoke_dataset, tmp_path / "c")
    assert setup.record["determinism"]["deterministic_algorithms"] is True
    assert setup.record["deterministic_mode"] is True
    assert (tmp_path / "a" / "checkpoints" / "best.pt").is_file()
    assert (tmp_path / "a" / "live" / "metrics.json").is_file()
    # a randomly initialised backbone is never frozen: unfreeze_after_epochs protects pretrained weights only
    assert first["backbone_frozen_epochs"] == 0 and all(r["backbone_trainable"] == 1.0 for r in first["history"])


def test_a_pretrained_backbone_is_frozen_with_its_batchnorm_statistics(smoke_dataset, tmp_path, monkeypatch):
    from harness.models import build_model

    params = smoke_dataset["params"]
    weights = tmp_path / "backbone.pt"
    torch.save(build_model("multitask", params["model"]["multitask"], 14).backbone.state_dict(), weights)
    setup = smoke_setup(smoke_dataset, tmp_path / "run", epochs=2, unfreeze_after_epochs=1)
    model = setup.spec.model
    model.backbone.load_state_dict(torch.load(weights, weights_only=True))
    model.pretrained_backbone = True  # as model.multitask.pretrained_weights would set it
    statistics = {k: v.clone() for k, v in model.backbone.state_dict().items() if "running" in k}
    original = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    epochs = []
    from harness.train.optimisation import StepRunner

    real_run = StepRunner.run

    def run_and_look(self, batches, progress=None):
        stats = real_run(self, batches, progress)
        epochs.append({k: v.clone() for k, v in model.backbone.state_dict().items()})
        return stats

    monkeypatch.setattr(StepRunner, "run", run_and_look)
    summary = train_model(setup.spec)
    assert summary["backbone_frozen_epochs"] == 1
    assert [r["backbone_trainable"] for r in summary["history"]] == [0.0, 1.0]
    assert all(torch.equal(epochs[0][k], original[k]) for k in original)  # weights and BatchNorm statistics
    assert any(not torch.equal(epochs[1][k], statistics[k]) for k in statistics)  # trained in epoch 2


def test_early_stopping_and_epoch_checkpoints(smoke_dataset, tmp_path):
    summary = train_model(smoke_setup(smoke_dataset, tmp_path, epochs=6, early_stopping_patience=1,
                                      checkpoint_every=2).spec)
    if summary["stopped_by"] == "early_stopping":
        assert summary["epochs_run"] < 6
        assert summary["epochs_run"] - summary["best_epoch"] == 1
    else:
        assert summary["epochs_run"] == 6
    assert (tmp_path / "checkpoints" / "epoch_002.pt").is_file()


def test_other_settings_start_from_scratch_and_runtime_settings_resume(smoke_dataset, tmp_path):
    first = train_model(smoke_setup(smoke_dataset, tmp_path, epochs=1).spec)
    # how fast it runs (evaluation batch, workers, frame cache) is not what it learns: the finished run is resumed
    faster = train_model(smoke_setup(smoke_dataset, tmp_path, epochs=1, eval_batch_size=7, num_workers=1,
                                     cache_frames=not smoke_dataset["params"]["train"]["cache_frames"]).spec)
    assert faster["resumed_after_epoch"] == 1 and faster["history"] == first["history"]
    summary = train_model(smoke_setup(smoke_dataset, tmp_path, epochs=1, max_lr=5e-4).spec)
    assert summary["resumed_after_epoch"] is None


@pytest.mark.slow
def test_killed_mid_run_and_resumed_ends_like_an_uninterrupted_run(tmp_path):
    """A real SIGKILL mid-run, then the same command again: the final metrics equal a clean run's."""
    params = tmp_path / "params.yaml"
    subprocess.run(["python", "-m", "harness.config", "profile=smoke", "train.epochs=4", "train.samples_per_epoch=64",
                    "--output", str(params)], cwd=REPO, env=env_with_venv(), check=True)
    data = tmp_path / "data"
    env = env_with_venv()

    def stage(*args, **kw):
        return subprocess.Popen(["python", str(REPO / "stages" / args[0]), "--params", str(params), *args[1:]],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)

    assert stage("prepare.py", "--out", str(data)).wait() == 0
    assert stage("split.py", "--strategy", "frame", "--index", str(data / "index.parquet"),
                 "--out", str(data / "frame")).wait() == 0
    train = ("train.py", "--model", "multitask", "--manifest", str(data / "frame" / "manifest.parquet"),
             "--index", str(data / "index.parquet"))

    clean = stage(*train, "--out", str(tmp_path / "clean"), "--eval-out", str(tmp_path / "clean-eval"))
    assert clean.wait() == 0, clean.stdout.read()

    victim = stage(*train, "--out", str(tmp_path / "killed"), "--eval-out", str(tmp_path / "killed-eval"))
    last = tmp_path / "killed" / "checkpoints" / "last.pt"
    deadline = time.time() + 300
    while time.time() < deadline and victim.poll() is None:
        if last.exists() and load_checkpoint(last)["epoch"] >= 1:
            victim.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    assert victim.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    killed_at = load_checkpoint(last)["epoch"]
    assert killed_at < 4 and not (tmp_path / "killed" / "summary.json").exists()

    resumed = stage(*train, "--out", str(tmp_path / "killed"), "--eval-out", str(tmp_path / "killed-eval"))
    output = resumed.communicate()[0]
    assert resumed.returncode == 0, output
    assert f"resuming from {last} after epoch {killed_at}" in output
    clean_summary = json.loads((tmp_path / "clean" / "summary.json").read_text())
    resumed_summary = json.loads((tmp_path / "killed" / "summary.json").read_text())
    assert resumed_summary["resumed_after_epoch"] == killed_at
    strip = lambda h: [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in h]  # noqa: E731
    assert strip(resumed_summary["history"]) == strip(clean_summary["history"])
    assert resumed_summary["best_val_score"] == clean_summary["best_val_score"]
    # the same best checkpoint, scored the same way
    assert (tmp_path / "killed-eval" / "metrics.json").read_text() == (tmp_path / "clean-eval" / "metrics.json").read_text()
    # dvclive's record is rebuilt from the checkpoint: one row per epoch, no duplicate from the killed epoch
    rows = pd.read_csv(tmp_path / "killed" / "live" / "plots" / "metrics" / "val" / "macro_f1.tsv", sep="\t")
    assert list(rows["step"]) == [0, 1, 2, 3]


# --------------------------------------------------------------------------- CUDA (marker gpu: skipped without one)
@pytest.mark.gpu
def test_fp16_gradscaler_step_on_cuda(train_cfg):
    device = torch.device("cuda")
    precision = resolve_precision("amp", device)
    assert precision.name == "fp16-amp" and precision.scaler
    model = build_model("multitask", compose("profile=smoke")["model"]["multitask"], 4).to(device)
    optimizer = make_optimizer(model, train_cfg)
    runner = StepRunner(model, CrossEntropyLoss(), optimizer, make_scheduler(optimizer, dataclasses.replace(train_cfg, epochs=1), 4),
                        precision, 1, 1.0, device)
    stats = runner.run(toy_batches(4, 8))
    assert np.isfinite(stats["loss/total"]) and runner.scaler.get_scale() > 0
    assert runner.scaler.is_enabled()


@pytest.mark.gpu
def test_pinned_memory_loader_on_cuda(smoke_dataset, tmp_path):
    setup = smoke_setup(smoke_dataset, tmp_path, epochs=1, num_workers=1, pin_memory=True)
    setup.spec.device = torch.device("cuda")
    summary = train_model(setup.spec)
    assert summary["device"] == "cuda" and summary["precision"] == "fp32"


def test_the_code_recipe_trains_on_the_smoke_profile(smoke_dataset, tmp_path):
    """recipe=code end to end on the smoke data: no regression term in the total, MIL from the classifier,
    no focal alpha, weighted-F1 selection, and validation through the training transform, deterministically."""
    from harness.config import EvaluateConfig, SplitsConfig, WindowConfig
    from harness.scoring.evaluation import evaluate_run

    params = compose("profile=smoke", "recipe=code")
    index = smoke_dataset["index"]
    manifest = make_manifest("frame", build_windows(index, smoke_dataset["windows"]),
                             section(params, "splits", SplitsConfig))
    setup = build_run(params, "multitask", manifest, manifest_hash(manifest.windows, index), index, tmp_path)
    assert setup.spec.loss_fn.cfg.mil_source == "classifier" and setup.spec.loss_fn.alpha is None
    summary = train_model(setup.spec)
    assert summary["monitor"] == "val/weighted_f1" and summary["epochs_run"] == setup.spec.train.epochs
    for record in summary["history"]:
        weighted = 0.5 * record["train/loss/classification"] + 0.3 * record["train/loss/mil"] + 0.3 * record["train/loss/vae"]
        assert record["train/loss/total"] == pytest.approx(weighted, rel=1e-5)
    train_cfg = setup.spec.train
    assert train_cfg.validation_augment and train_cfg.augment_per_frame
    score = lambda: evaluate_run(setup.spec.model, index["path"].to_numpy(), manifest, None,  # noqa: E731
                                 smoke_dataset["data"].classes, section(params, "windows", WindowConfig), 64,
                                 train_cfg, section(params, "evaluate", EvaluateConfig), torch.device("cpu"), 0)
    first, second = score(), score()
    pd.testing.assert_frame_equal(first[1]["predictions.csv"], second[1]["predictions.csv"])


def test_augmentation_is_drawn_per_clip_or_per_frame(tmp_path):
    """The prose: one draw moves a window's frames together; its code drew for every frame."""
    import cv2

    from harness.config import WindowConfig
    from harness.data.dataset import ClipDataset

    rng = np.random.default_rng(0)
    png = tmp_path / "frame.png"
    cv2.imwrite(str(png), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    window_cfg = WindowConfig(sequence_length=16, frame_stride=2, future_steps=4, window_step=4)
    windows = pd.DataFrame({"window_id": [0], "video_id": ["v"], "label": [0], "first_row": [0]})
    clips = {}
    for per_frame in (False, True):
        dataset = ClipDataset([str(png)] * 40, windows, window_cfg, 64, augment="writeup_without_fog",
                              with_future=False, augment_per_frame=per_frame)
        clips[per_frame] = [dataset[(0, seed)]["clip"] for seed in range(5)]
    # the same picture in every frame: one draw per clip keeps the frames equal, a draw per frame does not
    assert all(all(torch.equal(clip[0], frame) for frame in clip) for clip in clips[False])
    assert any(not all(torch.equal(clip[0], frame) for frame in clip) for clip in clips[True])
