"""The package's one image codec: the only place that reads and writes image files, and that converts
between files, PIL images, numpy arrays, torch tensors and the image record ``ImageData``.

Reading rules, per input mode (``ReadPolicy`` chooses what to keep):
- RGB, CMYK, YCbCr, LAB, HSV: colour as RGB (a CMYK ICC profile is dropped: it does not describe RGB).
- L, 1, I;16, I (gray): one channel (``gray="keep"``, written back as gray) or three (``"replicate"``).
- RGBA, LA, PA and P/RGB/L with a transparency key: colour plus a separate alpha plane
  (``alpha="keep"``), or the colour as stored (``alpha="drop"``).
- P (palette): via RGBA (or RGB when opaque).
- 16-bit PNG (I;16, and 48/64-bit RGB(A) / 32-bit LA, read with pypng since Pillow decodes those to
  8 bits): kept at 16 bits (float32) on every path: training, evaluation, upscaling, the web page.
- EXIF orientation is applied (to 16-bit PNGs too); the ICC profile, EXIF (orientation reset) and DPI
  are kept in ``info``.
- One header-first read (``read_header``) on every path: size, frame count, EXIF orientation (a PNG's
  found by walking its chunks, never by decoding) and the decompression-bomb policy, ``max_pixels``
  (default Pillow's limit), all before any pixel is decoded, with a sentence that names the file.

Pixels are stored compactly: uint8 for 8-bit images, float32 in [0, 1] for 16-bit and float ones
(a training cache of hundreds of photographs stays small); ``ImageData.rgb`` gives float RGB.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image, ImageOps

# Pillow's own default decompression-bomb limit (about 89.5 megapixels), as the package's default.
DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3
# Pillow's formats that hold animations srgan upscales frame by frame (srgan.video.animation) -> their suffix
ANIMATED_FORMATS = {"GIF": "gif", "WEBP": "webp", "PNG": "png"}
FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP", "tif": "TIFF", "tiff": "TIFF"}
# output file suffix -> the format name srgan writes it in
WRITABLE_SUFFIXES = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp", ".tif": "tif", ".tiff": "tif"}
_LUMA = torch.tensor([0.299, 0.587, 0.114])
_COLOUR_MODES = {"RGB", "CMYK", "YCbCr", "LAB", "HSV"}
_GRAY_MODES = {"L", "1", "I;16", "I;16L", "I;16B", "I"}


class ImageReadError(ValueError):
    """A file that is not a readable image; the message names the file."""


@dataclass(frozen=True)
class ReadPolicy:
    """What a read keeps and accepts. ``max_pixels``: per frame. ``animations``: a header read
    (``read_header``, ``probe_header``) accepts an animated GIF/WebP/APNG, whose frames the caller then
    reads itself (``srgan.video.animation``); ``read_image`` and other multi-frame files are refused."""

    alpha: Literal["keep", "drop"] = "keep"
    gray: Literal["keep", "replicate"] = "keep"
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    animations: bool = False


# Upscaling keeps everything; training and evaluation look at colour only.
KEEP_ALL = ReadPolicy()
PIXELS_ONLY = ReadPolicy(alpha="drop", gray="keep")


@dataclass
class ImageData:
    """An image: ``pixels`` (C, H, W) with C = 1 (gray) or 3, uint8 for 8-bit images and float32 in
    [0, 1] otherwise; ``alpha`` (1, H, W) float32 in [0, 1] or None; ``bits`` of the source (8 or 16);
    ``gray``: written back as gray; ``info``: icc_profile, exif, dpi."""

    pixels: torch.Tensor
    alpha: torch.Tensor | None = None
    gray: bool = False
    bits: int = 8
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[-1], self.pixels.shape[-2]

    @property
    def rgb(self) -> torch.Tensor:
        """(3, H, W) float32 in [0, 1]."""
        return to_rgb(to_float(self.pixels))

    # ---- from and to the other representations ----

    @classmethod
    def from_pil(cls, im: Image.Image, policy: ReadPolicy = KEEP_ALL, name: str = "<image>") -> ImageData:
        """A decoded PIL image (EXIF orientation already applied, as ``read_image`` does)."""
        return _apply_policy(_from_pil(im, name, _metadata(im)), policy)

    @classmethod
    def from_numpy(cls, arr: np.ndarray) -> ImageData:
        """(H, W) or (H, W, C), C in 1..4 (gray, gray+alpha, RGB, RGBA); uint8, uint16 or float in [0, 1]."""
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4)):
            raise ValueError(f"expected an (H, W) or (H, W, C) array with C in 1..4; got shape {arr.shape}")
        _check_not_empty(arr.shape[1], arr.shape[0], "array")
        if arr.dtype == np.uint8:
            t = torch.from_numpy(np.ascontiguousarray(arr))
            bits = 8
        elif arr.dtype == np.uint16:
            t, bits = torch.from_numpy(arr.astype(np.float32) / 65535.0), 16
        elif np.issubdtype(arr.dtype, np.floating):
            t, bits = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)), 16
            _check_unit_range(t, "array")
        else:
            raise ValueError(f"unsupported array dtype {arr.dtype}; use uint8, uint16 or float")
        t = t[None] if t.dim() == 2 else t.permute(2, 0, 1)
        return cls.from_tensor(t, bits)

    @classmethod
    def from_tensor(cls, t: torch.Tensor, bits: int | None = None) -> ImageData:
        """(C, H, W), C in 1..4; uint8, or float in [0, 1]."""
        if t.dim() != 3 or t.shape[0] not in (1, 2, 3, 4):
            raise ValueError(f"expected a (C, H, W) tensor with C in 1..4; got {tuple(t.shape)}")
        _check_not_empty(t.shape[2], t.shape[1], "tensor")
        if t.is_floating_point():
            _check_unit_range(t, "tensor")
        c = t.shape[0]
        colour = t[:1] if c in (1, 2) else t[:3]
        alpha = to_float(t[c - 1 :]).clone() if c in (2, 4) else None
        colour = colour.clone() if colour.dtype == torch.uint8 else colour.float().clone()
        return cls(colour, alpha, c in (1, 2), bits or (8 if t.dtype == torch.uint8 else 16))

    def planes(self, rows: slice = slice(None)) -> torch.Tensor:
        """(C, H, W) float32 in the image's own layout: luma or RGB, then alpha if it has one
        (``rows``: only those rows)."""
        rgb = to_rgb(to_float(self.pixels[:, rows]))
        colour = to_luma(rgb) if self.gray else rgb
        return torch.cat([colour, self.alpha[:, rows]]) if self.alpha is not None else colour

    def to_numpy(self, bits: int | None = None) -> np.ndarray:
        """(H, W) or (H, W, C) uint8 (8 bits) or uint16 array in the image's own layout.

        Converted in strips of rows into one preallocated array, so a large image costs its integer
        output plus one small float strip, not several full-size float copies."""
        bits = bits or self.bits
        peak, dtype = (65535.0, np.uint16) if bits > 8 else (255.0, np.uint8)
        w, h = self.size
        channels = (1 if self.gray else 3) + (1 if self.alpha is not None else 0)
        arr = np.empty((h, w, channels), dtype)
        step = max(1, (4 << 20) // max(1, w * channels))  # about 16 MiB of float32 per strip
        for top in range(0, h, step):
            # clamp (not clamp_) copies: the planes may share memory with self.pixels
            strip = self.planes(slice(top, top + step)).clamp(0, 1).mul_(peak).round_()
            arr[top : top + step] = strip.permute(1, 2, 0).numpy().astype(dtype)
        return arr[..., 0] if channels == 1 else arr

    def to_pil(self) -> Image.Image:
        """A PIL image (16-bit colour becomes 8-bit: Pillow has no 16-bit RGB mode), with ICC and DPI."""
        arr = self.to_numpy()
        if arr.dtype == np.uint16 and arr.ndim == 3:
            arr = _to_8bit(arr)
        im = Image.fromarray(arr)
        for key in ("icc_profile", "dpi"):
            if key in self.info:
                im.info[key] = self.info[key]
        return im

    def scaled(self, pixels: torch.Tensor, alpha: torch.Tensor | None, factor_x: float, factor_y: float) -> ImageData:
        """This image's record for new pixels ``factor`` times larger: DPI scaled (the one place it is)."""
        info = dict(self.info)
        if "dpi" in info:
            info["dpi"] = (info["dpi"][0] * factor_x, info["dpi"][1] * factor_y)
        return replace(self, pixels=pixels, alpha=alpha, info=info)


