"""SPAN (Swift Parameter-free Attention Network, Wan et al., CVPRW 2024): its config, how its files
are recognised and read, and its ``ArchSpec``.

The network is in ``network`` (the published files' module names; every Conv3XC folded into one 3x3
convolution at load). Six blocks; the feature width (48 or 52 published), the scale and the
``no_norm`` marker come from the tensors. The receptive radius is 21 LR pixels, so tiles are exact.
This module loads no torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from srgan.archs.base import ArchError, ArchSpec, State, check_shape

if TYPE_CHECKING:
    from torch import nn

SPAN_SCALES = (1, 2, 3, 4, 8)
SPAN_BLOCKS = 6
KEYS = ("conv_1.sk.weight", "block_1.c1_r.sk.weight", "block_1.c1_r.eval_conv.weight", "conv_cat.weight")


@dataclass(frozen=True)
class SPANConfig:
    """SPAN's shape: the feature width, the scale and whether the input is normalised."""

    scale: int = 4
    features: int = 48
    in_channels: int = 3
    out_channels: int = 3
    norm: int = 1  # 1: the input is (x - DIV2K mean) * 255 (published files); 0: used as it is

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def receptive_radius(self) -> int:
        """LR pixels an output pixel can see: one per 3x3 conv (the first, three per block, the
        one after the blocks and the upsampler's)."""
        return 1 + 3 * SPAN_BLOCKS + 1 + 1


def recognise(state: State) -> bool:
    return all(k in state for k in KEYS) and "upsampler.0.weight" in state


def infer(state: State) -> SPANConfig:
    first = state["conv_1.sk.weight"]
    channels = first.shape[1]
    out = state["upsampler.0.weight"].shape[0]
    scale = math.isqrt(out // channels) if out >= channels else 0
    if scale < 1 or channels * scale**2 != out:
        raise ArchError(f"a SPAN whose upsampler has {out} outputs for {channels} channels")
    return SPANConfig(
        scale=scale,
        features=first.shape[0],
        in_channels=channels,
        out_channels=channels,
        norm=int("no_norm" not in state),
    )


def check(config: SPANConfig) -> None:
    check_shape(SPAN_BLOCKS, "blocks", (config.features,), (config.in_channels, config.out_channels))


def build(config: SPANConfig, state: State | None = None) -> nn.Module:
    from srgan.archs.span.network import SPAN

    return SPAN(config)


def tile_bytes_per_px(config: SPANConfig) -> int:
    # four maps kept for the fusion, three alive in a block, the 4x-wide concatenation; the
    # upsampler's output before and after the shuffle
    return 4 * (11 * config.features + 2 * config.out_channels * config.scale**2)


SPAN: ArchSpec[SPANConfig] = ArchSpec(
    name="span",
    title="SPAN",
    config_type=SPANConfig,
    scales=SPAN_SCALES,
    recognise=recognise,
    infer=infer,
    check=check,
    build=build,
    tile_context=SPANConfig.receptive_radius,
    tile_exact=True,
    tile_bytes_per_px=tile_bytes_per_px,
)
