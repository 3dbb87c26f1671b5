"""Throughput benchmarks for the write-up's speed claims, and the timing primitives under them.

Method (design.md, honesty rules): every arm of a comparison does the same work at the same batch and
layout; each arm is warmed up first (compilation, allocator, worker start-up excluded and, for
torch.compile, reported separately); on a GPU the device is synchronised before every clock read; the
arms are interleaved over ``repeats`` rounds (arm order rotates each round) so that drift in the
machine hits all arms alike; each record reports the median and IQR of the per-round rates, and is
marked noisy when IQR / median exceeds the configured bound. A claim's ratio is the ratio of medians,
with a 95% interval from resampling the rounds (paired: one round's arms ran back to back).

Each workload returns flat records (one per arm, like timm's benchmark.py) and ratios. A workload that
needs hardware this run does not have is recorded as not testable, with the nearest stand-in beside it.
"""

from __future__ import annotations

import io
import itertools
import logging
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from harness.config import BenchConfig, LossConfig, TrainConfig, WindowConfig, parse_section
from harness.data.dataset import ClipDataset
from harness.loaders import make_loader
from harness.losses import CrossEntropyLoss, MultiTaskLoss
from harness.models import build_model, count_parameters
from harness.optimisation import StepRunner, make_optimizer, make_scheduler
from harness.precision import Precision, move, resolve_precision

log = logging.getLogger("harness")

WORKLOADS = ("precision", "loader", "amp_x_loader", "augment", "compile", "flops")


# --------------------------------------------------------------------------- timing primitives
def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_arms(arms: dict[str, Callable[[], int]], warmup_steps: int, timed_steps: int, repeats: int,
              device: torch.device) -> dict[str, list[float]]:
    """Items per second of each arm in each round. An arm is a callable doing one step and returning
    the number of items (clips, images) it processed. Warm-up steps are run first and not timed."""
    for step in arms.values():
        for _ in range(warmup_steps):
            step()
    synchronize(device)
    names = list(arms)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            synchronize(device)
            start = time.perf_counter()
            items = sum(arms[name]() for _ in range(timed_steps))
            synchronize(device)
            rates[name].append(items / (time.perf_counter() - start))
    return rates


def summarise(rates: list[float], noisy_bound: float) -> dict[str, Any]:
    q1, median, q3 = np.percentile(rates, [25, 50, 75])
    spread = float((q3 - q1) / median) if median > 0 else float("nan")
    return {"samples_per_s": round(float(median), 3), "iqr": round(float(q3 - q1), 3),
            "iqr_over_median": round(spread, 4), "noisy": bool(spread > noisy_bound),
            "rounds": [round(r, 3) for r in rates]}


def ratio_with_interval(fast: list[float], slow: list[float], resamples: int, seed: int) -> dict[str, float]:
    """median(fast) / median(slow), with a 95% interval from resampling the paired rounds."""
    a, b = np.asarray(fast), np.asarray(slow)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(resamples, len(a)))
    samples = np.median(a[idx], axis=1) / np.median(b[idx], axis=1)
    low, high = np.percentile(samples, [2.5, 97.5])
    return {"ratio": round(float(np.median(a) / np.median(b)), 4), "ci_low": round(float(low), 4),
            "ci_high": round(float(high), 4)}


def environment(device: torch.device) -> dict[str, Any]:
    return {
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "threads": torch.get_num_threads(),
    }


