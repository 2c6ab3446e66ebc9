"""The SRResNet generator of SRGAN (Ledig et al., 2017, Fig. 4).

Value-range contract (the whole package uses it): the generator takes RGB in [0, 1] and
returns RGB in [0, 1] (a linear output, clamped only when converted to an image). The paper
feeds LR in [0, 1] and emits HR in [-1, 1] through tanh; that is the affine map y -> (y + 1) / 2
away, and a linear output avoids tanh saturation slowing the pixel-loss stage.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from srgan.archs.srresnet import SUPPORTED_SCALES, GeneratorConfig


class ResidualBlock(nn.Module):
    """conv3x3 - BN - PReLU - conv3x3 - BN, plus the identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.act = nn.PReLU(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))


class UpsampleBlock(nn.Module):
    """conv3x3 to 4x channels, PixelShuffle(2), PReLU: doubles height and width."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels * 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)))


class Generator(nn.Module):
    """SRResNet: with the defaults exactly the paper's 16-block network (1,550,659 parameters).

    PReLU slopes are per channel, as in the paper's reference implementations.
    """

    def __init__(self, scale: int = 4, num_blocks: int = 16, channels: int = 64, in_channels: int = 3) -> None:
        super().__init__()
        if scale not in SUPPORTED_SCALES:
            raise ValueError(f"scale must be one of {SUPPORTED_SCALES}, got {scale}")
        if num_blocks < 1 or channels < 1:
            raise ValueError("num_blocks and channels must be positive")
        self.config = GeneratorConfig(scale, num_blocks, channels, in_channels)
        self.head = nn.Sequential(nn.Conv2d(in_channels, channels, 9, padding=4), nn.PReLU(channels))
        self.body = nn.Sequential(*(ResidualBlock(channels) for _ in range(num_blocks)))
        self.body_tail = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels))
        self.upsample = nn.Sequential(*(UpsampleBlock(channels) for _ in range(int(math.log2(scale)))))
        self.tail = nn.Conv2d(channels, in_channels, 9, padding=4)

    @property
    def scale(self) -> int:
        return self.config.scale

    @classmethod
    def from_config(cls, config: GeneratorConfig) -> Generator:
        return cls(config.scale, config.num_blocks, config.channels, config.in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 3, h, w) in [0, 1]; returns (N, 3, scale*h, scale*w), nominally in [0, 1]."""
        head = self.head(x)
        features = head + self.body_tail(self.body(head))
        return self.tail(self.upsample(features))