# How far outside [0, 1] a float image may stray (one 8-bit level) before it is taken for another
# range (0..255, -1..1) rather than rounding.
UNIT_RANGE_SLACK = 1 / 255


def _check_not_empty(width: int, height: int, what: str) -> None:
    if width < 1 or height < 1:
        raise ValueError(f"the {what} is an empty image ({width}x{height} pixels); give at least 1x1")


def _check_unit_range(t: torch.Tensor, what: str) -> None:
    """Float images hold values in [0, 1]: a 0..255 one would otherwise be clamped to white."""
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"the float {what} holds NaN or infinite values; float images hold values in [0, 1]")
    low, high = float(t.min()), float(t.max())
    if low < -UNIT_RANGE_SLACK or high > 1 + UNIT_RANGE_SLACK:
        hint = " (an 8-bit image? pass it as uint8, or divide by 255)" if high > 1.5 else ""
        raise ValueError(
            f"the float {what} holds values from {low:g} to {high:g}, but float images hold values in [0, 1]{hint}"
        )


# ---- tensor helpers ----------------------------------------------------------------------------


def to_float(image: torch.Tensor) -> torch.Tensor:
    return image.float() / 255.0 if image.dtype == torch.uint8 else image.float()


def to_rgb(image: torch.Tensor) -> torch.Tensor:
    """Replicate a one-channel image (..., 1, H, W) to three channels."""
    return image.expand(*image.shape[:-3], 3, *image.shape[-2:]) if image.shape[-3] == 1 else image


