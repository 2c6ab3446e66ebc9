"""Discriminators: SRGAN's VGG-style network (Ledig et al., 2017, Fig. 4) and Real-ESRGAN's U-Net
(Wang et al., 2021) with per-pixel realness. Both return logits and their intermediate features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from srgan.schema import D_ARCHS as D_ARCHS
from srgan.schema import DiscriminatorConfig as DiscriminatorConfig

# (out_channels, stride) of the seven conv-BN-LeakyReLU blocks after the first conv.
_BLOCKS = ((64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 2))


def _check_size(x: torch.Tensor) -> None:
    if x.shape[-1] < 16 or x.shape[-2] < 16:
        raise ValueError(f"the discriminator needs images of at least 16x16 pixels, got {tuple(x.shape[-2:])}")


class Discriminator(nn.Module):
    """Judges whether an RGB image in [0, 1] is a real HR image.

    Returns one logit per image, shape (N,). Apply ``torch.sigmoid`` only to show a
    probability; the losses use BCE-with-logits for numerical stability. Global average
    pooling (as in the paper's Fig. 4 with 1x1 "dense" convs) makes any input of at least
    16x16 pixels valid.
    """

    def __init__(
        self, in_channels: int = 3, base_channels: int = 64, spectral: bool = False, batch_norm: bool = True
    ) -> None:
        """``base_channels`` scales every width (64 is the paper; smaller is for quick tests)."""
        super().__init__()
        sn = spectral_norm if spectral else (lambda m: m)
        layers: list[nn.Module] = [sn(nn.Conv2d(in_channels, base_channels, 3, padding=1)), nn.LeakyReLU(0.2)]
        c_in = base_channels
        for c_out, stride in _BLOCKS:
            c_out = max(c_out * base_channels // 64, 1)
            layers.append(sn(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=not batch_norm)))
            if batch_norm:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            sn(nn.Conv2d(c_in, c_in * 2, 1)),
            nn.LeakyReLU(0.2),
            sn(nn.Conv2d(c_in * 2, 1, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[0]

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and the activations after each LeakyReLU of the feature stack."""
        _check_size(x)
        # The paper's D sees HR images scaled to [-1, 1]; the package contract is [0, 1].
        h = x * 2.0 - 1.0
        features = []
        for layer in self.features:
            h = layer(h)
            if isinstance(layer, nn.LeakyReLU):
                features.append(h)
        return self.classifier(h).flatten(), features


class UNetDiscriminator(nn.Module):
    """A U-Net with spectral normalisation that returns a realness logit per pixel, shape (N, 1, H, W)
    (Real-ESRGAN's discriminator): three stride-2 encoder convs, a bilinear decoder with skip
    connections, two refining convs. Per-pixel judgement gives G a local signal: a grid in one
    corner of the sky is flagged there, not averaged away over the image."""

    def __init__(self, in_channels: int = 3, base_channels: int = 64) -> None:
        super().__init__()
        c = base_channels
        self.conv0 = nn.Conv2d(in_channels, c, 3, padding=1)
        self.down = nn.ModuleList(
            [
                spectral_norm(nn.Conv2d(a, b, 4, 2, 1, bias=False))
                for a, b in ((c, 2 * c), (2 * c, 4 * c), (4 * c, 8 * c))
            ]
        )
        self.up = nn.ModuleList(
            [
                spectral_norm(nn.Conv2d(a, b, 3, 1, 1, bias=False))
                for a, b in ((8 * c, 4 * c), (4 * c, 2 * c), (2 * c, c))
            ]
        )
        self.refine = nn.ModuleList([spectral_norm(nn.Conv2d(c, c, 3, 1, 1, bias=False)) for _ in range(2)])
        self.out = nn.Conv2d(c, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[0]

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        _check_size(x)
        if x.shape[-1] % 8 or x.shape[-2] % 8:
            raise ValueError(f"the U-Net discriminator needs sides divisible by 8, got {tuple(x.shape[-2:])}")
        h = F.leaky_relu(self.conv0(x * 2.0 - 1.0), 0.2)
        skips, features = [h], [h]
        for conv in self.down:
            h = F.leaky_relu(conv(h), 0.2)
            skips.append(h)
            features.append(h)
        skips.pop()
        for conv in self.up:
            h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
            h = F.leaky_relu(conv(h), 0.2) + skips.pop()
            features.append(h)
        for conv in self.refine:
            h = F.leaky_relu(conv(h), 0.2)
        return self.out(h), features


def build_discriminator(config: DiscriminatorConfig) -> Discriminator | UNetDiscriminator:
    if config.arch not in D_ARCHS:
        raise ValueError(f"discriminator arch must be one of {', '.join(D_ARCHS)}; got {config.arch!r}")
    if config.channels < 1:
        raise ValueError(f"discriminator channels must be positive; got {config.channels}")
    if config.arch == "unet":
        return UNetDiscriminator(base_channels=config.channels)
    return Discriminator(base_channels=config.channels, spectral=config.spectral_norm, batch_norm=config.batch_norm)
