"""Shared behaviour of the frozen perceptual feature networks (VGG19, SqueezeNet)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srgan.models.weights import WeightsError


class FrozenFeatures(nn.Module):
    """A feature extractor whose weights never train: no grads, always in eval mode.

    Subclasses build ``self.features`` with torchvision's indices and implement ``preprocess``,
    which maps RGB in [0, 1] to what the network was trained on.

    ``input_upsample`` = k > 1 enlarges the input k times (bilinear) before the network. A
    network that starts with a stride-2 convolution (SqueezeNet) is nearly blind to period-2
    patterns: on ImageNet weights a pixel checkerboard moves fire9 ~500x less than a smooth
    change of the same energy, so a generator trained on that loss is free to draw a grid.
    At k = 2 the first convolution moves one input pixel per step and sees it (tested).
    """

    features: nn.Sequential
    input_upsample: int = 1

    def freeze(self) -> None:
        for p in self.parameters():
            p.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> FrozenFeatures:
        # Stays in eval mode whatever the trainer calls: its statistics are ImageNet's.
        return super().train(False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_upsample > 1:
            x = F.interpolate(x, scale_factor=self.input_upsample, mode="bilinear", align_corners=False)
        return self.features(self.preprocess(x))

    def load_features(self, state: dict[str, torch.Tensor], source: str) -> None:
        """Load the ``features.N.*`` entries this truncated network needs from a full state_dict."""
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        if missing:
            raise WeightsError(f"{source} lacks {len(missing)} expected entries such as {missing[0]!r}")
        for key, value in own.items():
            if state[key].shape != value.shape:
                raise WeightsError(
                    f"{source}: {key} has shape {tuple(state[key].shape)}, expected {tuple(value.shape)}"
                )
        self.load_state_dict({k: state[k] for k in own})