# --------------------------------------------------------------------------- workloads' building blocks
@dataclass
class Workbench:
    """Everything a workload needs: params, the device, the clip shape, real windows for the loader."""

    params: dict[str, Any]
    cfg: BenchConfig
    device: torch.device
    paths: np.ndarray
    windows: pd.DataFrame
    n_classes: int
    normal_label: int
    window_cfg: WindowConfig
    image_size: int
    input_size: int

    @property
    def clip_frames(self) -> int:
        return self.window_cfg.sequence_length

    @property
    def train_cfg(self) -> TrainConfig:
        """The run's training settings at the benchmark's batch size (the step and loader under test)."""
        return replace(parse_section(TrainConfig, self.params["train"], "train"), batch_size=self.cfg.batch_size)

    def context(self, model_name: str, model: torch.nn.Module | None = None) -> dict[str, Any]:
        return {"model": model_name,
                "backbone": self.params["model"][model_name].get("backbone"),
                "param_count": count_parameters(model) if model is not None else None,
                "batch_size": self.cfg.batch_size,
                "clip_shape": f"{self.clip_frames}x3x{self.input_size}x{self.input_size}",
                "channels_last": False,
                "warmup_steps": self.cfg.warmup_steps, "timed_steps": self.cfg.timed_steps,
                "repeats": self.cfg.repeats, **environment(self.device)}

    def model(self, name: str) -> torch.nn.Module:
        torch.manual_seed(self.cfg.seed)
        return build_model(name, self.params["model"][name], self.n_classes).to(self.device)

    def loss(self, name: str):
        if name == "multitask":
            return MultiTaskLoss(parse_section(LossConfig, self.params["loss"], "loss"), None, self.normal_label)
        return CrossEntropyLoss()

    def random_batch(self) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(self.cfg.seed)
        b, t, s = self.cfg.batch_size, self.clip_frames, self.input_size
        return move({
            "clip": torch.randint(0, 256, (b, t, 3, s, s), dtype=torch.uint8, generator=g),
            "future": torch.randint(0, 256, (b, 3, s, s), dtype=torch.uint8, generator=g),
            "label": torch.randint(0, self.n_classes, (b,), generator=g),
            "video": torch.arange(b),
        }, self.device)

    def loader(self, workers: int, tuned: bool, with_future: bool = True) -> DataLoader:
        """The training loader (harness.loaders.make_loader) over real windows: ``workers`` processes, and
        when ``tuned`` the write-up's pinned memory, prefetch and persistent workers."""
        dataset = ClipDataset(self.paths, self.windows, self.window_cfg, self.image_size,
                              labels=self.windows["label"].to_numpy(np.int64), augment=self.cfg.augment,
                              with_future=with_future, input_size=self.input_size, cache_frames=False)
        cfg = replace(self.train_cfg, num_workers=workers, pin_memory=tuned, persistent_workers=tuned and workers > 0,
                      prefetch_factor=self.cfg.loader_prefetch_factor)
        return make_loader(dataset, cfg, self.device, self.cfg.batch_size)


def endless(loader: DataLoader) -> Iterator[dict[str, torch.Tensor]]:
    while True:
        yield from loader


