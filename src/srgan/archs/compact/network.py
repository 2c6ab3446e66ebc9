"""SRVGGNetCompact, the small network of Real-ESRGAN's "realesr-animevideov3" and
"realesr-general-x4v3" models (Wang et al., 2021).

A plain stack at LR resolution: 3x3 conv + PReLU, ``num_conv`` more (3x3 conv + PReLU), a 3x3
conv to out_channels x scale^2, PixelShuffle(scale), plus the nearest-upsampled input: the
network only learns the residual over a nearest-neighbour enlargement. Module names follow
BasicSR (``body.N``), so the published weights load as they are. RGB in [0, 1] in and out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srgan.archs.compact import COMPACT_SCALES, CompactConfig


class SRVGGNetCompact(nn.Module):
    def __init__(self, config: CompactConfig) -> None:
        super().__init__()
        if config.scale not in COMPACT_SCALES:
            raise ValueError(f"scale must be one of {COMPACT_SCALES}, got {config.scale}")
        self.config = config
        f = config.features
        layers: list[nn.Module] = [nn.Conv2d(config.in_channels, f, 3, padding=1), nn.PReLU(f)]
        for _ in range(config.num_conv):
            layers += [nn.Conv2d(f, f, 3, padding=1), nn.PReLU(f)]
        layers.append(nn.Conv2d(f, config.out_channels * config.scale**2, 3, padding=1))
        self.body = nn.Sequential(*layers)
        self.upsampler = nn.PixelShuffle(config.scale)

    @property
    def scale(self) -> int:
        return self.config.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.upsampler(self.body(x))
        return out + F.interpolate(x, scale_factor=self.config.scale, mode="nearest")
