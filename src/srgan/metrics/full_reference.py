"""PSNR and SSIM as the SR literature measures them (the MATLAB conventions).

Images are uint8 arrays/tensors, (H, W, 3) RGB or (H, W) gray, values 0..255. The Y channel is
ITU-R BT.601 luma as MATLAB's ``rgb2ycbcr`` computes it (16..235 range), rounded to uint8 as
MATLAB does for uint8 input unless ``round_y=False`` (BasicSR's float-Y convention).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor

_Y_WEIGHTS = (65.481, 128.553, 24.966)  # per unit of [0, 1] RGB; offset 16
LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # BT.601 luma without range scaling


def _as_float64(image: ArrayLike) -> torch.Tensor:
    t = image if isinstance(image, torch.Tensor) else torch.from_numpy(np.array(image))
    if t.dtype != torch.uint8:
        raise TypeError(f"metrics take uint8 images (round the SR output first), got {t.dtype}")
    return t.to(torch.float64)


def rgb_to_y(image: ArrayLike, round_y: bool = True) -> torch.Tensor:
    """MATLAB rgb2ycbcr's Y of a uint8 (H, W, 3) image, as float64 in [16, 235]."""
    rgb = _as_float64(image)
    y = 16.0 + (rgb / 255.0) @ torch.tensor(_Y_WEIGHTS, dtype=torch.float64)
    return y.round() if round_y else y


def rgb_to_luma(image: ArrayLike) -> torch.Tensor:
    """BT.601 luma 0.299 R + 0.587 G + 0.114 B of a uint8 (H, W, 3) image, in [0, 255]."""
    return _as_float64(image) @ torch.tensor(LUMA_WEIGHTS, dtype=torch.float64)


def measured_channel(sr: ArrayLike, hr: ArrayLike, round_y: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The two planes the protocol compares.

    RGB HR: the Y of both. Gray (H, W) HR: its own gray values, against the SR output's luma
    (rounded like an 8-bit gray image), as the original MATLAB scripts measured Set14's bridge.
    """
    hr_t = _as_float64(hr)
    if hr_t.dim() == 2:
        sr_t = _as_float64(sr)
        sr_plane = rgb_to_luma(sr).round() if sr_t.dim() == 3 else sr_t
        return sr_plane, hr_t
    return rgb_to_y(sr, round_y), rgb_to_y(hr, round_y)


def crop_border(plane: torch.Tensor, border: int) -> torch.Tensor:
    return plane[border:-border, border:-border] if border > 0 else plane


def psnr(a: torch.Tensor, b: torch.Tensor, peak: float = 255.0) -> float:
    """PSNR in dB between two float planes of equal shape (inf when identical)."""
    mse = torch.mean((a.to(torch.float64) - b.to(torch.float64)) ** 2).item()
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def gaussian_1d(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """The 1-D factor of MATLAB fspecial('gaussian', size, sigma): the 2-D window is its outer product."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma * sigma))
    return g / g.sum()


@lru_cache(maxsize=16)
def _valid_filter_matrix(length: int, size: int = 11) -> torch.Tensor:
    """(length - size + 1, length) band matrix: 'valid' correlation with the 1-D Gaussian."""
    g = gaussian_1d(size)
    m = torch.zeros(length - size + 1, length, dtype=torch.float64)
    for i in range(length - size + 1):
        m[i, i : i + size] = g
    return m


def _gaussian_filter_valid(x: torch.Tensor) -> torch.Tensor:
    """filter2(fspecial('gaussian', 11, 1.5), x, 'valid'), computed separably as two matrix products."""
    h, w = x.shape
    return _valid_filter_matrix(h) @ x @ _valid_filter_matrix(w).T


def ssim(a: torch.Tensor, b: torch.Tensor, peak: float = 255.0) -> float:
    """Wang et al.'s MATLAB ssim.m on two planes: 11x11 Gaussian (sigma 1.5), 'valid' filtering,
    K1 = 0.01, K2 = 0.03, no automatic downsampling."""
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    if min(a.shape) < 11:
        raise ValueError(f"SSIM needs planes of at least 11x11 pixels, got {tuple(a.shape)}")
    x, y = a.to(torch.float64), b.to(torch.float64)
    f = _gaussian_filter_valid
    mu_x, mu_y = f(x), f(y)
    sxx = f(x * x) - mu_x**2
    syy = f(y * y) - mu_y**2
    sxy = f(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return ssim_map.mean().item()


def psnr_y(sr: ArrayLike, hr: ArrayLike, border: int, round_y: bool = True) -> float:
    """PSNR on the Y channel (or gray plane) with ``border`` pixels cropped on each side."""
    s, h = measured_channel(sr, hr, round_y)
    return psnr(crop_border(s, border), crop_border(h, border))


def ssim_y(sr: ArrayLike, hr: ArrayLike, border: int, round_y: bool = True) -> float:
    s, h = measured_channel(sr, hr, round_y)
    return ssim(crop_border(s, border), crop_border(h, border))


def psnr_rgb(sr: ArrayLike, hr: ArrayLike, border: int) -> float:
    """PSNR over all RGB channels (a gray HR is compared with the SR output's luma)."""
    s, h = _as_float64(sr), _as_float64(hr)
    if h.dim() == 2:
        s, h = measured_channel(sr, hr)
        return psnr(crop_border(s, border), crop_border(h, border))
    return psnr(s[border:-border, border:-border] if border else s, h[border:-border, border:-border] if border else h)
