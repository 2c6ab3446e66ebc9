"""``ArchSpec``: everything srgan asks about a network architecture, in one object.

The rest of the package never asks a network or a config what class it is: it finds the
architecture's spec (``srgan.archs.spec_for(config)``, ``srgan.archs.detect(state)``) and asks
that. A spec is plain data and functions; importing it loads no torch (each architecture's
``nn.Module`` lives in a module its ``build`` and form functions import when called).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    import torch
    from torch import nn

# A state_dict as read from a file: parameter name -> tensor.
State = Mapping[str, "torch.Tensor"]
# int8 calibration: the input range (lo, hi) of each quantised convolution, by module name.
Ranges = Mapping[str, tuple[float, float]]

# Far beyond any useful network (SRResNet: 16 blocks, 64 channels; ESRGAN: 23 blocks, 64
# features), far below a harmful allocation.
MAX_BLOCKS = 256
MAX_CHANNELS = 1024


class ArchError(ValueError):
    """A state_dict or config that does not fit an architecture: one sentence, without the file's
    name (the model-file loader adds it)."""


class NetworkConfig(Protocol):
    """A network's hyper-parameters: a dataclass with at least ``scale`` and ``to_dict``."""

    @property
    def scale(self) -> int: ...

    def to_dict(self) -> dict[str, int]: ...


ConfigT = TypeVar("ConfigT", bound=NetworkConfig)


