"""Collective helpers for DistributedDataParallel training (the process group itself is joined by
``srgan.runtime.init_distributed``, which batch upscaling shares)."""

from __future__ import annotations

import torch
import torch.distributed as dist

from srgan.runtime import DistInfo, init_distributed

__all__ = ["DistInfo", "all_true", "any_true", "average_buffers", "barrier", "cleanup", "init_distributed"]


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
