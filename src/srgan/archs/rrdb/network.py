"""RRDBNet, the generator of ESRGAN (Wang et al., 2018) and Real-ESRGAN (Wang et al., 2021).

SRGAN's direct successor: the SRResNet trunk with BatchNorm removed and each residual block
replaced by a residual-in-residual dense block (three dense blocks of five 3x3 convs, LeakyReLU
0.2, every conv seeing the concatenation of all earlier outputs; each dense block and each RRDB
adds 0.2 x its output to its input). Upsampling is nearest x2 then a 3x3 conv, once per octave,
so it draws no PixelShuffle checkerboard.

Module names follow BasicSR, so the published weights load as they are. Real-ESRGAN's x2 and x1
models first pixel-unshuffle the input (by 2 or 4) and keep the two x2 upsamplers of the x4
network; older ESRGAN x2 / x8 models instead have one / three upsamplers and no unshuffle. Both
are described by ``unshuffle`` and ``scale``: the network has log2(scale * unshuffle) upsamplers.

Value range: RGB in [0, 1] in and out, like srgan's own generator (the published weights were
trained on that range).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srgan.archs.rrdb import RRDB_SCALES, RRDBConfig


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class DenseBlock(nn.Module):
    """Five 3x3 convs, each on the concatenation of the input and all earlier outputs."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, growth, 3, padding=1)
        self.conv2 = nn.Conv2d(features + growth, growth, 3, padding=1)
        self.conv3 = nn.Conv2d(features + 2 * growth, growth, 3, padding=1)
        self.conv4 = nn.Conv2d(features + 3 * growth, growth, 3, padding=1)
        self.conv5 = nn.Conv2d(features + 4 * growth, features, 3, padding=1)
        self.act = _lrelu()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.act(self.conv1(x))
        x2 = self.act(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.act(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.act(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Residual in residual dense block: three dense blocks, scaled by 0.2, plus the identity."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.rdb1 = DenseBlock(features, growth)
        self.rdb2 = DenseBlock(features, growth)
        self.rdb3 = DenseBlock(features, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """conv_first, RRDB trunk + conv_body with a long skip, nearest x2 + conv per octave,
    conv_hr, conv_last."""

    def __init__(self, config: RRDBConfig) -> None:
        super().__init__()
        if config.scale not in RRDB_SCALES or config.unshuffle not in (1, 2, 4) or config.upsamples < 0:
            raise ValueError(f"unsupported RRDBNet shape {config}")
        self.config = config
        f = config.features
        self.conv_first = nn.Conv2d(config.in_channels * config.unshuffle**2, f, 3, padding=1)
        self.body = nn.Sequential(*(RRDB(f, config.growth) for _ in range(config.num_blocks)))
        self.conv_body = nn.Conv2d(f, f, 3, padding=1)
        # conv_up1, conv_up2, ...: BasicSR's names, set as attributes so the state_dict keys match
        for i in range(config.upsamples):
            self.add_module(f"conv_up{i + 1}", nn.Conv2d(f, f, 3, padding=1))
        self.conv_hr = nn.Conv2d(f, f, 3, padding=1)
        self.conv_last = nn.Conv2d(f, config.out_channels, 3, padding=1)
        self.act = _lrelu()

    @property
    def scale(self) -> int:
        return self.config.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reconstruct(self.features(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk: image -> features at 1/unshuffle resolution (with the long skip)."""
        feat = F.pixel_unshuffle(x, self.config.unshuffle) if self.config.unshuffle > 1 else x
        feat = self.conv_first(feat)
        return feat + self.conv_body(self.body(feat))

    def reconstruct(self, feat: torch.Tensor) -> torch.Tensor:
        """Upsamplers, conv_hr and conv_last: features -> the SR image. An output row depends on
        feature rows at most RRDB_RECONSTRUCT_HALO away, so it can run in row strips."""
        for i in range(self.config.upsamples):
            up = getattr(self, f"conv_up{i + 1}")
            feat = self.act(up(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.act(self.conv_hr(feat)))
