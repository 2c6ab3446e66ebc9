"""SqueezeNet v1.0 ``features`` in plain torch.nn, with torchvision's ``squeezenet1_0`` layout.

Used as a light perceptual backbone. The ImageNet file in ../shared/weights (Deep Compression
version) was trained in Caffe, so its input is BGR, 0..255, minus the per-channel mean.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from srgan.models.perceptual import FrozenFeatures
from srgan.models.weights import SQUEEZENET1_0_IMAGENET, load_state_dict, resolve_weights

# Caffe's BGR means, stored in RGB order so preprocessing can flip after subtracting.
CAFFE_MEAN_RGB = (123.0, 117.0, 104.0)

# name -> torchvision index in squeezenet1_0().features
LAYERS = {
    "conv1": 1,
    "pool1": 2,
    "fire2": 3,
    "fire3": 4,
    "fire4": 5,
    "pool2": 6,
    "fire5": 7,
    "fire6": 8,
    "fire7": 9,
    "fire8": 10,
    "pool3": 11,
    "fire9": 12,
}


class Fire(nn.Module):
    def __init__(self, c_in: int, squeeze: int, expand1x1: int, expand3x3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(c_in, squeeze, 1)
        self.squeeze_activation = nn.ReLU()
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, 1)
        self.expand1x1_activation = nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, 3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [self.expand1x1_activation(self.expand1x1(s)), self.expand3x3_activation(self.expand3x3(s))], 1
        )


def _all_layers() -> list[nn.Module]:
    return [
        nn.Conv2d(3, 96, 7, stride=2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(96, 16, 64, 64),
        Fire(128, 16, 64, 64),
        Fire(128, 32, 128, 128),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(256, 32, 128, 128),
        Fire(256, 48, 192, 192),
        Fire(384, 48, 192, 192),
        Fire(384, 64, 256, 256),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(512, 64, 256, 256),
    ]


def layer_index(layer: str | int) -> int:
    if isinstance(layer, int) or layer.isdigit():
        index = int(layer)
        if not 0 <= index <= 12:
            raise ValueError(f"SqueezeNet layer index must be in 0..12, got {index}")
        return index
    if layer not in LAYERS:
        raise ValueError(f"unknown SqueezeNet layer {layer!r}; use one of {', '.join(LAYERS)}")
    return LAYERS[layer]


class SqueezeNetFeatures(FrozenFeatures):
    """Frozen SqueezeNet v1.0 features up to ``layer``; Caffe preprocessing applied inside.

    ``weights``: a local file (e.g. ../shared/weights/squeezenet1_0-deepcompression.pth),
    ``"imagenet"`` for torchvision's file through the hub cache, or ``None`` for random weights.
    ``caffe_input`` selects the input convention: True for the Caffe-trained Deep Compression
    file, False for torchvision's own file (RGB, ImageNet mean/std); by default it is True for
    a local file and False for ``"imagenet"``.
    """

    def __init__(
        self,
        layer: str | int = "fire5",
        weights: str | os.PathLike[str] | None = "imagenet",
        download: bool = True,
        caffe_input: bool | None = None,
        input_upsample: int = 1,
    ) -> None:
        super().__init__()
        self.input_upsample = input_upsample
        self.layer_index = layer_index(layer)
        self.caffe_input = weights != "imagenet" if caffe_input is None else caffe_input
        self.features = nn.Sequential(*_all_layers()[: self.layer_index + 1])
        if weights is not None:
            file = resolve_weights(SQUEEZENET1_0_IMAGENET, None if weights == "imagenet" else weights, download)
            self.load_features(load_state_dict(file), str(file))
        self.freeze()

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        if self.caffe_input:
            mean = x.new_tensor(CAFFE_MEAN_RGB).view(1, 3, 1, 1)
            return (x * 255.0 - mean).flip(1)  # RGB -> BGR
        from srgan.models.vgg import IMAGENET_MEAN, IMAGENET_STD

        return (x - x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
