"""The zoo extra's networks: spandrel's module run as spandrel's own call does it, and opening a state
dict through the loader of the spandrel architecture detected in it, inside two guards against files
that declare more than they hold:
- a sequence index in a key (``layers.N.``) must be below the number of tensors (spandrel counts
  blocks from the largest index, so ``layers.99999.x`` alone would declare 100000 blocks);
- while spandrel builds the network, every tensor factory call counts its bytes, and building stops
  with a sentence once they pass a few times what the file holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from srgan.archs.base import ArchError, State, declared_bytes
from srgan.archs.zoo import MIN_CONTEXT, ZooConfig

# what srgan upscales with: spandrel's purposes for single-image SR and 1x restoration
SR_PURPOSES = ("SR", "Restoration")

# building may allocate this many times the file's bytes (weights, their initial values, buffers
# such as attention masks and position tables) plus the slack below, no more
BUILD_FACTOR = 3
BUILD_SLACK = 256 << 20
_FACTORIES = frozenset(
    getattr(torch, name)
    for name in (
        "empty",
        "empty_strided",
        "zeros",
        "ones",
        "full",
        "rand",
        "randn",
        "randint",
        "arange",
        "linspace",
        "eye",
        "tensor",
        "zeros_like",
        "ones_like",
        "empty_like",
        "full_like",
        "rand_like",
        "randn_like",
    )
)


class _AllocationBudget(TorchFunctionMode):
    """Refuses tensor factory calls once their bytes together pass ``budget``."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget, self.used = budget, 0

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        result = func(*args, **(kwargs or {}))
        # counted as made: a parameter is made empty (its pages untouched) and filled only afterwards,
        # so an absurd one is refused before it occupies memory
        if func in _FACTORIES and isinstance(result, torch.Tensor):
            self.used += result.numel() * result.element_size()
            if self.used > self.budget:
                raise ArchError(
                    f"declares a network larger than the weights it holds (over {self.budget >> 20} MiB to build "
                    "from a smaller file)"
                )
        return result


def check_indices(state: State) -> None:
    """No sequence index in a key at or beyond the number of tensors."""
    limit = len(state)
    for key in state:
        for part in key.split("."):
            if part.isdigit() and int(part) >= limit:
                raise ArchError(f"key {key!r} declares more layers than the file's {limit} tensors can hold")


class ZooNetwork(nn.Module):
    """A spandrel module run as spandrel's own call does it: the input padded (reflect, then
    replicate) to the model's size requirements, the model's call, the padding cropped."""

    def __init__(self, model: nn.Module, config: ZooConfig, call: Callable[[nn.Module, torch.Tensor], torch.Tensor]):
        super().__init__()
        self.model = model
        self.config = config
        self._call = call

    @property
    def scale(self) -> int:
        return self.config.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = pad_to(x, self.config.multiple, self.config.minimum)
        out = self._call(self.model, x)
        return out[..., : h * self.config.scale, : w * self.config.scale]


def pad_to(x: torch.Tensor, multiple: int, minimum: int) -> torch.Tensor:
    """Pad bottom/right to at least ``minimum`` and a multiple of ``multiple``: reflect as far as
    the image allows, replicate beyond (spandrel's rule, so outputs match its own call)."""
    h, w = x.shape[-2:]
    th, tw = (-(-max(v, minimum) // multiple) * multiple for v in (h, w))
    ph, pw = th - h, tw - w
    if ph or pw:
        rh, rw = min(ph, h - 1), min(pw, w - 1)
        x = F.pad(x, (0, rw, 0, rh), mode="reflect")
        x = F.pad(x, (0, pw - rw, 0, ph - rh), mode="replicate")
    return x


def describe(descriptor: Any) -> tuple[nn.Module, ZooConfig, Callable[[nn.Module, torch.Tensor], torch.Tensor]]:
    """(module, config, call) from a spandrel ImageModelDescriptor."""
    model = descriptor.model
    params = getattr(model, "hyperparameters", {}) or {}
    req = descriptor.size_requirements
    window = max((_ints(params.get(k)) for k in ("window_size", "split_size")), default=0, key=lambda v: v)
    context = max(MIN_CONTEXT, 2 * window)
    multiple = max(req.multiple_of, 1)
    context = -(-context // multiple) * multiple
    widths = [
        v for k in ("embed_dim", "dim", "num_feat", "num_features", "feature_channels", "nf") if (v := params.get(k))
    ]
    width = max((w for w in widths if isinstance(w, int)), default=64)
    config = ZooConfig(
        arch=str(descriptor.architecture.id),
        scale=int(descriptor.scale),
        hyperparameters=json.dumps(params, sort_keys=True, default=str),
        context=context,
        multiple=multiple,
        minimum=int(req.minimum),
        width=width,
        in_channels=int(descriptor.input_channels),
        out_channels=int(descriptor.output_channels),
    )
    call = getattr(descriptor, "_call_fn", None) or (lambda m, x: m(x))
    return model, config, call


def _ints(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, list | tuple):
        return max((_ints(v) for v in value), default=0)
    return 0


def open_state(detected: Any, state: State) -> tuple[ZooConfig, nn.Module]:
    """The network of the spandrel architecture ``detected`` (an ``ArchSupport`` whose detection
    accepted ``state``), wrapped for srgan, or one ``ArchError`` why not. Its scale and channels are
    the spec's ``check`` (``ArchSpec.checked``)."""
    check_indices(state)
    name = detected.architecture.id
    try:
        with _AllocationBudget(BUILD_FACTOR * declared_bytes(state) + BUILD_SLACK):
            descriptor = detected.architecture.load(dict(state))
    except ArchError:
        raise
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ArchError(f"looks like a {name} file but does not load as one ({first[:200]})") from exc
    if getattr(descriptor, "purpose", None) not in SR_PURPOSES:
        raise ArchError(f"is a {name} model for {descriptor.purpose}, not single-image upscaling")
    model, config, call = describe(descriptor)
    return config, ZooNetwork(model.float().eval(), config, call)
