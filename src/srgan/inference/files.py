"""Upscaling one file: decode, model, encode, written atomically. The command line and the web
server both call this; no frontend composes those steps itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from srgan.atomic import atomic_path
from srgan.imageio import KEEP_ALL, ImageData, ReadPolicy, read_image, write_image
from srgan.inference.tiling import ProgressFunction
from srgan.inference.upscaler import Upscaler


@dataclass
class UpscaledFile:
    input: ImageData
    output: ImageData


def upscale_file(
    upscaler: Upscaler,
    source: Path,
    target: Path,
    fmt: str = "png",
    quality: int = 95,
    policy: ReadPolicy = KEEP_ALL,
    overwrite: bool = False,
    progress: ProgressFunction | None = None,
) -> UpscaledFile:
    """Read ``source``, upscale it, write ``target`` (never partially; an existing target only with
    ``overwrite``). Raises ImageReadError for a bad input, OSError for an unwritable target."""
    data = read_image(source, policy)
    out = upscaler.upscale_data(data, progress)
    with atomic_path(target, overwrite=overwrite) as tmp:
        write_image(tmp, out, fmt, quality)
    return UpscaledFile(data, out)