def train_step(bench: Workbench, model: torch.nn.Module, loss_fn, precision: Precision) -> Callable[[Iterator[dict]], int]:
    """The pipeline's own optimisation step (harness.optimisation.StepRunner) with the run's optimizer, OneCycle
    schedule, gradient accumulation and clipping: each call takes ``accumulation_steps`` batches from
    ``batches`` and makes one optimizer step, exactly as training does; it returns the clips processed."""
    cfg = bench.train_cfg
    optimizer = make_optimizer(model, cfg)
    # a schedule long enough for every step the benchmark takes (OneCycleLR refuses to step past its end)
    steps = bench.cfg.warmup_steps + bench.cfg.timed_steps * bench.cfg.repeats + 2
    scheduler = make_scheduler(optimizer, cfg, steps_per_epoch=-(-steps // cfg.epochs))
    runner = StepRunner(model, loss_fn, optimizer, scheduler, precision, cfg.accumulation_steps, cfg.grad_clip,
                        bench.device)

    def step(batches: Iterator[dict]) -> int:
        group = [next(batches) for _ in range(cfg.accumulation_steps)]
        runner.run(group)
        return sum(len(b["label"]) for b in group)

    return step


def amp_name(device: torch.device) -> str:
    return resolve_precision("amp", device).name


# --------------------------------------------------------------------------- the workloads
Result = tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]  # records, ratios by claim name


def _records(bench: Workbench, workload: str, rates: dict[str, list[float]], extra: dict[str, dict[str, Any]]) -> list[dict]:
    return [{"workload": workload, "arm": arm, **extra[arm], **summarise(r, bench.cfg.noisy_iqr_fraction)}
            for arm, r in rates.items()]


def _ratio(bench: Workbench, rates: dict[str, list[float]], fast: str, slow: str, **info: Any) -> dict[str, Any]:
    out = ratio_with_interval(rates[fast], rates[slow], bench.cfg.interval_resamples, bench.cfg.seed)
    return {**out, "arms": f"{fast} / {slow}", "status": "measured", **info}


def not_testable(why: str, stand_in: str | None) -> dict[str, Any]:
    return {"ratio": None, "ci_low": None, "ci_high": None, "status": "not testable here", "why": why,
            "stand_in": stand_in}


def precision_workload(bench: Workbench) -> Result:
    """Full multi-task training step and the backbone alone, fp32 vs AMP, on random tensors (model-only)."""
    cfg, device, amp = bench.cfg, bench.device, amp_name(bench.device)
    batch = bench.random_batch()
    arms, extra = {}, {}
    for precision_name in ("fp32", "amp"):
        precision = resolve_precision(precision_name, device)
        model = bench.model("multitask")
        step = train_step(bench, model, bench.loss("multitask"), precision)
        arms[f"train_step_{precision.name}"] = lambda step=step: step(itertools.repeat(batch))
        extra[f"train_step_{precision.name}"] = {**bench.context("multitask", model), "precision": precision.name,
                                                 "scope": "model-only (random tensors)", "unit": "clips/s"}
    backbone = bench.model("multitask").backbone
    frames = torch.rand(cfg.batch_size * bench.clip_frames, 3, bench.input_size, bench.input_size, device=device)
    for precision_name in ("fp32", "amp"):
        precision = resolve_precision(precision_name, device)
        optimizer = torch.optim.AdamW(backbone.parameters(), lr=1e-4)

        def backbone_step(precision=precision, optimizer=optimizer) -> int:
            with precision.autocast():
                loss = backbone(frames).float().square().mean()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return len(frames)

        arms[f"backbone_{precision.name}"] = backbone_step
        extra[f"backbone_{precision.name}"] = {**bench.context("multitask", backbone), "model": "backbone",
                                               "precision": precision.name, "scope": "backbone fwd+bwd",
                                               "batch_size": len(frames), "unit": "frames/s"}
    rates = time_arms(arms, cfg.warmup_steps, cfg.timed_steps, cfg.repeats, device)
    records = _records(bench, "precision", rates, extra)
    ratios = {}
    train = _ratio(bench, rates, f"train_step_{amp}", "train_step_fp32", precision=amp)
    backbone_ratio = _ratio(bench, rates, f"backbone_{amp}", "backbone_fp32", precision=amp)
    if device.type == "cuda":
        ratios["fp16_train_step"], ratios["fp16_backbone"] = train, backbone_ratio
        ratios["bf16_train_step"] = not_testable("this run measured fp16 on the GPU", "fp16_train_step")
        ratios["fp16_peak_memory"] = step_memory_saving(arms["train_step_fp32"], arms[f"train_step_{amp}"], device)
    else:
        ratios["fp16_peak_memory"] = not_testable("peak GPU memory of a training step needs a CUDA GPU", None)
        ratios["bf16_train_step"], ratios["bf16_backbone"] = train, backbone_ratio
        ratios["fp16_train_step"] = not_testable(
            "fp16 autocast with GradScaler needs a CUDA GPU; on this CPU AMP means bf16, emulated without bf16 "
            "instructions", "bf16_train_step")
    return records, ratios


def step_memory_saving(fp32_step: Callable[[], int], amp_step: Callable[[], int], device: torch.device) -> dict[str, Any]:
    """1 - (AMP step's peak) / (fp32 step's peak), each the most memory one training step allocates above what
    was resident before it (activations kept for backward, gradients, autocast's weight copies): the part of
    training memory mixed precision can shrink. Both models stay resident, so totals would hide the difference."""
    peaks = {}
    for name, step in (("fp32", fp32_step), ("amp", amp_step)):
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        resident = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        peaks[name] = torch.cuda.max_memory_allocated(device) - resident
    return {"saving": round(1 - peaks["amp"] / peaks["fp32"], 4), "fp32_step_bytes": int(peaks["fp32"]),
            "amp_step_bytes": int(peaks["amp"]), "status": "measured",
            "scope": "peak memory one training step allocates above what is resident, fp16 autocast vs fp32"}


def loader_workload(bench: Workbench) -> Result:
    """End-to-end clips/s of the real loader (PNG decode + the write-up's augmentation), no model."""
    cfg = bench.cfg
    settings = {
        "workers_0": (0, False),
        f"workers_{cfg.loader_workers}": (cfg.loader_workers, False),
        f"workers_{cfg.loader_workers}_tuned": (cfg.loader_workers, True),
    }
    arms, extra = {}, {}
    for arm, (workers, tuned) in settings.items():
        loader = bench.loader(workers, tuned)

        def one_pass(loader=loader) -> int:
            # a fresh iterator each step: non-persistent workers pay their start-up, persistent ones do not
            return sum(len(b["label"]) for b in itertools.islice(iter(loader), cfg.loader_batches))

        arms[arm] = one_pass
        extra[arm] = {**bench.context("multitask"), "model": None, "num_workers": workers,
                      "pin_memory": loader.pin_memory, "prefetch_factor": loader.prefetch_factor,
                      "persistent_workers": loader.persistent_workers, "augment": cfg.augment,
                      "scope": f"loader only: {cfg.loader_batches} batches from a fresh iterator", "unit": "clips/s"}
    rates = time_arms(arms, 1, 1, cfg.repeats, bench.device)
    tuned = f"workers_{cfg.loader_workers}_tuned"
    ratios = {"loader_tuned": _ratio(bench, rates, tuned, "workers_0"),
              "loader_workers": _ratio(bench, rates, f"workers_{cfg.loader_workers}", "workers_0")}
    if bench.device.type != "cuda":
        ratios["loader_tuned"]["note"] = "pin_memory only applies with a CUDA device; off here"
    return _records(bench, "loader", rates, extra), ratios


def amp_x_loader_workload(bench: Workbench) -> Result:
    """The 2x2 the write-up multiplies: {fp32, AMP} x {default loader, tuned loader}, end to end."""
    cfg, device, amp = bench.cfg, bench.device, amp_name(bench.device)
    arms, extra = {}, {}
    for precision_name, (loader_name, workers, tuned) in itertools.product(
            ("fp32", "amp"), (("workers_0", 0, False), ("tuned", cfg.loader_workers, True))):
        precision = resolve_precision(precision_name, device)
        model = bench.model("multitask")
        step = train_step(bench, model, bench.loss("multitask"), precision)
        loader = bench.loader(workers, tuned)
        batches = endless(loader)
        arm = f"{precision.name}+{loader_name}"
        arms[arm] = lambda step=step, batches=batches: step(batches)
        extra[arm] = {**bench.context("multitask", model), "precision": precision.name, "num_workers": workers,
                      "pin_memory": loader.pin_memory, "persistent_workers": loader.persistent_workers,
                      "augment": cfg.augment, "scope": "end-to-end training step (real loader)", "unit": "clips/s"}
    rates = time_arms(arms, cfg.warmup_steps, cfg.timed_steps, cfg.repeats, device)
    both, neither = f"{amp}+tuned", "fp32+workers_0"
    joint = _ratio(bench, rates, both, neither, precision=amp)
    amp_only = _ratio(bench, rates, f"{amp}+workers_0", neither)["ratio"]
    loader_only = _ratio(bench, rates, "fp32+tuned", neither)["ratio"]
    joint["product_of_parts"] = round(amp_only * loader_only, 4)
    ratios = {}
    if device.type == "cuda":
        ratios["amp_x_loader"] = joint
    else:
        ratios["amp_x_loader_bf16"] = joint
        ratios["amp_x_loader"] = not_testable("fp16 AMP needs a CUDA GPU", "amp_x_loader_bf16")
    ratios["loader_end_to_end"] = _ratio(bench, rates, "fp32+tuned", neither)
    return _records(bench, "amp_x_loader", rates, extra), ratios


def augment_workload(bench: Workbench) -> Result:
    """albumentations vs torchvision.transforms.v2 per image, one thread, same three transforms; and the
    write-up's whole albumentations pipeline in ms per image."""
    from harness.data.transforms import benchmark_albumentations, benchmark_torchvision, build_augmentation

    cfg = bench.cfg
    frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in bench.paths[: cfg.augment_images]]
    records, ratios = [], {}
    threads = torch.get_num_threads()
    cv2_threads = cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        for size in cfg.augment_sizes:
            images = [cv2.resize(f, (size, size), interpolation=cv2.INTER_LINEAR) for f in frames]
            tensors = [torch.from_numpy(i).permute(2, 0, 1).contiguous() for i in images]
            albu, tv = benchmark_albumentations(), benchmark_torchvision()
            writeup = build_augmentation(cfg.augment) if cfg.augment != "none" else None
            arms = {
                f"albumentations_{size}": lambda albu=albu, images=images: sum(1 for i in images if albu(image=i)["image"] is not None),
                f"torchvision_{size}": lambda tv=tv, tensors=tensors: sum(1 for t in tensors if tv(t) is not None),
            }
            if writeup is not None:
                arms[f"writeup_{cfg.augment}_{size}"] = lambda w=writeup, images=images: sum(
                    1 for i in images if w(images=[i])["images"] is not None)
            rates = time_arms(arms, 1, 1, cfg.repeats, torch.device("cpu"))
            extra = {arm: {"image_size": size, "threads": 1, "images": len(images), "unit": "images/s",
                           "scope": "Rotate + HorizontalFlip + ColorJitter, always applied" if not arm.startswith("writeup")
                           else f"the write-up's pipeline ({cfg.augment})",
                           "library": arm.split("_")[0], "torch": torch.__version__} for arm in arms}
            records += _records(bench, "augment", rates, extra)
            ratios[f"albumentations_vs_torchvision_{size}"] = _ratio(bench, rates, f"albumentations_{size}",
                                                                     f"torchvision_{size}")
            if writeup is not None:
                ms = 1000 / float(np.median(rates[f"writeup_{cfg.augment}_{size}"]))
                ratios[f"albumentations_ms_per_image_{size}"] = {"value": round(ms, 4), "status": "measured",
                                                                 "pipeline": cfg.augment}
    finally:
        torch.set_num_threads(threads)
        cv2.setNumThreads(cv2_threads)
    return records, ratios


