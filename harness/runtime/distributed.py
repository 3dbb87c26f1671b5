"""Data-parallel training across processes: torchrun, the process group, and what ranks share.

The train stage is one script for every scale. With ``train.nproc_per_node: 1`` (the default) it trains
in its own process. With N > 1 it starts itself again under ``torchrun --standalone
--nproc_per_node=N`` (``relaunch``); each copy then sees torchrun's RANK / LOCAL_RANK / WORLD_SIZE,
joins the process group (``init``: NCCL on GPUs, gloo on CPU) and trains one share of every global
batch under DistributedDataParallel. Running ``torchrun ... stages/train.py`` yourself (several
nodes, a cluster's own launcher) works the same way: ``init`` reads the environment torchrun set.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from harness.errors import ConfigError


@dataclass(frozen=True)
class Ranks:
    """Where this process stands; the default is a single process."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = Ranks()


def launched() -> bool:
    """True inside a process started by torchrun (or any launcher that sets its variables)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def relaunch(nproc_per_node: int, script: str, argv: list[str]) -> int:
    """Run ``script argv`` again under torchrun with ``nproc_per_node`` processes; its exit code."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc_per_node}",
           script, *argv]
    return subprocess.call(cmd)


def choose_backend(backend: str, device: torch.device) -> str:
    if backend == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl" and device.type != "cuda":
        raise ConfigError("params.yaml: train.dist_backend = 'nccl' needs CUDA devices; use 'gloo' or 'auto' on CPU")
    return backend


def init(backend: str, device: torch.device) -> tuple[Ranks, torch.device]:
    """Join torchrun's process group when launched by it; this process's ranks and device."""
    if not launched():
        return SINGLE, device
    ranks = Ranks(
        rank=int(os.environ["RANK"]),
        local_rank=int(os.environ["LOCAL_RANK"]),
        world_size=int(os.environ["WORLD_SIZE"]),
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"])),
        backend=choose_backend(backend, device),
    )
    if device.type == "cuda":
        if ranks.local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"train.nproc_per_node asks for {ranks.local_world_size} processes on this node but it has "
                f"{torch.cuda.device_count()} GPU(s)"
            )
        device = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(ranks.backend, device_id=device if device.type == "cuda" else None)
    return ranks, device


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


# --------------------------------------------------------------------------- what ranks share
def _device() -> torch.device:
    # NCCL moves CUDA tensors only; gloo moves CPU tensors
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def sum_across(ranks: Ranks, values: dict[str, float]) -> dict[str, float]:
    """Each value summed over all ranks (float64, so sums of counts stay exact)."""
    if not ranks.enabled:
        return dict(values)
    keys = sorted(values)
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return dict(zip(keys, tensor.cpu().tolist(), strict=True))


def gather(ranks: Ranks, obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not ranks.enabled:
        return [obj]
    out: list[Any] = [None] * ranks.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast(ranks: Ranks, obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank: a decision made once."""
    if not ranks.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def sync_buffers(ranks: Ranks, model: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank. DDP broadcasts them at the start
    of each forward, so after the last training step each rank holds its own batch's update."""
    if ranks.enabled:
        for buffer in model.buffers():
            dist.broadcast(buffer.data, src=0)


def seed_rank(ranks: Ranks, seed: int) -> None:
    """Give each rank its own torch random stream (dropout, VAE noise) once the model is built; the
    sampler and augmentation draw from their own seeded generators and stay shared."""
    if ranks.enabled:
        torch.manual_seed(seed + 1_000_003 * ranks.rank)


def barrier(ranks: Ranks) -> None:
    if ranks.enabled:
        dist.barrier()