def to_luma(rgb: torch.Tensor) -> torch.Tensor:
    return (rgb * _LUMA.view(3, 1, 1)).sum(0, keepdim=True)


def quantize(image: torch.Tensor) -> torch.Tensor:
    """Round a [0, 1] float image to the 8-bit grid (as saving it as a PNG would)."""
    return (image.clamp(0, 1) * 255.0).round() / 255.0


def to_uint8(image: torch.Tensor) -> torch.Tensor:
    return (image.clamp(0, 1) * 255.0).round().to(torch.uint8)


def premultiply(data: ImageData) -> torch.Tensor:
    return data.rgb * data.alpha if data.alpha is not None else data.rgb


def unpremultiply(rgb: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Divide colour by alpha where alpha is visible; fully transparent pixels become 0."""
    safe = alpha.clamp_min(1.0 / 512)
    return torch.where(alpha > 1.0 / 512, rgb / safe, torch.zeros_like(rgb)).clamp_(0, 1)


# ---- finding and reading files -----------------------------------------------------------------


def image_extensions() -> set[str]:
    """Every file extension Pillow can open on this machine."""
    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def find_images(folders: Iterable[str | os.PathLike[str]], recursive: bool = True) -> list[Path]:
    """All image files under ``folders``, sorted; a missing or image-less folder is an error."""
    exts = image_extensions()
    found: list[Path] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            what = "is a file, not a folder" if folder.exists() else "does not exist"
            raise FileNotFoundError(f"image folder {folder} {what}")
        pattern = folder.rglob("*") if recursive else folder.glob("*")
        files = sorted(p for p in pattern if p.is_file() and p.suffix.lower() in exts)
        if not files:
            raise FileNotFoundError(f"no image files found in {folder}")
        found += files
    return found


@dataclass(frozen=True)
class Header:
    """What a file's header says, read without decoding a pixel: its stored size, EXIF orientation
    (1-8), whether it has alpha, its bits per sample, its frame count and Pillow's name of its format."""

    width: int
    height: int
    orientation: int
    alpha: bool
    bits: int
    frames: int = 1
    format: str = ""

    @property
    def animated(self) -> bool:
        """An animation srgan upscales frame by frame (a GIF, WebP or APNG of more than one frame)."""
        return self.frames > 1 and self.format in ANIMATED_FORMATS

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) after EXIF orientation (orientations 5-8 swap them)."""
        return (self.height, self.width) if self.orientation in (5, 6, 7, 8) else (self.width, self.height)


def read_header(path: str | os.PathLike[str], policy: ReadPolicy = KEEP_ALL) -> Header:
    """The header-first read every path goes through (upscaling, evaluation, training, the web server,
    checking an existing output): the file exists and is not empty, it is one frame, and its size is
    within ``policy.max_pixels``, all before any pixel is decoded; ImageReadError naming the file
    otherwise. Memory stays at the header's size whatever the image's."""
    path = Path(path)
    with _checked_open(path, policy) as im:
        return _header(path, im)


def _header(path: Path, im: Image.Image) -> Header:
    alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
    bits = 16 if im.mode.startswith("I") or (im.format == "PNG" and _is_png16(path)) else 8
    orientation = _exif(path, im).get(0x0112, 1)
    frames = int(getattr(im, "n_frames", 1))
    return Header(
        im.width, im.height, orientation if orientation in range(1, 9) else 1, alpha, bits, frames, str(im.format)
    )


def _exif(path: Path, im: Image.Image) -> Image.Exif:
    """The file's EXIF from its header. Pillow's PNG reader decodes the whole image to reach an eXIf
    chunk stored after the pixel data (a 1 MB file can decode to gigabytes), so a PNG's chunks are
    walked here instead, skipping the pixel data unread."""
    if im.format == "PNG" and "exif" not in im.info:
        raw = _png_exif_chunk(path)
        if raw is not None:
            im.info["exif"] = raw
        return Image.Image.getexif(im)  # the generic reader: info only, never a decode
    return im.getexif()


def _png_exif_chunk(path: Path) -> bytes | None:
    with open(path, "rb") as f:
        f.seek(8)  # the signature
        while len(head := f.read(8)) == 8:
            length, kind = int.from_bytes(head[:4], "big"), head[4:]
            if kind == b"eXIf":
                return f.read(length)
            if kind == b"IEND":
                break
            f.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
    return None


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) after EXIF orientation, from the header alone (no pixel is decoded)."""
    return read_header(path, ReadPolicy(max_pixels=None)).size