def compile_workload(bench: Workbench) -> Result:
    """Eager vs torch.compile for inference and for a training step; compile time reported apart."""
    cfg, device = bench.cfg, bench.device
    name = cfg.compile_model
    batch = bench.random_batch()
    fp32 = resolve_precision("fp32", device)
    records, ratios = [], {}
    modes = [m for m in cfg.compile_modes if m != "reduce-overhead" or device.type == "cuda"]
    for kind in ("inference", "train"):
        arms, extra = {}, {}
        for mode in ("eager", *modes):
            model = bench.model(name)
            runnable = model if mode == "eager" else torch.compile(model, mode=mode)
            if kind == "inference":
                model.eval()

                def step(runnable=runnable) -> int:
                    with torch.inference_mode():
                        runnable(batch["clip"])
                    return len(batch["label"])
            else:
                step_fn = train_step(bench, runnable, bench.loss(name), fp32)

                def step(step_fn=step_fn) -> int:
                    return step_fn(itertools.repeat(batch))
            synchronize(device)
            start = time.perf_counter()
            step()  # the first call compiles
            synchronize(device)
            first_call = time.perf_counter() - start
            arms[mode], extra[mode] = step, {**bench.context(name, model), "precision": "fp32", "compile_mode": mode,
                                             "kind": kind, "first_call_seconds": round(first_call, 3),
                                             "unit": "clips/s"}
        rates = time_arms(arms, cfg.warmup_steps, cfg.timed_steps, cfg.repeats, device)
        for record in _records(bench, "compile", rates, extra):
            record["arm"] = f"{kind}_{record['arm']}"
            records.append(record)
        for mode in modes:
            key = f"compile_{mode.replace('-', '_')}_{kind}"
            ratios[key] = _ratio(bench, rates, mode, "eager", model=name,
                                 compile_seconds=extra[mode]["first_call_seconds"])
    if device.type != "cuda" and "reduce-overhead" in cfg.compile_modes:
        for kind in ("inference", "train"):
            ratios[f"compile_reduce_overhead_{kind}"] = not_testable(
                "mode='reduce-overhead' works through CUDA graphs and needs a CUDA GPU", f"compile_default_{kind}")
    return records, ratios


