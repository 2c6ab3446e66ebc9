"""SRVGGNetCompact, Real-ESRGAN's small network: its config and its ``ArchSpec``.

The network is in ``network`` (``SRVGGNetCompact``, BasicSR's ``body.N`` names). This module
loads no torch.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from srgan.archs.base import ArchError, ArchSpec, State, check_shape

if TYPE_CHECKING:
    from torch import nn

COMPACT_SCALES = (1, 2, 3, 4, 8)


@dataclass(frozen=True)
class CompactConfig:
    """SRVGGNetCompact's shape (PReLU activations, the published models' choice)."""

    scale: int = 4
    num_conv: int = 16
    features: int = 64
    in_channels: int = 3
    out_channels: int = 3

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def receptive_radius(self) -> int:
        """LR pixels an output pixel can see: one per 3x3 conv (num_conv + 2 of them)."""
        return self.num_conv + 2


def recognise(state: State) -> bool:
    return "body.0.weight" in state and all(re.fullmatch(r"body\.\d+\.(weight|bias)", k) for k in state)


def infer(state: State) -> CompactConfig:
    indices = sorted({int(k.split(".")[1]) for k in state})
    convs = [i for i in indices if state[f"body.{i}.weight"].dim() == 4]
    prelus = [i for i in indices if state[f"body.{i}.weight"].dim() == 1]
    if convs != list(range(0, 2 * len(convs), 2)) or prelus != [i + 1 for i in convs[:-1]]:
        raise ArchError(
            "an SRVGGNetCompact without PReLU after every conv (ReLU and LeakyReLU variants cannot be told "
            "apart from the weights, so only the published PReLU form is read)"
        )
    first, last = state["body.0.weight"], state[f"body.{convs[-1]}.weight"]
    channels = first.shape[1]
    scale = math.isqrt(last.shape[0] // channels)
    if channels * scale**2 != last.shape[0]:
        raise ArchError(f"an SRVGGNetCompact whose last conv has {last.shape[0]} outputs for {channels} channels")
    return CompactConfig(
        scale=scale, num_conv=len(convs) - 2, features=first.shape[0], in_channels=channels, out_channels=channels
    )


def check(config: CompactConfig) -> None:
    check_shape(config.num_conv + 2, "convolutions", (config.features,), (config.in_channels, config.out_channels))


def build(config: CompactConfig, state: State | None = None) -> nn.Module:
    from srgan.archs.compact.network import SRVGGNetCompact

    return SRVGGNetCompact(config)


def tile_bytes_per_px(config: CompactConfig) -> int:
    # three feature maps in the trunk; the last conv's, the shuffled and the upsampled image
    return 4 * (3 * config.features + 3 * config.out_channels * config.scale**2)


COMPACT: ArchSpec[CompactConfig] = ArchSpec(
    name="compact",
    title="Real-ESRGAN SRVGGNetCompact",
    config_type=CompactConfig,
    scales=COMPACT_SCALES,
    recognise=recognise,
    infer=infer,
    check=check,
    build=build,
    tile_context=CompactConfig.receptive_radius,
    tile_exact=True,
    tile_bytes_per_px=tile_bytes_per_px,
)
