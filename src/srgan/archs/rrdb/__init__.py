"""RRDBNet, the generator of ESRGAN and Real-ESRGAN: its config, its key layouts and its ``ArchSpec``.

The network is in ``network`` (``RRDBNet``, BasicSR's module names). Files come in BasicSR's
layout (``conv_first``, ``body.N.rdb1.conv1``, ``conv_body``, ``conv_up1``, ...) or the original
ESRGAN repository's (``model.0``, ``model.1.sub.N.RDB1.conv1.0``, ...), which ``normalise`` reads
into BasicSR's names; the shape (blocks, features, scale, unshuffle) is inferred from the tensors'
shapes, so no file needs a side-car config. This module loads no torch.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from srgan.archs.base import ArchError, ArchSpec, State, Strips, check_shape

if TYPE_CHECKING:
    import torch
    from torch import nn

RRDB_SCALES = (1, 2, 4, 8)
# Reach of the reconstruction in feature rows: 3x3 convs at 2x (1/2), 4x (1/4), then conv_hr and
# conv_last at the output resolution (1/4 each for x4; less for x8): under 2 for every shape.
RRDB_RECONSTRUCT_HALO = 2
# Context (LR pixels) a tile needs for its kept pixels to match the whole-image pass within
# 1/255 on average: the formal receptive field (about 350 pixels for 23 blocks) is far wider
# than what the trained network actually uses (docs/models.md, "Community models").
RRDB_TILE_CONTEXT = 32


@dataclass(frozen=True)
class RRDBConfig:
    """RRDBNet's shape: everything a state_dict's keys and shapes tell."""

    scale: int = 4
    num_blocks: int = 23
    features: int = 64
    growth: int = 32
    in_channels: int = 3
    out_channels: int = 3
    unshuffle: int = 1  # the input pixel-unshuffle factor (Real-ESRGAN x2: 2, x1: 4)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def upsamples(self) -> int:
        return int(math.log2(self.scale * self.unshuffle))


def normalise(state: State) -> State:
    """``state`` in BasicSR's names (an original-ESRGAN file is renamed; others are returned as they are)."""
    if "model.0.weight" in state and any(k.startswith("model.1.sub.") for k in state):
        return _from_esrgan(state)
    return state


def _from_esrgan(state: State) -> State:
    """The original ESRGAN repository's names -> BasicSR's. Its network is one Sequential:
    model.0 conv_first; model.1 the trunk (sub.N the RRDBs, sub.<last> conv_body); then per
    octave Upsample, conv, LeakyReLU; then the HR conv, LeakyReLU, the last conv."""
    out: dict[str, torch.Tensor] = {}
    tail: dict[int, dict[str, torch.Tensor]] = {}
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"model\.1\.sub\.(\d+)\.RDB", k))}
    for key, value in state.items():
        if m := re.fullmatch(r"model\.0\.(weight|bias)", key):
            out[f"conv_first.{m.group(1)}"] = value
        elif m := re.fullmatch(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)", key):
            b, r, c, kind = m.groups()
            out[f"body.{b}.rdb{r}.conv{c}.{kind}"] = value
        elif m := re.fullmatch(r"model\.1\.sub\.(\d+)\.(weight|bias)", key):
            if int(m.group(1)) != len(blocks):
                raise ArchError(f"unexpected ESRGAN key {key}")
            out[f"conv_body.{m.group(2)}"] = value
        elif m := re.fullmatch(r"model\.(\d+)\.(weight|bias)", key):
            tail.setdefault(int(m.group(1)), {})[m.group(2)] = value
        else:
            raise ArchError(f"unexpected ESRGAN key {key}")
    order = sorted(tail)
    if len(order) < 2:
        raise ArchError("an ESRGAN file without its HR and last convolutions")
    names = [f"conv_up{i + 1}" for i in range(len(order) - 2)] + ["conv_hr", "conv_last"]
    for name, index in zip(names, order, strict=True):
        for kind, value in tail[index].items():
            out[f"{name}.{kind}"] = value
    return out


def recognise(state: State) -> bool:
    return "conv_first.weight" in state and any(k.startswith("body.0.rdb1.") for k in state)


def infer(state: State) -> RRDBConfig:
    first, last = state["conv_first.weight"], state["conv_last.weight"]
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"body\.(\d+)\.rdb1\.", k))}
    ups = sum(1 for k in state if re.fullmatch(r"conv_up\d+\.weight", k))
    out_channels = last.shape[0]
    unshuffle = math.isqrt(first.shape[1] // out_channels)
    if unshuffle not in (1, 2, 4) or first.shape[1] != out_channels * unshuffle**2:
        raise ArchError(f"an RRDBNet whose first conv takes {first.shape[1]} channels")
    if 2**ups % unshuffle:
        raise ArchError(f"an RRDBNet with {ups} upsamplers after a x{unshuffle} unshuffle")
    return RRDBConfig(
        scale=2**ups // unshuffle,
        num_blocks=len(blocks),
        features=first.shape[0],
        growth=state["body.0.rdb1.conv1.weight"].shape[0],
        in_channels=out_channels,
        out_channels=out_channels,
        unshuffle=unshuffle,
    )


def check(config: RRDBConfig) -> None:
    check_shape(
        config.num_blocks, "RRDB blocks", (config.features, config.growth), (config.in_channels, config.out_channels)
    )


def build(config: RRDBConfig, state: State | None = None) -> nn.Module:
    from srgan.archs.rrdb.network import RRDBNet

    return RRDBNet(config)


def strips(config: RRDBConfig) -> Strips:
    upscale = 2**config.upsamples
    # two feature maps alive at the output resolution (the upsampled input of a conv and its output)
    return Strips(upscale, RRDB_RECONSTRUCT_HALO, 4 * config.features * 3 * upscale**2)


def tile_bytes_per_px(config: RRDBConfig) -> int:
    # about ten feature maps in a dense block at the trunk's (unshuffled) resolution; the
    # upsamplers and HR convs run in bounded strips like SRResNet's reconstruction
    return 4 * config.features * max(10 // config.unshuffle**2, 1)


def input_multiple(config: RRDBConfig) -> int:
    """Input sides must be multiples of the pixel-unshuffle factor."""
    return config.unshuffle


def tile_context(config: RRDBConfig) -> int:
    return RRDB_TILE_CONTEXT


RRDB: ArchSpec[RRDBConfig] = ArchSpec(
    name="rrdb",
    title="ESRGAN / Real-ESRGAN RRDBNet",
    config_type=RRDBConfig,
    scales=RRDB_SCALES,
    recognise=recognise,
    infer=infer,
    check=check,
    build=build,
    normalise=normalise,
    tile_context=tile_context,
    tile_exact=False,
    tile_bytes_per_px=tile_bytes_per_px,
    input_multiple=input_multiple,
    strips=strips,
)