# peak dense throughput (FLOP/s) by card, for the fraction of peak: fp32 (non-tensor) and 16-bit tensor
PEAK_FLOPS = {
    "H200": {"fp32": 67e12, "amp": 989e12},
    "H100 PCIe": {"fp32": 51e12, "amp": 756e12},
    "H100": {"fp32": 67e12, "amp": 989e12},
    "A100": {"fp32": 19.5e12, "amp": 312e12},
    "V100": {"fp32": 15.7e12, "amp": 125e12},
    "T4": {"fp32": 8.1e12, "amp": 65e12},
}


def peak_flops(device_name: str) -> dict[str, float] | None:
    for card, peak in PEAK_FLOPS.items():
        if card in device_name:
            return peak
    return None


def flops_workload(bench: Workbench, precision_records: list[dict[str, Any]]) -> Result:
    """FLOPs of one training step (torch's FlopCounterMode) and the FLOP/s the precision arms achieved."""
    from torch.utils.flop_counter import FlopCounterMode

    model = bench.model("multitask")
    step = train_step(bench, model, bench.loss("multitask"), resolve_precision("fp32", bench.device))
    batch = bench.random_batch()
    with FlopCounterMode(display=False) as counter:
        clips = step(itertools.repeat(batch))
    flops = counter.get_total_flops()  # one optimizer step: accumulation_steps batches
    records, summary = [], {"flops_per_step": int(flops), "flops_per_clip": int(flops / clips)}
    peak = peak_flops(environment(bench.device)["device_name"]) if bench.device.type == "cuda" else None
    for record in precision_records:
        if not record["arm"].startswith("train_step_"):
            continue
        achieved = flops / clips * record["samples_per_s"]
        kind = "fp32" if record["precision"] == "fp32" else "amp"
        row = {"workload": "flops", "arm": record["arm"], "flops_per_step": int(flops),
               "achieved_flops_per_s": round(achieved, 1),
               "fraction_of_peak": round(achieved / peak[kind], 5) if peak else None, **environment(bench.device)}
        records.append(row)
        summary[f"achieved_flops_per_s_{record['precision']}"] = row["achieved_flops_per_s"]
        summary[f"fraction_of_peak_{record['precision']}"] = row["fraction_of_peak"]
    return records, {"flops": summary}


