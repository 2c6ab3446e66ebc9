"""Shared behaviour of the frozen perceptual feature networks (VGG19, SqueezeNet)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srgan.models.weights import WeightsError


def _stride(layer: nn.Module) -> int:
    if isinstance(layer, nn.MaxPool2d | nn.Conv2d):
        stride = layer.stride
        return int(stride[0] if isinstance(stride, tuple) else stride)
    return 1


class BlurPool(nn.Module):
    """Binomial [1, 2, 1] x [1, 2, 1] / 16 low-pass per channel, then keep every ``stride``-th pixel."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride
        taps = torch.tensor([1.0, 2.0, 1.0])
        self.kernel: torch.Tensor
        self.register_buffer("kernel", (taps[:, None] * taps[None, :] / 16.0)[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = self.kernel.to(x.dtype).expand(x.shape[1], 1, 3, 3)
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), kernel, stride=self.stride, groups=x.shape[1])


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

    def antialias(self) -> None:
        """Replace every strided max-pool or convolution in ``features`` by its stride-1 form followed
        by a binomial blur and the subsampling (Zhang, ICML 2019, "Making convolutional networks
        shift-invariant again"). The weights stay ImageNet's; the network stops aliasing fine detail
        into its coarse features, so a loss on them cannot reward a pattern on the generator's
        sub-pixel lattice that the plain network sees only through aliasing."""
        layers = []
        for layer in self.features:
            stride = _stride(layer)
            if stride == 1:
                layers.append(layer)
                continue
            if isinstance(layer, nn.MaxPool2d):
                layers += [nn.MaxPool2d(layer.kernel_size, 1, layer.padding), BlurPool(stride)]
            else:  # a strided Conv2d: the blur of a linear map is linear, so blur after it
                assert isinstance(layer, nn.Conv2d)
                layer.stride = (1, 1)
                layers += [layer, BlurPool(stride)]
        self.features = nn.Sequential(*layers)
        self.freeze()

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
