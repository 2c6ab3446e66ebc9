"""SRResNet, srgan's own generator (Ledig et al., 2017): its config and its ``ArchSpec``.

The network is in ``network`` (``Generator``, what training trains), its inference form with
BatchNorm folded and a half-resolution tail in ``fast`` (``FastGenerator``), and that form with
int8 convolutions in ``quantized`` (``QuantizedGenerator``, ``--precision int8``). This module
loads no torch: the spec's functions import those when they are called.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from srgan.archs.base import ArchError, ArchSpec, Int8Form, Ranges, State, Strips, check_shape
from srgan.runtime import SRGAN_SCALES

if TYPE_CHECKING:
    import torch
    from torch import nn

# The x2 PixelShuffle blocks make the scale a power of two.
SUPPORTED_SCALES = SRGAN_SCALES
# Reach of the fast form's reconstruction in LR rows: 3x3 convs at 1x, 2x, 4x (1, 0.5, 0.25) and
# the 5x5 phase tail at half the output resolution (at most 1): under 3 for every supported scale.
RECONSTRUCT_HALO = 3


@dataclass
class GeneratorConfig:
    """Everything needed to rebuild a generator; embedded in every export, and the ``model``
    section of the training configuration."""

    scale: int = 4
    num_blocks: int = 16
    channels: int = 64
    in_channels: int = 3

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def receptive_radius(config: GeneratorConfig) -> int:
    """How many LR pixels away an output pixel can still see (used to size tile overlaps).

    head 9x9 (4), two 3x3 per block (2 each), body tail 3x3 (1), one 3x3 per upsampler at
    growing resolution (1 LR pixel or less each), 9x9 tail at HR (4 / scale LR pixels).
    """
    n_up = int(math.log2(config.scale))
    return 4 + 2 * config.num_blocks + 1 + n_up + math.ceil(4 / config.scale)


def recognise(state: State) -> bool:
    return "head.0.weight" in state and any(k.startswith("upsample.") for k in state)


def infer(state: State) -> GeneratorConfig:
    """The generator's shape from a state_dict's keys and tensor shapes."""
    head = state["head.0.weight"]
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"body\.(\d+)\.", k))}
    ups = {int(m.group(1)) for k in state if (m := re.match(r"upsample\.(\d+)\.", k))}
    if not blocks or head.dim() != 4:
        raise ArchError("an SRResNet state_dict without residual blocks")
    return GeneratorConfig(
        scale=2 ** len(ups), num_blocks=len(blocks), channels=head.shape[0], in_channels=head.shape[1]
    )


def check(config: GeneratorConfig) -> None:
    check_shape(config.num_blocks, "residual blocks", (config.channels,), (config.in_channels,))


def build(config: GeneratorConfig, state: State | None = None) -> nn.Module:
    from srgan.archs.srresnet.network import Generator

    return Generator.from_config(config)


def fast(network: nn.Module) -> nn.Module:
    """BatchNorm folded and the tail at half resolution; a network already in an inference form
    (a ``FastGenerator`` or ``QuantizedGenerator`` handed to ``Upscaler``) is kept as it is."""
    from srgan.archs.srresnet.fast import FastGenerator
    from srgan.archs.srresnet.network import Generator

    return FastGenerator(network) if isinstance(network, Generator) else network


def strips(config: GeneratorConfig) -> Strips:
    # the last upsampler's 4x-channel output and its PReLU copy at (scale/2)^2 pixels per LR pixel
    return Strips(config.scale, RECONSTRUCT_HALO, 4 * config.channels * 4 * 2 * (config.scale // 2) ** 2)


def tile_bytes_per_px(config: GeneratorConfig) -> int:
    # the trunk keeps about six 64-channel maps alive; the reconstruction runs in bounded strips
    return 4 * config.channels * 6


def _quantize(fast_form: nn.Module, ranges: Ranges) -> nn.Module:
    from srgan.archs.srresnet.fast import FastGenerator
    from srgan.archs.srresnet.quantized import QuantizedGenerator

    assert isinstance(fast_form, FastGenerator)
    return QuantizedGenerator(fast_form, ranges)


def _calibrate(fast_form: nn.Module, images: Iterable[torch.Tensor]) -> dict[str, tuple[float, float]]:
    from srgan.archs.srresnet.fast import FastGenerator
    from srgan.archs.srresnet.quantized import calibrate

    assert isinstance(fast_form, FastGenerator)
    return calibrate(fast_form, images)


def _int8_available() -> bool:
    from srgan.archs.srresnet import quantized

    return quantized.int8_available()


SRRESNET: ArchSpec[GeneratorConfig] = ArchSpec(
    name="srresnet",
    title="srgan SRResNet",
    config_type=GeneratorConfig,
    scales=SUPPORTED_SCALES,
    recognise=recognise,
    infer=infer,
    check=check,
    build=build,
    tile_context=receptive_radius,
    tile_exact=True,
    tile_bytes_per_px=tile_bytes_per_px,
    strips=strips,
    fast=fast,
    int8=Int8Form(quantize=_quantize, calibrate=_calibrate, available=_int8_available),
)