def run_benchmarks(bench: Workbench, progress: Callable[[str], Any] = lambda _: None) -> tuple[list[dict], dict[str, Any]]:
    """Every configured workload; returns all records and the summary (claims by name, FLOPs)."""
    records: list[dict[str, Any]] = []
    claims: dict[str, Any] = {}
    precision_records: list[dict[str, Any]] = []
    runners = {"precision": precision_workload, "loader": loader_workload, "amp_x_loader": amp_x_loader_workload,
               "augment": augment_workload, "compile": compile_workload}
    for name in bench.cfg.workloads:
        progress(name)
        start = time.perf_counter()
        if name == "flops":
            if not precision_records:
                precision_records, _ = precision_workload(bench)
            new, found = flops_workload(bench, precision_records)
        else:
            new, found = runners[name](bench)
            if name == "precision":
                precision_records = new
        log.info("bench %s: %d records in %.1f s", name, len(new), time.perf_counter() - start)
        records += new
        claims.update(found)
    flops = claims.pop("flops", None)
    augment = {k: claims.pop(k) for k in list(claims) if k.startswith("albumentations_ms_per_image_")}
    summary = {"claims": claims, "augment": {k: v["value"] for k, v in augment.items()}, "flops": flops,
               "environment": environment(bench.device),
               "noisy_records": sum(1 for r in records if r.get("noisy"))}
    return records, summary


def make_workbench(params: dict[str, Any], paths: np.ndarray, windows: pd.DataFrame,
                   cfg: BenchConfig | None = None) -> Workbench:
    """A Workbench from params.yaml, the frame index's paths and a manifest's windows."""
    from harness.config import DataConfig, RunConfig, load_section
    from harness.runinfo import resolve_device, set_threads

    run = load_section(params, "run", RunConfig)
    data = load_section(params, "data", DataConfig)
    train = load_section(params, "train", TrainConfig)
    set_threads(run)
    return Workbench(params=params, cfg=cfg or load_section(params, "bench", BenchConfig), device=resolve_device(run),
                     paths=np.asarray(paths), windows=windows.reset_index(drop=True), n_classes=len(data.classes),
                     normal_label=data.classes.index(data.normal_class),
                     window_cfg=load_section(params, "windows", WindowConfig), image_size=data.image_size,
                     input_size=train.input_size or data.image_size)


# --------------------------------------------------------------------------- the write-up's model, measured
def paper_model_facts() -> dict[str, Any]:
    """Parameter count and checkpoint size of the multi-task model at the write-up's dimensions
    (efficientnet_b0, built here without pretrained weights), measured: the weights alone, and the
    weights with AdamW's state after one step, serialised with torch.save."""
    import yaml

    from harness.config import compose_params

    params = yaml.safe_load(compose_params(["profile=paper"]))
    torch.manual_seed(0)
    model = build_model("multitask", params["model"]["multitask"], len(params["data"]["classes"]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    out = model(torch.randint(0, 256, (1, 2, 3, 32, 32), dtype=torch.uint8))
    out["logits"].float().sum().backward()
    optimizer.step()

    def size(obj: Any) -> float:
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        return round(buffer.tell() / 1e6, 2)

    parameters = count_parameters(model)
    return {"parameters": parameters, "parameters_millions": round(parameters / 1e6, 4), "backbone": params["model"]["multitask"]["backbone"],
            "weights_megabytes": size(model.state_dict()),
            "checkpoint_megabytes": size({"model": model.state_dict(), "optimizer": optimizer.state_dict()})}
