"""Image degradations, srgan's own: real JPEG through Pillow's codec, Gaussian noise. Pure functions of
their inputs and an explicit ``torch.Generator``, so a degraded image depends only on its seed."""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from srgan.schema import RealisticConfig as RealisticConfig


def jpeg(image_u8: np.ndarray, quality: int, subsampling: str = "4:2:0") -> np.ndarray:
    """An (H, W, 3) uint8 image saved as a JPEG of ``quality`` with the given chroma subsampling and
    decoded again (libjpeg through Pillow): the real codec's blocks and ringing."""
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
    buf = io.BytesIO()
    Image.fromarray(image_u8).save(buf, format="JPEG", quality=quality, subsampling=subsampling)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB")).copy()


def gaussian_noise(image: torch.Tensor, sigma: float, generator: torch.Generator, gray: bool = False) -> torch.Tensor:
    """``image`` (..., C, H, W) in [0, 1] plus zero-mean Gaussian noise of standard deviation ``sigma``
    (in [0, 1] units), independent per channel or the same in every channel (``gray``); not clamped."""
    shape = (*image.shape[:-3], 1, *image.shape[-2:]) if gray else image.shape
    noise = torch.randn(shape, generator=generator, dtype=torch.float64).to(image.dtype)
    return image + sigma * noise


# ---- the "realistic" training pipeline (high-order degradations, as Real-ESRGAN's) -----------------


# A JPEG's luma blocks are 8x8 pixels; with 4:2:0 chroma its coding units are 16x16.
JPEG_BLOCK = 8
JPEG_MCU = 16

# Where the 8x8 block grid of an image's last JPEG starts, (row, column) in 0..7, or None when the image
# ends with something else (a resize, a filter) that leaves no grid in place.
Grid = tuple[int, int] | None


def _uniform(g: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=g, dtype=torch.float64))


def _chance(g: torch.Generator, p: float) -> bool:
    return float(torch.rand((), generator=g, dtype=torch.float64)) < p


def blur_kernel(kind: str, size: int, sigma_x: float, sigma_y: float, angle: float, beta: float) -> torch.Tensor:
    """A normalised (size, size) kernel: ``iso``/``aniso`` Gaussian, ``generalized`` Gaussian (exp(-r^beta)),
    ``plateau`` (1 / (1 + r^beta)), with axes sigma_x, sigma_y rotated by ``angle``."""
    r = size // 2
    y, x = torch.meshgrid(
        torch.arange(-r, r + 1, dtype=torch.float64), torch.arange(-r, r + 1, dtype=torch.float64), indexing="ij"
    )
    c, s = math.cos(angle), math.sin(angle)
    u, v = (c * x + s * y) / sigma_x, (-s * x + c * y) / sigma_y
    d2 = u * u + v * v
    if kind in ("iso", "aniso"):
        k = torch.exp(-0.5 * d2)
    elif kind == "generalized":
        k = torch.exp(-0.5 * d2.pow(beta / 2))
    elif kind == "plateau":
        k = 1.0 / (1.0 + d2.pow(beta / 2))
    else:
        raise ValueError(f"unknown kernel kind {kind!r}")
    return k / k.sum()


def sinc_kernel(size: int, cutoff: float) -> torch.Tensor:
    """A circular low-pass (2-d sinc, jinc-like via the radial sinc) that rings like over-sharpened or
    band-limited images do; ``cutoff`` in radians per pixel (pi = no filtering)."""
    r = size // 2
    y, x = torch.meshgrid(
        torch.arange(-r, r + 1, dtype=torch.float64), torch.arange(-r, r + 1, dtype=torch.float64), indexing="ij"
    )
    d = torch.sqrt(x * x + y * y)
    k = torch.where(
        d == 0,
        torch.full_like(d, cutoff**2 / (4 * math.pi)),
        cutoff * torch.special.bessel_j1(cutoff * d) / (2 * math.pi * d.clamp_min(1e-12)),
    )
    return k / k.sum()


