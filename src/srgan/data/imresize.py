"""MATLAB-compatible bicubic ``imresize`` on float tensors.

MATLAB's ``imresize(I, scale, 'bicubic')`` is a separable linear map: along each axis every
output sample is a weighted sum of input samples, with the cubic kernel (a = -0.5), the
kernel widened by 1/scale when shrinking (antialiasing), and the input mirrored at its borders
(``[1..n, n..1]``, "symmetric"). We build that map once per (length, scale) as a dense
(out x in) matrix, with the mirrored taps folded in, and apply it as two matrix products. That
works on any batch shape, CPU or GPU, and inside DataLoader workers, and is exact in float64.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch


def cubic(x: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


@lru_cache(maxsize=256)
def resize_matrix(in_len: int, out_len: int, scale: float, antialias: bool = True) -> torch.Tensor:
    """The (out_len x in_len) float64 matrix of MATLAB's bicubic resize along one axis."""
    u = torch.arange(1, out_len + 1, dtype=torch.float64)
    x = u / scale + 0.5 * (1.0 - 1.0 / scale)  # output sample centre in input coordinates (1-based)
    shrink = scale < 1 and antialias
    width = 4.0 / scale if shrink else 4.0
    taps = math.ceil(width) + 2
    left = torch.floor(x - width / 2)
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]
    dist = x[:, None] - idx
    weights = scale * cubic(scale * dist) if shrink else cubic(dist)
    weights = weights / weights.sum(dim=1, keepdim=True)
    # Mirror out-of-range taps back inside: MATLAB's aux = [1:n, n:-1:1] indexing.
    m = torch.remainder(idx.long() - 1, 2 * in_len)
    src = torch.where(m < in_len, m, 2 * in_len - 1 - m)
    matrix = torch.zeros(out_len, in_len, dtype=torch.float64)
    matrix.scatter_add_(1, src, weights)
    return matrix


def output_size(in_len: int, scale: float) -> int:
    # MATLAB: ceil(in * scale); the small epsilon absorbs float error such as 3 * (1/3) = 0.999...
    return math.ceil(in_len * scale - 1e-9)


def imresize(
    image: torch.Tensor,
    scale: float | None = None,
    size: tuple[int, int] | None = None,
    antialias: bool = True,
) -> torch.Tensor:
    """Resize ``image`` (..., H, W), float, like MATLAB's ``imresize(image, scale, 'bicubic')``.

    Give either ``scale`` (e.g. 1/4 to make an x4 LR image) or the output ``size`` (H, W).
    Values are not clamped or rounded; do that where an 8-bit image is wanted.
    """
    if not image.is_floating_point():
        raise TypeError(f"imresize works on float tensors, got {image.dtype}")
    if image.dim() < 2:
        raise ValueError("imresize needs an image of at least 2 dimensions (..., H, W)")
    h, w = image.shape[-2:]
    if size is None:
        if scale is None or scale <= 0:
            raise ValueError("give a positive scale or an output size")
        size = (output_size(h, scale), output_size(w, scale))
        scale_h = scale_w = float(scale)
    else:
        scale_h, scale_w = size[0] / h, size[1] / w
    rows = resize_matrix(h, size[0], scale_h, antialias).to(image.device, image.dtype)
    cols = resize_matrix(w, size[1], scale_w, antialias).to(image.device, image.dtype)
    return rows @ image @ cols.T
