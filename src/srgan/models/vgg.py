"""VGG19 ``features`` in plain torch.nn, with torchvision's layer indices.

The official torchvision file (vgg19-dcbb9e9d.pth) loads unchanged: key ``features.N.weight``
here is the same layer as in ``torchvision.models.vgg19``. Only the layers up to the chosen
one are built.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from srgan.models.perceptual import FrozenFeatures
from srgan.models.weights import VGG19_IMAGENET, load_state_dict, resolve_weights

# torchvision's configuration "E": channel counts, "M" for max-pooling.
_VGG19_CFG: tuple[int | str, ...] = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
)

# The paper's names: VGGij = the feature map after the j-th conv's ReLU before the i-th pooling.
PAPER_LAYERS = {"VGG22": "relu2_2", "VGG54": "relu5_4"}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def layer_names() -> list[str]:
    """torchvision index i -> name: conv{block}_{n}, relu{block}_{n}, pool{block}."""
    names: list[str] = []
    block, n = 1, 1
    for item in _VGG19_CFG:
        if item == "M":
            names.append(f"pool{block}")
            block, n = block + 1, 1
        else:
            names += [f"conv{block}_{n}", f"relu{block}_{n}"]
            n += 1
    return names


def layer_index(layer: str | int) -> int:
    """Accepts 'VGG54', 'relu5_4', 'conv3_1', or a torchvision index (int or digit string)."""
    names = layer_names()
    if isinstance(layer, int) or (isinstance(layer, str) and layer.isdigit()):
        index = int(layer)
        if not 0 <= index < len(names):
            raise ValueError(f"VGG19 layer index must be in 0..{len(names) - 1}, got {index}")
        return index
    name = PAPER_LAYERS.get(layer.upper(), layer) if layer.upper().startswith("VGG") else layer
    if name not in names:
        raise ValueError(f"unknown VGG19 layer {layer!r}; use VGG22, VGG54 or one of {', '.join(names)}")
    return names.index(name)


class VGG19Features(FrozenFeatures):
    """Frozen VGG19 features up to ``layer``, ImageNet normalisation applied inside.

    ``weights``: a local file path, ``"imagenet"`` (torch.hub cache, downloaded if allowed),
    or ``None`` for random initialisation (tests, benchmarks).
    """

    def __init__(
        self,
        layer: str | int = "VGG54",
        weights: str | os.PathLike[str] | None = "imagenet",
        download: bool = True,
        input_upsample: int = 1,
    ) -> None:
        super().__init__()
        self.input_upsample = input_upsample
        self.layer_index = layer_index(layer)
        self.layer_name = layer_names()[self.layer_index]
        layers: list[nn.Module] = []
        c_in = 3
        for item in _VGG19_CFG:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c_in, int(item), 3, padding=1), nn.ReLU(inplace=False)]
                c_in = int(item)
        self.features = nn.Sequential(*layers[: self.layer_index + 1])
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        if weights is not None:
            file = resolve_weights(VGG19_IMAGENET, None if weights == "imagenet" else weights, download)
            self.load_features(load_state_dict(file), str(file))
        self.freeze()

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std
