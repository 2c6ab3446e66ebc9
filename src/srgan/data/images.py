"""Reading image files into tensors for training and evaluation, with one rule for every mode.

The rule: EXIF orientation is applied; colour images become RGB (palette, CMYK, YCbCr, LAB via
Pillow's conversion; an alpha channel is dropped, keeping the colour as stored); grayscale (L, I;16,
I, F) is kept as one channel and replicated to RGB by ``to_rgb``; 16-bit and float images keep their
precision (scaled to [0, 1] in float32), 8-bit images stay uint8 until cropped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps


class ImageReadError(ValueError):
    """A file that is not a readable image; the message names the file."""


def image_extensions() -> set[str]:
    """Every file extension Pillow can open on this machine."""
    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def find_images(folders: Iterable[str | os.PathLike[str]], recursive: bool = True) -> list[Path]:
    """All image files under ``folders``, sorted; a missing or image-less folder is an error."""
    exts = image_extensions()
    found: list[Path] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise FileNotFoundError(f"image folder {folder} does not exist")
        pattern = folder.rglob("*") if recursive else folder.glob("*")
        files = sorted(p for p in pattern if p.is_file() and p.suffix.lower() in exts)
        if not files:
            raise FileNotFoundError(f"no image files found in {folder}")
        found += files
    return found


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open and fully decode ``path`` with EXIF orientation applied, or raise ImageReadError."""
    try:
        with Image.open(path) as im:
            im.load()
            return ImageOps.exif_transpose(im)
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{path}: image is larger than the pixel limit ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path}: not a readable image ({exc})") from exc


def pil_to_tensor(im: Image.Image) -> torch.Tensor:
    """(C, H, W): uint8 for 8-bit images, float32 in [0, 1] for 16-bit/float ones; C is 1 or 3."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float32) / 65535.0
        return torch.from_numpy(np.clip(arr, 0, 1))[None]
    if im.mode == "F":
        return torch.from_numpy(np.asarray(im, dtype=np.float32).copy())[None]
    if im.mode == "L":
        return torch.from_numpy(np.asarray(im).copy())[None]
    if im.mode == "LA":
        return torch.from_numpy(np.asarray(im.getchannel("L")).copy())[None]
    if im.mode != "RGB":
        im = im.convert("RGBA" if im.mode == "P" else "RGB").convert("RGB")
    return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).contiguous()


def load_image(path: str | os.PathLike[str]) -> torch.Tensor:
    """Decode a file by the module's rule: (1 or 3, H, W), uint8 or float32."""
    return pil_to_tensor(open_image(path))


def to_float(image: torch.Tensor) -> torch.Tensor:
    return image.float() / 255.0 if image.dtype == torch.uint8 else image.float()


def to_rgb(image: torch.Tensor) -> torch.Tensor:
    """Replicate a one-channel image (..., 1, H, W) to three channels."""
    return image.expand(*image.shape[:-3], 3, *image.shape[-2:]) if image.shape[-3] == 1 else image


def quantize(image: torch.Tensor) -> torch.Tensor:
    """Round a [0, 1] float image to the 8-bit grid (as saving it as a PNG would)."""
    return (image.clamp(0, 1) * 255.0).round() / 255.0


def to_uint8(image: torch.Tensor) -> torch.Tensor:
    return (image.clamp(0, 1) * 255.0).round().to(torch.uint8)
