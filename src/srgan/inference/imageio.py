"""Reading any image into float RGB (+ alpha) for the model, and writing the result back in kind.

Rules, per input mode:
- RGB, CMYK, YCbCr, LAB, HSV: colour as RGB; output RGB.
- L, 1, I;16 (gray): replicated to RGB for the model; output converted back to gray (BT.601 luma).
- RGBA, LA, PA and P/RGB/L with a transparency key: colour upscaled premultiplied by alpha, alpha
  upscaled separately by the same model (as a gray image), and colour divided by it afterwards:
  fully transparent pixels (often black) cannot bleed dark halos into the edges, and colour and
  alpha edges line up because one operator made both; output RGBA / LA.
- P (palette): via RGBA (or RGB when opaque); output is not paletted.
- 16-bit PNG (I;16, and 48/64-bit RGB(A) / 32-bit LA, read with pypng since Pillow decodes those
  to 8 bits): processed in float and written back 16-bit.
EXIF orientation is applied on reading; the ICC profile, EXIF (orientation reset) and DPI
(multiplied by the scale) are carried to the output.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from srgan.data.images import ImageReadError

_LUMA = torch.tensor([0.299, 0.587, 0.114])
_COLOUR_MODES = {"RGB", "CMYK", "YCbCr", "LAB", "HSV"}
_GRAY_MODES = {"L", "1", "I;16", "I;16L", "I;16B", "I"}


@dataclass
class ImageData:
    """An image ready for the model: ``rgb`` (3, H, W) and optional ``alpha`` (1, H, W), float32 in [0, 1]."""

    rgb: torch.Tensor
    alpha: torch.Tensor | None = None
    gray: bool = False
    bits: int = 8
    info: dict[str, Any] = field(default_factory=dict)  # icc_profile, exif, dpi

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[-1], self.rgb.shape[-2]


def _is_png16(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(33)
    # PNG signature, then the IHDR chunk: bit depth is byte 24
    return head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) > 24 and head[24] == 16


def _read_png16(path: Path) -> ImageData:
    import png

    try:
        width, height, rows, meta = png.Reader(filename=str(path)).asDirect()
        arr = np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(height, width, meta["planes"])
    except (png.Error, OSError, ValueError) as exc:
        raise ImageReadError(f"{path}: not a readable 16-bit PNG ({exc})") from exc
    data = torch.from_numpy(arr.astype(np.float32) / 65535.0).permute(2, 0, 1)
    planes = meta["planes"]
    gray = meta.get("greyscale", planes < 3)
    colour = data[:1].expand(3, -1, -1).clone() if gray else data[:3]
    alpha = data[-1:].clone() if meta.get("alpha") else None
    info: dict[str, Any] = {}
    if meta.get("physical"):
        ppm_x, ppm_y, unit_is_metre = meta["physical"]
        if unit_is_metre:
            info["dpi"] = (ppm_x * 0.0254, ppm_y * 0.0254)
    return ImageData(colour, alpha, gray, 16, info)


def read_image(path: str | os.PathLike[str], max_pixels: int | None = None) -> ImageData:
    """Decode ``path`` by the module's rules; ImageReadError (naming the file) on any problem."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: empty file (0 bytes)")
    try:
        with _open_unlimited(path) as im:
            if max_pixels is not None and im.width * im.height > max_pixels:
                raise ImageReadError(
                    f"{path}: {im.width}x{im.height} = {im.width * im.height:,} pixels exceeds the limit of "
                    f"{max_pixels:,} (a decompression bomb?); raise it with --max-pixels if you trust the file"
                )
            if im.format == "PNG" and _is_png16(path) and im.mode not in _GRAY_MODES:
                data = _read_png16(path)
                data.info.update(_metadata(im))
                return data
            im.load()
            oriented = ImageOps.exif_transpose(im)
            return _from_pil(oriented, path, _metadata(im))
    except ImageReadError:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path}: not a readable image ({exc})") from exc


_PIL_LIMIT_LOCK = threading.Lock()


def _open_unlimited(path: Path) -> Image.Image:
    """Image.open (header only) without Pillow's global pixel limit, which ``read_image`` applies
    itself with the caller's limit and a clearer message. The lock keeps other threads' opens
    under Pillow's default while the limit is lifted."""
    with _PIL_LIMIT_LOCK:
        old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = old


def _metadata(im: Image.Image) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if im.info.get("icc_profile"):
        info["icc_profile"] = im.info["icc_profile"]
    if "dpi" in im.info:
        info["dpi"] = tuple(float(v) for v in im.info["dpi"])
    exif = im.getexif()
    if len(exif):
        exif[0x0112] = 1  # orientation already applied
        info["exif"] = exif.tobytes()
    return info


def _to_float(im: Image.Image) -> torch.Tensor:
    arr = np.asarray(im)
    scale = 65535.0 if arr.dtype in (np.uint16, np.int32) else 255.0
    t = torch.from_numpy(arr.astype(np.float32) / scale).clamp_(0, 1)
    return t[None] if t.dim() == 2 else t.permute(2, 0, 1)


