"""RealPLKSR (PLKSR, Lee et al. 2024, as neosr trains it for real-world images), with or without the
DySample upsampler: its config, how its files are recognised and read, and its ``ArchSpec``.

The network is in ``network`` (the published files' ``feats.N`` / ``to_img`` names). dim, blocks,
kernel, the partial channels, the attention, LayerNorm or GroupNorm and DySample come from the
tensors. Its reach is 11 LR pixels per block and GroupNorm normalises over the whole tile, so tiles
get a blended context (docs/zoo.md has the measured difference). This module loads no torch.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from srgan.archs.base import ArchError, ArchSpec, State, check_shape

if TYPE_CHECKING:
    from torch import nn

PLKSR_SCALES = (1, 2, 3, 4, 8)
NORM_GROUPS = 4  # the published files' GroupNorm groups (not recorded in the tensors)
MAX_KERNEL = 63  # the large kernel (published: 17)
# LR pixels of blended context per tile side (formal reach: 11 per block, over 300 in all)
REALPLKSR_TILE_CONTEXT = 48


@dataclass(frozen=True)
class RealPLKSRConfig:
    scale: int = 4
    dim: int = 64
    blocks: int = 28
    kernel: int = 17
    partial: int = 16  # channels the large kernel sees (dim x split ratio)
    attention: int = 1  # the element-wise attention is present
    layer_norm: int = 1  # LayerNorm before each block (else GroupNorm after it)
    dysample: int = 0  # the DySample upsampler (else PixelShuffle)
    in_channels: int = 3
    out_channels: int = 3

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def recognise(state: State) -> bool:
    # PLKSR's original (non-Real) files spell it "channe_mixer"; those go to the zoo extra
    return all(k in state for k in ("feats.0.weight", "feats.1.lk.conv.weight", "feats.1.channel_mixer.0.weight"))


def infer(state: State) -> RealPLKSRConfig:
    first, lk = state["feats.0.weight"], state["feats.1.lk.conv.weight"]
    layers = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"feats\.(\d+)\.", k)))
    channels = first.shape[1]
    out = state[f"feats.{layers - 1}.weight"].shape[0]
    scale = math.isqrt(out // channels) if out >= channels else 0
    if scale < 1 or channels * scale**2 != out:
        raise ArchError(f"a RealPLKSR whose last conv has {out} outputs for {channels} channels")
    return RealPLKSRConfig(
        scale=scale,
        dim=first.shape[0],
        blocks=layers - 3,  # the first conv, the blocks, the dropout (no weights), the last conv
        kernel=lk.shape[2],
        partial=lk.shape[0],
        attention=int("feats.1.attn.f.0.weight" in state),
        layer_norm=int("feats.1.layer_norm.weight" in state),
        dysample=int("to_img.init_pos" in state),
        in_channels=channels,
        out_channels=channels,
    )


def check(config: RealPLKSRConfig) -> None:
    check_shape(config.blocks, "PLK blocks", (config.dim,), (config.in_channels, config.out_channels))
    if not (1 <= config.partial <= config.dim and 1 <= config.kernel <= MAX_KERNEL and config.kernel % 2):
        raise ArchError(
            f"a {config.kernel}-pixel kernel over {config.partial} of {config.dim} channels is not a RealPLKSR shape "
            f"(odd kernels up to {MAX_KERNEL})"
        )
    if not config.layer_norm and config.dim % NORM_GROUPS:
        raise ArchError(f"{config.dim} channels do not split into RealPLKSR's {NORM_GROUPS} norm groups")


def build(config: RealPLKSRConfig, state: State | None = None) -> nn.Module:
    from srgan.archs.realplksr.network import RealPLKSR

    return RealPLKSR(config)


def tile_bytes_per_px(config: RealPLKSRConfig) -> int:
    s2 = config.scale**2
    # the block input, the 2x-wide mixer, its output and the attention's; the residual image;
    # DySample samples all 3 x s^2 channels at every one of the s^2 output sub-pixels
    upsample = 2 * config.out_channels * s2 * s2 + 16 * s2 if config.dysample else 2 * config.out_channels * s2
    return 4 * (8 * config.dim + upsample)


def tile_context(config: RealPLKSRConfig) -> int:
    return REALPLKSR_TILE_CONTEXT


REALPLKSR: ArchSpec[RealPLKSRConfig] = ArchSpec(
    name="realplksr",
    title="RealPLKSR (with or without DySample)",
    config_type=RealPLKSRConfig,
    scales=PLKSR_SCALES,
    recognise=recognise,
    infer=infer,
    check=check,
    build=build,
    tile_context=tile_context,
    tile_exact=False,
    tile_bytes_per_px=tile_bytes_per_px,
)
