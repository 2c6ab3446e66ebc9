"""The one device and precision policy of the package (training, evaluation and upscaling alike).

``auto`` precision means, everywhere: bf16 on a CPU with native bf16 arithmetic (AVX512-BF16 or
AMX) and on a CUDA GPU that supports it, fp16 on older CUDA GPUs, fp32 elsewhere; fp16 never on a
CPU. Inference adds one refinement on top of this rule (``Upscaler``): a model whose bf16 output
is not visually identical to fp32 on a built-in image runs in fp32, and 16-bit images always do.
Inference also offers ``int8`` (opt-in, x86 CPUs): int8 convolutions, the rest as ``auto`` would run
it on that CPU.

Importing this module is cheap: torch is imported only by the functions that need it.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import torch
    from torch import nn

ModuleT = TypeVar("ModuleT", bound="nn.Module")

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# Upscaling also runs SRResNet generators with int8 convolutions (srgan.archs.srresnet.quantized).
INFERENCE_PRECISIONS = (*PRECISIONS, "int8")
# The x2 PixelShuffle blocks of the SRResNet generator make its scale a power of two.
SRGAN_SCALES = (2, 4, 8)
# Evaluation also scores bicubic and models of other architectures, at x3 too.
EVAL_SCALES = (2, 3, 4, 8)
# The largest final factor (--outscale) and output side (--width/--height) upscaling takes: beyond them
# no machine holds the result, and the size arithmetic stays in finite numbers.
MAX_OUTSCALE = 64.0
MAX_OUTPUT_SIDE = 1 << 20
DEVICE_HELP = "auto, cpu, cuda, cuda:N or mps"


class RuntimeChoiceError(ValueError):
    """A device or precision this machine cannot provide; the message says which and why."""


def select_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple's MPS, then the CPU; an unavailable device is an error."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise RuntimeChoiceError(f"unknown device {name!r}; use {DEVICE_HELP}") from exc
    if device.type not in ("cpu", "cuda", "mps"):
        raise RuntimeChoiceError(f"unsupported device {name!r}; use {DEVICE_HELP}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeChoiceError(f"device {name} was asked for, but this torch build sees no CUDA GPU")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeChoiceError(f"device {name} was asked for, but MPS is not available")
    return device


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 arithmetic (AVX512-BF16 or AMX), where bf16 is fast."""
    import torch

    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None = fp32), by the rule above; for
    ``int8``, the dtype of the parts that stay in floating point."""
    import torch

    if precision not in INFERENCE_PRECISIONS:
        raise RuntimeChoiceError(f"precision must be one of {', '.join(INFERENCE_PRECISIONS)}; got {precision!r}")
    if precision == "int8":
        if device.type != "cpu":
            raise RuntimeChoiceError("int8 is for CPUs; on a GPU use fp16 or bf16")
        return torch.bfloat16 if cpu_supports_bf16() else None
    if precision == "fp32":
        return None
    if precision == "fp16":
        if device.type != "cuda":
            raise RuntimeChoiceError("fp16 is for CUDA GPUs; on the CPU use bf16 or fp32")
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_supports_bf16():
        return torch.bfloat16
    return None


def precision_name(dtype: torch.dtype | None) -> str:
    import torch

    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# Blocks up to this size come from (and return to) the heap instead of their own mmap.
HOST_REUSE_BYTES = 512 << 20
_GLIBC_DEFAULT_THRESHOLD = 128 << 10
_host_memory_policy = ""  # "" (not chosen yet), "reuse" or "return"


def reuse_host_memory() -> bool:
    """Let the C allocator keep freed blocks of up to HOST_REUSE_BYTES for reuse (glibc only; a no-op
    elsewhere). Returns whether the policy is in force.

    Why: by default glibc gives every block above 32 MiB (adaptively, often far less) its own mmap
    and unmaps it on free, so each of the ~100 feature maps of 16-64 MiB a forward pass allocates
    starts as fresh pages, and the kernel zero-fills them page by page on first touch: 15% of the
    fp32 upscaling time on this 2-core CPU (docs/benchmarks.md, "CPU speed against OpenVINO").
    Kept blocks are reused by the next tensor of the same size, so the peak of resident memory
    does not grow with the number of tiles; what changes is that freed memory stays with the
    process instead of going back to the system after the work. Applied for CPU inference (the
    ``Upscaler`` on a CPU), process-wide and once; a process that chose ``return_freed_memory``
    keeps that choice.
    """
    global _host_memory_policy
    if _host_memory_policy:
        return _host_memory_policy == "reuse"
    ok = _mallopt(HOST_REUSE_BYTES, HOST_REUSE_BYTES * 2)
    _host_memory_policy = "reuse" if ok else "return"
    return ok


def return_freed_memory() -> None:
    """glibc's own thresholds for the life of the process, so freed blocks go back to the system and
    resident memory follows the current work: for a long-running server whose memory bound counts
    more than the last 15% of speed (``srgan serve``). Later ``reuse_host_memory`` calls do nothing."""
    global _host_memory_policy
    if _host_memory_policy == "reuse":
        _mallopt(_GLIBC_DEFAULT_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)
    _host_memory_policy = "return"


def _mallopt(mmap_threshold: int, trim_threshold: int) -> bool:
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        mallopt = getattr(ctypes.CDLL(name), "mallopt", None) if name else None
    except OSError:
        mallopt = None
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1 and mallopt(_M_TRIM_THRESHOLD, trim_threshold) == 1)


def place(module: ModuleT, device: torch.device, channels_last: bool) -> ModuleT:
    """``module`` on ``device``, its 4-d weights in channels_last order when asked (fast for
    convolutions on CPUs and CUDA GPUs)."""
    import torch

    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    # torch's type stubs lack Module.to's documented memory_format keyword
    return module.to(device, memory_format=memory_format)  # type: ignore[call-overload,no-any-return]


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
    """Read torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); join the process group if there
    is more than one process (NCCL on GPUs, gloo on CPUs). Each process drives one GPU
    (cuda:LOCAL_RANK) or the CPU. Used by training (DDP) and by sharded batch upscaling."""
    import torch
    import torch.distributed as dist

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


def load_failure(exc: BaseException) -> str:
    """What ``torch.load(..., weights_only=True)`` refused, in our words: torch's own message advises
    re-running with ``weights_only=False``, the one step that would run the file's code."""
    if isinstance(exc, pickle.UnpicklingError):
        return "it holds pickled Python objects, not only tensors; srgan does not load those, since loading them can run code"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first if "weights_only" not in first else "it is not a plain PyTorch weights file"