def image_header(path: str | os.PathLike[str]) -> tuple[int, int, bool, int]:
    """(width, height, has alpha, bits per sample) from the header alone: enough to plan memory."""
    header = read_header(path, ReadPolicy(max_pixels=None))
    return (*header.size, header.alpha, header.bits)


def read_image(path: str | os.PathLike[str], policy: ReadPolicy = KEEP_ALL) -> ImageData:
    """Decode ``path`` by the module's rules; ImageReadError (naming the file) on any problem. The
    header is checked first (``read_header``); only then are pixels decoded."""
    path = Path(path)
    with _checked_open(path, policy) as im:
        check_single_frame(path, im)  # an animation's frames are read by srgan.video.animation, never cut to one
        header = _header(path, im)
        # the pixels are turned upright before _metadata resets the orientation they were turned by
        if header.bits == 16 and im.format == "PNG" and im.mode not in _GRAY_MODES:
            data = _oriented(_read_png16(path), header.orientation)
            data.info.update(_metadata(im, _exif(path, im)))
        else:
            im.load()
            upright = ImageOps.exif_transpose(im)
            data = _from_pil(upright, str(path), _metadata(im, _exif(path, im)))
    return _apply_policy(data, policy)


@contextmanager
def _checked_open(path: Path, policy: ReadPolicy) -> Iterator[Image.Image]:
    """The opened file (header only) after the checks every reader makes: it exists and is not empty,
    its size is within ``policy.max_pixels``, it is one frame; any decoding error inside the block
    becomes one ImageReadError naming the file."""
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, not an image file")
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: empty file (0 bytes)")
    try:
        with _open_unlimited(path) as im:
            check_pixels(path, im.width, im.height, policy.max_pixels)
            check_single_frame(path, im, policy.animations)
            yield im
    except ImageReadError:
        raise
    except (OSError, SyntaxError, ValueError, struct.error, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"{path}: not a readable image ({exc})") from exc


