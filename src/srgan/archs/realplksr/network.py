"""RealPLKSR: PLKSR (Lee et al., "Partial Large Kernel CNNs for Efficient Super-Resolution", 2024)
as the community trains it for real-world images (neosr's ``realplksr``), optionally with the
DySample upsampler (Liu et al., "Learning to Upsample by Learning to Sample", ICCV 2023).

The trunk is a 3x3 conv to ``dim`` channels, ``blocks`` PLK blocks and a 3x3 conv to 3 x scale^2
channels; the input, repeated scale^2 times along the channels, is added before the upsampler (a
nearest-neighbour residual in pixel-shuffle order). A PLK block, with a skip around it:
    [LayerNorm over channels] -> 3x3 conv to 2 x dim, Mish, 3x3 conv back (the channel mixer)
    -> a large (``kernel`` x ``kernel``) conv on the first ``partial`` channels only
    -> x * sigmoid(3x3 conv(x)) (element-wise attention, when present)
    -> 1x1 conv -> [GroupNorm(4) when there is no LayerNorm].
The upsampler is PixelShuffle, or DySample: a 1x1 conv predicts, for each output sub-pixel, an
offset (scaled by a sigmoid gate and 1/2) from its base position; the features are sampled there
bilinearly (border-clamped), in groups, then a 1x1 conv maps them to RGB.

GroupNorm normalises over the whole picture, so a tiled pass of a GroupNorm file is not exact
(srgan gives tiles blended context; docs/models.md has the measured difference); the LayerNorm
variant is per pixel. Module names follow the published files (``feats.N...``, ``to_img...``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srgan.archs.realplksr import NORM_GROUPS, PLKSR_SCALES, RealPLKSRConfig


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of an (N, C, H, W) map, per pixel."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).square().mean(1, keepdim=True)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight[:, None, None] + self.bias[:, None, None]


class PartialConv(nn.Module):
    """A large-kernel conv over the first ``channels`` channels; the rest pass through."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel, padding=kernel // 2)
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x[:, : self.channels]), x[:, self.channels :]], 1)


class Attention(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(dim, dim, 3, padding=1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.f(x)


class PLKBlock(nn.Module):
    def __init__(self, config: RealPLKSRConfig) -> None:
        super().__init__()
        d = config.dim
        self.layer_norm: nn.Module = ChannelLayerNorm(d) if config.layer_norm else nn.Identity()
        self.channel_mixer = nn.Sequential(
            nn.Conv2d(d, 2 * d, 3, padding=1), nn.Mish(), nn.Conv2d(2 * d, d, 3, padding=1)
        )
        self.lk = PartialConv(config.partial, config.kernel)
        self.attn: nn.Module = Attention(d) if config.attention else nn.Identity()
        self.refine = nn.Conv2d(d, d, 1)
        self.norm: nn.Module = nn.Identity() if config.layer_norm else nn.GroupNorm(NORM_GROUPS, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.lk(self.channel_mixer(self.layer_norm(x)))
        return self.norm(self.refine(self.attn(y))) + x


class DySample(nn.Module):
    """Upsampling by learned sampling positions (point-sampling variant with a gated offset)."""

    def __init__(self, channels: int, out_channels: int, scale: int, groups: int) -> None:
        super().__init__()
        self.scale, self.groups = scale, groups
        if scale != 1:
            self.end_conv = nn.Conv2d(channels, out_channels, 1)
        self.offset = nn.Conv2d(channels, 2 * groups * scale**2, 1)
        self.scope = nn.Conv2d(channels, 2 * groups * scale**2, 1, bias=False)
        # each sub-pixel's base position relative to its LR pixel centre, (x, y) pairs per group
        steps = (torch.arange(scale) - (scale - 1) / 2) / scale
        grid = torch.stack(torch.meshgrid(steps, steps, indexing="ij")).transpose(1, 2)
        self.register_buffer("init_pos", grid.repeat(1, groups, 1).reshape(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        s = self.scale
        offset = self.offset(x) * torch.sigmoid(self.scope(x)) * 0.5 + self.init_pos.to(x.dtype)
        offset = offset.view(n, 2, -1, h, w)
        ys = torch.arange(h, device=x.device, dtype=x.dtype) + 0.5
        xs = torch.arange(w, device=x.device, dtype=x.dtype) + 0.5
        base = torch.stack([xs.view(1, w).expand(h, w), ys.view(h, 1).expand(h, w)]).view(1, 2, 1, h, w)
        # the picture's size as a tensor computed from the input (not a constant), so an ONNX export
        # normalises by each input's own size
        size = (torch.stack([xs[-1], ys[-1]]) + 0.5).view(1, 2, 1, 1, 1)
        coords = 2 * (base + offset) / size - 1  # grid_sample's [-1, 1] with align_corners=False
        coords = F.pixel_shuffle(coords.reshape(n, -1, h, w), s).view(n, 2, -1, s * h, s * w)
        coords = coords.permute(0, 2, 3, 4, 1).reshape(n * self.groups, s * h, s * w, 2)
        sampled = F.grid_sample(
            x.reshape(n * self.groups, c // self.groups, h, w),
            coords,
            mode="bilinear",
            padding_mode="border",
            align_corners=False,
        ).view(n, c, s * h, s * w)
        return self.end_conv(sampled) if s != 1 else sampled


class RealPLKSR(nn.Module):
    def __init__(self, config: RealPLKSRConfig) -> None:
        super().__init__()
        if config.scale not in PLKSR_SCALES:
            raise ValueError(f"scale must be one of {PLKSR_SCALES}, got {config.scale}")
        self.config = config
        s2 = config.scale**2
        layers: list[nn.Module] = [nn.Conv2d(config.in_channels, config.dim, 3, padding=1)]
        layers += [PLKBlock(config) for _ in range(config.blocks)]
        layers += [nn.Identity(), nn.Conv2d(config.dim, config.out_channels * s2, 3, padding=1)]  # Identity: dropout
        self.feats = nn.Sequential(*layers)
        self.to_img: nn.Module
        if config.dysample:
            groups = config.out_channels if config.scale % 2 else 4
            self.to_img = DySample(config.in_channels * s2, config.out_channels, config.scale, groups)
        else:
            self.to_img = nn.PixelShuffle(config.scale)

    @property
    def scale(self) -> int:
        return self.config.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s2 = self.config.scale**2
        return self.to_img(self.feats(x) + x.repeat_interleave(s2, dim=1))