def _from_pil(im: Image.Image, path: Path, info: dict[str, Any]) -> ImageData:
    mode = im.mode
    image_was_palette = mode == "P"
    if mode == "P" or (mode in ("RGB", "L") and "transparency" in im.info):
        im = im.convert("RGBA") if mode != "L" else im.convert("LA")
        mode = im.mode
    if mode == "PA":
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in _GRAY_MODES:
        bits = 16 if mode.startswith("I") else 8
        gray = _to_float(im.convert("L") if mode == "1" else im)
        return ImageData(gray.expand(3, -1, -1).clone(), None, True, bits, info)
    if mode == "LA":
        t = _to_float(im)
        return ImageData(t[:1].expand(3, -1, -1).clone(), t[1:2].clone(), True, 8, info)
    if mode == "RGBA":
        t = _to_float(im)
        if image_was_palette and bool((t[3] >= 1).all()):
            return ImageData(t[:3].clone(), None, False, 8, info)  # an opaque palette image is plain RGB
        return ImageData(t[:3].clone(), t[3:4].clone(), False, 8, info)
    if mode in _COLOUR_MODES:
        if mode == "CMYK":
            info.pop("icc_profile", None)  # a CMYK profile does not describe the RGB output
        return ImageData(_to_float(im.convert("RGB")), None, False, 8, info)
    raise ImageReadError(f"{path}: unsupported image mode {mode}")


# ---- the alpha channel ---------------------------------------------------------------------


def premultiply(data: ImageData) -> torch.Tensor:
    return data.rgb * data.alpha if data.alpha is not None else data.rgb


def unpremultiply(rgb: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Divide colour by alpha where alpha is visible; fully transparent pixels become 0."""
    safe = alpha.clamp_min(1.0 / 512)
    return torch.where(alpha > 1.0 / 512, rgb / safe, torch.zeros_like(rgb)).clamp_(0, 1)


# ---- writing ---------------------------------------------------------------------------------


def to_luma(rgb: torch.Tensor) -> torch.Tensor:
    return (rgb * _LUMA.view(3, 1, 1)).sum(0, keepdim=True)


def output_planes(rgb: torch.Tensor, alpha: torch.Tensor | None, gray: bool) -> torch.Tensor:
    """(C, H, W) in the image's own layout: luma or RGB, then alpha if it has one."""
    planes = [to_luma(rgb) if gray else rgb]
    if alpha is not None:
        planes.append(alpha)
    return torch.cat(planes)


def to_array(rgb: torch.Tensor, alpha: torch.Tensor | None, gray: bool, bits: int) -> np.ndarray:
    """(H, W) or (H, W, C) uint8/uint16 array of the output image."""
    t = output_planes(rgb, alpha, gray).clamp_(0, 1)
    peak, dtype = (65535.0, np.uint16) if bits == 16 else (255.0, np.uint8)
    arr = (t * peak).round_().permute(1, 2, 0).numpy().astype(dtype)
    return arr[..., 0] if arr.shape[-1] == 1 else arr


FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}


def write_image(
    path: Path, arr: np.ndarray, fmt: str, info: dict[str, Any], scale: int, quality: int = 95
) -> None:
    """Write ``arr`` to ``path`` (the caller makes it atomic). 16-bit colour PNGs go through pypng."""
    pil_format = FORMATS[fmt]
    dpi = tuple(v * scale for v in info["dpi"]) if "dpi" in info else None
    if arr.dtype == np.uint16 and pil_format != "PNG":
        arr = (arr.astype(np.float32) / 257.0).round().astype(np.uint8)  # JPEG/WebP are 8-bit formats
    if arr.dtype == np.uint16 and arr.ndim == 3:
        _write_png16(path, arr, dpi)
        return
    channels = 1 if arr.ndim == 2 else arr.shape[-1]
    mode = {1: "I;16" if arr.dtype == np.uint16 else "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    im = Image.fromarray(arr, mode=mode) if mode != "I;16" else Image.fromarray(arr)
    if pil_format == "JPEG" and mode in ("LA", "RGBA"):
        raise ValueError("JPEG cannot store transparency; use --format png or webp")
    kwargs: dict[str, Any] = {}
    if "icc_profile" in info:
        kwargs["icc_profile"] = info["icc_profile"]
    if "exif" in info:
        kwargs["exif"] = info["exif"]
    if dpi is not None:
        kwargs["dpi"] = dpi
    if pil_format in ("JPEG", "WEBP"):
        kwargs["quality"] = quality
    im.save(path, format=pil_format, **kwargs)


def _write_png16(path: Path, arr: np.ndarray, dpi: tuple[float, ...] | None) -> None:
    import png

    h, w, c = arr.shape
    physical = {}
    if dpi:
        physical = {"x_pixels_per_unit": round(dpi[0] / 0.0254), "y_pixels_per_unit": round(dpi[1] / 0.0254),
                    "unit_is_meter": True}  # fmt: skip
    writer = png.Writer(width=w, height=h, bitdepth=16, greyscale=c in (1, 2), alpha=c in (2, 4), **physical)
    with open(path, "wb") as f:
        writer.write(f, arr.reshape(h, w * c))