class StripNetwork(Protocol):
    """A network whose reconstruction can run in row strips (see ``Strips``)."""

    def features(self, x: torch.Tensor) -> torch.Tensor: ...

    def reconstruct(self, features: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class Strips:
    """The network (in its fast form, if it has one) splits into ``features`` (the trunk, at
    1/``upscale`` of the output resolution) and ``reconstruct``; an output row depends on feature
    rows at most ``halo`` away, so the memory-heavy reconstruction runs in exact row strips."""

    upscale: int  # output pixels per feature pixel
    halo: int  # feature rows of context on each side of a strip
    bytes_per_px: int  # peak fp32 bytes per feature pixel of a strip


@dataclass(frozen=True)
class Int8Form:
    """``--precision int8``: the fast form with int8 convolutions, how to calibrate it, and whether
    this torch build has the kernels it runs on."""

    quantize: Callable[[nn.Module, Ranges], nn.Module]  # (fast form, ranges) -> int8 network
    # (fast form, (1, 3, h, w) images in [0, 1]) -> ranges, measured in fp32
    calibrate: Callable[[nn.Module, Iterable[torch.Tensor]], dict[str, tuple[float, float]]]
    available: Callable[[], bool]  # the int8 kernels ``quantize``'s network calls exist in this build


def _same(state: State) -> State:
    return state


def _one(config: Any) -> int:
    return 1


def _no_strips(config: Any) -> Strips | None:
    return None


@dataclass(frozen=True)
class ArchSpec(Generic[ConfigT]):
    """One architecture. Functions take the architecture's own config (``config_type``).

    Files: ``recognise`` tells its state_dicts (after ``normalise`` has put another key layout of
    the same network into its module names), ``infer`` reads the hyper-parameters from the tensors'
    shapes, ``check`` refuses a config no real model has (one ``ArchError`` sentence), ``build``
    makes the network. ``build`` gets the file's (normalised) tensors too, for a network that a
    third-party loader makes from a state_dict; it must allocate through torch's default device,
    because the loader first calls it under ``torch.device("meta")`` to compare the network's
    shapes with the file's before anything real is allocated.

    Inference: ``tile_context`` LR pixels around each tile (``tile_exact``: tiles then equal the
    whole-image pass; otherwise the margin is a measured width and the blend hides the rest),
    ``tile_bytes_per_px`` peak fp32 activation bytes per LR pixel of a tile, ``input_multiple``
    (input sides are edge-padded to a multiple of it), ``strips`` (strip-wise reconstruction, if
    any), ``fast`` (an inference form equal to the network in eval mode, e.g. BatchNorm folded;
    used for upscaling and ONNX export), ``int8``, ``half_precision`` (fp16/bf16 allowed) and
    ``blendable`` (``--strength`` may interpolate two files of it).
    """

    name: str  # stored in srgan's files ("arch" metadata) and shown to users
    title: str  # what users call it
    config_type: type[ConfigT]
    scales: tuple[int, ...]
    recognise: Callable[[State], bool]
    infer: Callable[[State], ConfigT]
    check: Callable[[ConfigT], None]
    build: Callable[[ConfigT, State], nn.Module]
    tile_context: Callable[[ConfigT], int]
    tile_exact: bool
    tile_bytes_per_px: Callable[[ConfigT], int]
    normalise: Callable[[State], State] = _same
    input_multiple: Callable[[ConfigT], int] = _one
    strips: Callable[[ConfigT], Strips | None] = _no_strips
    fast: Callable[[nn.Module], nn.Module] | None = None
    int8: Int8Form | None = None
    half_precision: bool = True
    blendable: bool = True
    # A network a third-party loader builds and fills from a state_dict in one step (the zoo extra):
    # ``load(state)`` is its recognition, the third-party detection run once: None when it finds
    # nothing, else the call that builds and fills the network (``detect`` asks it instead of
    # ``recognise``). The model-file loader makes that call instead of infer/build and the name
    # comparison, after the declared-size and NaN checks, and passes its config through ``checked``;
    # the call must bound what it allocates by what the state holds.
    load: Callable[[State], Callable[[], tuple[ConfigT, nn.Module]] | None] | None = None
    exportable: bool = True  # srgan can write it as its own safetensors/ONNX file (integer config)

    def owns(self, config: object) -> bool:
        return type(config) is self.config_type

    @property
    def precisions(self) -> tuple[str, ...]:
        """The precisions this architecture runs in, beyond fp32 and auto."""
        return (*(("bf16", "fp16") if self.half_precision else ()), *(("int8",) if self.int8 else ()))

    def config_from(self, raw: object) -> ConfigT:
        """The config from a file's stored mapping: known keys, integer values, then ``check``."""
        fields = {f.name for f in dataclasses.fields(self.config_type)}  # type: ignore[arg-type]
        if not isinstance(raw, dict):
            raise ArchError(f"its {self.name} config is not a mapping")
        unknown = sorted(set(map(str, raw)) - fields)
        if unknown:
            raise ArchError(f"unknown {self.name} setting(s) {', '.join(unknown)} (known: {', '.join(sorted(fields))})")
        if any(not isinstance(v, int) or isinstance(v, bool) for v in raw.values()):
            raise ArchError(f"network settings must be integers, got {raw}")
        config = self.config_type(**raw)
        self.checked(config)
        return config

    def checked(self, config: ConfigT) -> ConfigT:
        """``config`` if its scale is one of ``scales`` and ``check`` accepts it."""
        if config.scale not in self.scales:
            raise ArchError(f"scale {config.scale} is not one of {self.scales}")
        self.check(config)
        return config


def check_shape(blocks: int, noun: str, widths: Iterable[int], channels: Iterable[int]) -> None:
    """The range check every architecture shares: 1..MAX_BLOCKS ``noun``, widths in 1..MAX_CHANNELS,
    RGB in and out."""
    widths = tuple(widths)
    if not 1 <= blocks <= MAX_BLOCKS:
        raise ArchError(f"{blocks} {noun} is outside 1..{MAX_BLOCKS}")
    if not all(1 <= w <= MAX_CHANNELS for w in widths):
        raise ArchError(f"{max(widths)} channels is outside 1..{MAX_CHANNELS}")
    found = set(channels)
    if found != {3}:
        raise ArchError(f"a network for {min(found)}-channel images (srgan upscales RGB)")


# What the registry holds: a spec of some architecture's config.
AnySpec = ArchSpec[Any]


def declared_bytes(state: State) -> int:
    """Bytes the state's tensors declare (a ``.pth`` can declare a huge tensor over a small storage)."""
    return sum(t.numel() * t.element_size() for t in state.values())


def first_non_finite(state: State) -> str | None:
    """The name of the first floating-point tensor holding a NaN or an infinity, or None."""
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            return name
    return None