def probe(path: str | os.PathLike[str], policy: ReadPolicy = KEEP_ALL) -> tuple[int, int]:
    """(width, height) of a file that looks decodable, without decoding its pixels (``probe_header``)."""
    return probe_header(path, policy).size


def probe_header(path: str | os.PathLike[str], policy: ReadPolicy = KEEP_ALL) -> Header:
    """The header of a file that looks decodable, from one open and without decoding its pixels: the
    header's checks (``read_header``), and the file's structure checked (``Image.verify``: PNG chunk
    checksums, truncation). Memory stays at the file's own size."""
    path = Path(path)
    with _checked_open(path, policy) as im:
        header = _header(path, im)  # reads the header's fields only: verify (PNG's seeks back) still sees the file
        im.verify()  # spends the image
    return header


def check_single_frame(name: str | os.PathLike[str], im: Image.Image, animations: bool = False) -> None:
    """An animation or a multi-page file is refused: upscaling only its first frame would silently
    drop the rest. With ``animations``, an animated GIF/WebP/APNG passes (its frames are read elsewhere)."""
    frames = int(getattr(im, "n_frames", 1))
    if frames > 1 and not (animations and im.format in ANIMATED_FORMATS):
        kind = "pages" if im.format == "TIFF" else "frames"
        raise ImageReadError(
            f"{name}: has {frames} {kind} (an animation or multi-page file); srgan upscales single images, "
            "so extract the frames first (e.g. with ffmpeg or ImageMagick)"
        )


def check_pixels(name: str | os.PathLike[str], width: int, height: int, max_pixels: int | None) -> None:
    if max_pixels is not None and width * height > max_pixels:
        raise ImageReadError(
            f"{name}: {width}x{height} = {width * height:,} pixels exceeds the limit of {max_pixels:,} "
            "(a decompression bomb?); raise it with --max-pixels if you trust the file"
        )


def read_tensor(path: str | os.PathLike[str]) -> torch.Tensor:
    """Pixels only, as stored: (1 or 3, H, W), uint8 or float32 (training and evaluation)."""
    return read_image(path, PIXELS_ONLY).pixels


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
    gray = bool(meta.get("greyscale", meta["planes"] < 3))
    colour = data[:1].clone() if gray else data[:3].clone()
    alpha = data[-1:].clone() if meta.get("alpha") else None
    info: dict[str, Any] = {}
    if meta.get("physical"):
        ppm_x, ppm_y, unit_is_metre = meta["physical"]
        if unit_is_metre:
            info["dpi"] = (ppm_x * 0.0254, ppm_y * 0.0254)
    return ImageData(colour, alpha, gray, 16, info)


def _oriented(data: ImageData, orientation: int) -> ImageData:
    """``data`` turned upright by its EXIF orientation (2-8), as ``ImageOps.exif_transpose`` turns a
    PIL image: for the pixels srgan decodes itself (16-bit PNGs)."""

    def turn(t: torch.Tensor) -> torch.Tensor:
        if orientation in (5, 6, 7, 8):  # these transpose the image first
            t = t.transpose(-1, -2)
        flip = {2: (-1,), 3: (-1, -2), 4: (-2,), 6: (-1,), 7: (-1, -2), 8: (-2,)}.get(orientation, ())
        return t.flip(flip).contiguous() if flip else t.contiguous()

    if orientation == 1:
        return data
    alpha = turn(data.alpha) if data.alpha is not None else None
    return replace(data, pixels=turn(data.pixels), alpha=alpha)


