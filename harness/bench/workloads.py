"""The workloads, one function each, and their registry (``WORKLOADS``). Each takes a Workbench and returns
flat records (one per arm, like timm's benchmark.py) and ratios by claim name. A workload that needs
hardware this run does not have records the claim as not testable, with the nearest stand-in beside it."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import torch

from harness.bench.timing import environment, ratio_with_interval, summarise, synchronize, time_arms
from harness.bench.workbench import Workbench, amp_name, endless, train_step
from harness.runtime.precision import resolve_precision

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


def flops_workload(bench: Workbench, precision_records: list[dict[str, Any]] | None = None) -> Result:
    """FLOPs of one training step (torch's FlopCounterMode) and the FLOP/s the precision arms achieved (the
    precision workload runs first when its records are not given)."""
    if precision_records is None:
        precision_records, _ = precision_workload(bench)
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


Workload = Callable[[Workbench], Result]
# the registry; params.yaml names the ones to run in bench.workloads (whose schema, harness.config.BenchConfig,
# lists the same names torch-free; tests/bench/test_workloads.py checks they agree)
WORKLOADS: dict[str, Workload] = {
    "precision": precision_workload,
    "loader": loader_workload,
    "amp_x_loader": amp_x_loader_workload,
    "augment": augment_workload,
    "compile": compile_workload,
    "flops": flops_workload,
}
