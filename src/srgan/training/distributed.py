"""torchrun / DistributedDataParallel set-up: NCCL on GPUs, gloo on CPUs."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from srgan.runtime import select_device


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_name: str) -> tuple[DistInfo, torch.device]:
    """Read torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); join the process group if
    there is more than one process. Each process drives one GPU (cuda:LOCAL_RANK) or the CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    info = DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    device = select_device(device_name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", info.local_rank if world > 1 else 0)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if info.enabled and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return info, device


def _reduce_flag(flag: bool, device: torch.device, op: dist.ReduceOp.RedOpType) -> bool:
    if not dist.is_initialized():
        return flag
    t = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(t, op=op)
    return bool(t.item())


def all_true(flag: bool, device: torch.device) -> bool:
    """True only if ``flag`` holds on every process (so all skip or all take a step together)."""
    return _reduce_flag(flag, device, dist.ReduceOp.MIN)


def any_true(flag: bool, device: torch.device) -> bool:
    """True if ``flag`` holds on any process (a stop signal that reached only one rank stops all)."""
    return _reduce_flag(flag, device, dist.ReduceOp.MAX)


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def cleanup() -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


@torch.no_grad()
def average_buffers(module: torch.nn.Module) -> None:
    """Average floating-point buffers (BatchNorm running statistics) over all processes.

    DDP keeps parameters in step but each process's BN statistics come from its own batches;
    averaging them before a checkpoint gives every rank the same, better-estimated statistics.
    """
    if not dist.is_initialized():
        return
    for buffer in module.buffers():
        if buffer.is_floating_point():
            dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
            buffer.div_(dist.get_world_size())