def _metadata(im: Image.Image, exif: Image.Exif | None = None) -> dict[str, Any]:
    """ICC profile, DPI and EXIF (its orientation reset: it is applied to the pixels). ``exif``: the
    file's, read from its header (``_exif``)."""
    info: dict[str, Any] = {}
    if im.info.get("icc_profile"):
        info["icc_profile"] = im.info["icc_profile"]
    if "dpi" in im.info:
        info["dpi"] = tuple(float(v) for v in im.info["dpi"])
    exif = im.getexif() if exif is None else exif
    if len(exif):
        exif[0x0112] = 1
        info["exif"] = exif.tobytes()
    return info


def _native(im: Image.Image) -> torch.Tensor:
    """(C, H, W): uint8 for 8-bit modes, float32 in [0, 1] for 16/32-bit integer and float modes."""
    arr = np.asarray(im)
    if arr.dtype == np.uint8:
        t = torch.from_numpy(arr.copy())
    elif np.issubdtype(arr.dtype, np.floating):
        t = torch.from_numpy(arr.astype(np.float32))
    else:
        t = torch.from_numpy(np.clip(arr.astype(np.float32) / 65535.0, 0, 1))
    return t[None] if t.dim() == 2 else t.permute(2, 0, 1).contiguous()


def _from_pil(im: Image.Image, name: str, info: dict[str, Any]) -> ImageData:
    mode = im.mode
    was_palette = mode == "P"
    if mode == "P" or (mode in ("RGB", "L") and "transparency" in im.info):
        im = im.convert("RGBA") if mode != "L" else im.convert("LA")
        mode = im.mode
    if mode == "PA":
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in _GRAY_MODES:
        bits = 16 if mode.startswith("I") else 8
        return ImageData(_native(im.convert("L") if mode == "1" else im), None, True, bits, info)
    if mode in ("LA", "RGBA"):
        t = _native(im)
        alpha = to_float(t[-1:]).clone()
        opaque_palette = was_palette and bool((alpha >= 1).all())  # an opaque palette image is plain RGB
        return ImageData(t[:-1].clone(), None if opaque_palette else alpha, mode == "LA", 8, info)
    if mode in _COLOUR_MODES:
        if mode == "CMYK":
            info.pop("icc_profile", None)  # a CMYK profile does not describe the RGB output
        return ImageData(_native(im.convert("RGB")), None, False, 8, info)
    raise ImageReadError(f"{name}: unsupported image mode {mode}")


def _apply_policy(data: ImageData, policy: ReadPolicy) -> ImageData:
    if policy.alpha == "drop":
        data.alpha = None
    if policy.gray == "replicate" and data.pixels.shape[0] == 1:
        data.pixels, data.gray = to_rgb(data.pixels).clone(), False
    return data


# ---- writing ---------------------------------------------------------------------------------


def _to_8bit(arr: np.ndarray) -> np.ndarray:
    return (arr.astype(np.float32) / 257.0).round().astype(np.uint8)


def write_image(path: Path, data: ImageData, fmt: str, quality: int = 95) -> None:
    """Write ``data`` to ``path`` (the caller makes it atomic). 16-bit colour PNGs go through pypng;
    JPEG and WebP are 8-bit formats, so 16-bit images are rounded to 8 bits for them."""
    pil_format = FORMATS[fmt]
    arr = data.to_numpy()
    info = data.info
    dpi = tuple(info["dpi"]) if "dpi" in info else None
    if arr.dtype == np.uint16 and pil_format not in ("PNG", "TIFF"):
        arr = _to_8bit(arr)
    if arr.dtype == np.uint16 and arr.ndim == 3 and pil_format == "PNG":
        _write_png16(path, arr, dpi)
        return
    if arr.dtype == np.uint16 and arr.ndim == 3:
        arr = _to_8bit(arr)  # Pillow writes no 16-bit colour TIFF
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
        physical = {
            "x_pixels_per_unit": round(dpi[0] / 0.0254),
            "y_pixels_per_unit": round(dpi[1] / 0.0254),
            "unit_is_meter": True,
        }
    writer = png.Writer(width=w, height=h, bitdepth=16, greyscale=c in (1, 2), alpha=c in (2, 4), **physical)
    with open(path, "wb") as f:
        writer.write(f, arr.reshape(h, w * c))