def filter2d(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """A (C, H, W) image convolved channel by channel with an odd square kernel, edges replicated."""
    pad = kernel.shape[-1] // 2
    c = image.shape[0]
    padded = F.pad(image[None], (pad, pad, pad, pad), mode="replicate")  # any size, even tiny patches
    weight = kernel.to(image.dtype).expand(c, 1, *kernel.shape)
    return F.conv2d(padded, weight, groups=c)[0]


def _random_kernel(
    g: torch.Generator, cfg: RealisticConfig, sigma: tuple[float, float], sinc_prob: float
) -> torch.Tensor:
    low, high = cfg.kernel_sizes
    size = 2 * int(torch.randint(low // 2, high // 2 + 1, (), generator=g)) + 1
    if _chance(g, sinc_prob):
        cutoff = _uniform(g, math.pi / 3, math.pi) if size < 13 else _uniform(g, math.pi / 5, math.pi)
        return sinc_kernel(size, cutoff)
    kinds = ("iso", "aniso", "generalized", "plateau")
    kind = kinds[int(torch.multinomial(torch.tensor(cfg.kernel_weights), 1, generator=g))]
    sx = _uniform(g, *sigma)
    sy = sx if kind == "iso" else _uniform(g, *sigma)
    angle = _uniform(g, -math.pi, math.pi)
    beta = _uniform(g, *(cfg.plateau_beta if kind == "plateau" else cfg.beta))
    return blur_kernel(kind, size, sx, sy, angle, beta)


def _resize(image: torch.Tensor, size: tuple[int, int], g: torch.Generator) -> torch.Tensor:
    mode = ("area", "bilinear", "bicubic")[int(torch.randint(0, 3, (), generator=g))]
    if mode == "area":
        return F.interpolate(image[None], size=size, mode="area")[0]
    return F.interpolate(image[None], size=size, mode=mode, align_corners=False, antialias=True)[0]


def _noise(
    image: torch.Tensor,
    g: torch.Generator,
    cfg: RealisticConfig,
    sigma: tuple[float, float],
    poisson: tuple[float, float],
) -> torch.Tensor:
    gray = _chance(g, cfg.gray_noise_prob)
    if _chance(g, cfg.gaussian_noise_prob):
        return gaussian_noise(image, _uniform(g, *sigma) / 255.0, g, gray)
    return poisson_noise(image, _uniform(g, *poisson), g, gray)


def poisson_noise(image: torch.Tensor, scale: float, generator: torch.Generator, gray: bool = False) -> torch.Tensor:
    """Photon (shot) noise: counts drawn from Poisson(image x peak), peak = 10^k for the image's distinct
    values (as Real-ESRGAN does), the difference to the image scaled by ``scale``; not clamped."""
    base = image.mean(dim=-3, keepdim=True) if gray else image
    clipped = base.clamp(0, 1)
    peak = 2.0 ** math.ceil(math.log2(max(len(torch.unique((clipped * 255).round())), 2)))
    counts = torch.poisson(clipped.double() * peak, generator=generator) / peak
    return image + scale * (counts.to(image.dtype) - clipped)


def _jpeg_tensor(image: torch.Tensor, quality: int, pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """``image`` through JPEG, its coding grid moved ``pad`` = (rows, columns) pixels up and left: the image
    is padded by repeating its first rows and columns, compressed, and the padding cut off again."""
    u8 = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    padded = np.pad(u8, ((pad[0], 0), (pad[1], 0), (0, 0)), mode="edge")
    decoded = jpeg(padded, quality)[pad[0] :, pad[1] :]
    return torch.from_numpy(np.ascontiguousarray(decoded)).permute(2, 0, 1).to(image.dtype) / 255.0


def _grid_pad(g: torch.Generator, cfg: RealisticConfig) -> tuple[int, int]:
    """The padding of a last JPEG: random over a whole coding unit with ``cfg.jpeg_grid_shift`` (drawn only
    then, so the stream of a run without it is unchanged), else none."""
    if not cfg.jpeg_grid_shift:
        return (0, 0)
    row, col = torch.randint(0, JPEG_MCU, (2,), generator=g).tolist()
    return (int(row), int(col))


def _grid_start(pad: tuple[int, int]) -> tuple[int, int]:
    """Where the 8x8 grid starts in an image compressed with ``pad``: padded blocks start at multiples of 8."""
    return (-pad[0] % JPEG_BLOCK, -pad[1] % JPEG_BLOCK)


def _quality(g: torch.Generator, bounds: tuple[int, int]) -> int:
    """A JPEG quality drawn uniformly from ``bounds`` (both included)."""
    return int(torch.randint(bounds[0], bounds[1] + 1, (), generator=g))


def jpeg_of_lr(lr: torch.Tensor, cfg: RealisticConfig, g: torch.Generator) -> tuple[torch.Tensor, Grid]:
    """The light branch: an LR (3, h, w) on the 8-bit grid saved as a JPEG of a quality drawn from
    ``cfg.jpeg_quality`` and decoded again; and where its block grid starts."""
    quality = _quality(g, cfg.jpeg_quality)
    pad = _grid_pad(g, cfg)
    return _jpeg_tensor(lr, quality, pad), _grid_start(pad)


def realistic_lr(hr: torch.Tensor, scale: int, cfg: RealisticConfig, g: torch.Generator) -> torch.Tensor:
    """A realistic LR of an HR patch (3, H, W) in [0, 1]: blur, random resize, noise and real JPEG, in two
    rounds, ending at (H / scale, W / scale) with a sinc filter and a last JPEG in random order; the
    result is on the 8-bit grid. It depends only on ``hr``, ``cfg`` and ``g``'s state (determinism)."""
    return realistic_lr_and_grid(hr, scale, cfg, g)[0]


def realistic_lr_and_grid(
    hr: torch.Tensor, scale: int, cfg: RealisticConfig, g: torch.Generator
) -> tuple[torch.Tensor, Grid]:
    """``realistic_lr`` and where the block grid of its last JPEG starts (None when a resize came after it)."""
    _, h, w = hr.shape
    out_h, out_w = h // scale, w // scale
    x = hr.float()
    x = filter2d(x, _random_kernel(g, cfg, cfg.blur_sigma, cfg.sinc_prob))
    f = _uniform(g, *cfg.resize_range)
    x = _resize(x, (max(4, round(h * f)), max(4, round(w * f))), g)
    x = _noise(x, g, cfg, cfg.noise_sigma, cfg.poisson_scale).clamp(0, 1)
    x = _jpeg_tensor(x, _quality(g, cfg.jpeg_quality))
    if _chance(g, cfg.second_round_prob):
        if _chance(g, cfg.blur_prob2):
            x = filter2d(x, _random_kernel(g, cfg, cfg.blur_sigma2, cfg.sinc_prob))
        f2 = _uniform(g, *cfg.resize_range2)
        x = _resize(x, (max(4, round(out_h * f2)), max(4, round(out_w * f2))), g)  # relative to the final LR
        x = _noise(x, g, cfg, cfg.noise_sigma2, cfg.poisson_scale2).clamp(0, 1)
    quality = _quality(g, cfg.jpeg_quality2)
    sinc = (
        sinc_kernel(2 * int(torch.randint(3, 11, (), generator=g)) + 1, _uniform(g, math.pi / 3, math.pi))
        if _chance(g, cfg.final_sinc_prob)
        else None
    )
    grid: Grid = None
    if _chance(g, 0.5):
        x = _resize(x, (out_h, out_w), g)
        x = filter2d(x, sinc) if sinc is not None else x
        pad = _grid_pad(g, cfg)
        x, grid = _jpeg_tensor(x.clamp(0, 1), quality, pad), _grid_start(pad)
    else:
        x = _jpeg_tensor(x.clamp(0, 1), quality)
        x = _resize(x, (out_h, out_w), g)
        x = filter2d(x, sinc) if sinc is not None else x
    return (x.clamp(0, 1) * 255).round() / 255, grid
