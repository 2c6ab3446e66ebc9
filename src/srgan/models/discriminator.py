"""The SRGAN discriminator (Ledig et al., 2017, Fig. 4), returning logits."""

from __future__ import annotations

import torch
from torch import nn

# (out_channels, stride) of the seven conv-BN-LeakyReLU blocks after the first conv.
_BLOCKS = ((64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 2))


class Discriminator(nn.Module):
    """Judges whether an RGB image in [0, 1] is a real HR image.

    Returns one logit per image, shape (N,). Apply ``torch.sigmoid`` only to show a
    probability; the losses use BCE-with-logits for numerical stability. Global average
    pooling (as in the paper's Fig. 4 with 1x1 "dense" convs) makes any input of at least
    16x16 pixels valid.
    """

    def __init__(self, in_channels: int = 3, base_channels: int = 64) -> None:
        """``base_channels`` scales every width (64 is the paper; smaller is for quick tests)."""
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, base_channels, 3, padding=1), nn.LeakyReLU(0.2)]
        c_in = base_channels
        for c_out, stride in _BLOCKS:
            c_out = max(c_out * base_channels // 64, 1)
            layers += [
                nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2),
            ]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(c_in, c_in * 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c_in * 2, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] < 16 or x.shape[-2] < 16:
            raise ValueError(
                f"the discriminator needs images of at least 16x16 pixels, got {tuple(x.shape[-2:])}"
            )
        # The paper's D sees HR images scaled to [-1, 1]; the package contract is [0, 1].
        return self.classifier(self.features(x * 2.0 - 1.0)).flatten()
