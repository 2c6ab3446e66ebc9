"""Image degradations, srgan's own: real JPEG through Pillow's codec, Gaussian noise. Pure functions of
their inputs and an explicit ``torch.Generator``, so a degraded image depends only on its seed."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image


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
