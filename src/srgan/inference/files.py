"""Upscaling one file: decode, model, encode, written atomically. The command line and the web
server both call this; no frontend composes those steps itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from srgan.atomic import atomic_path, remove_stale_temps
from srgan.data.imresize import imresize
from srgan.imageio import KEEP_ALL, ImageData, ReadPolicy, read_image, to_float, write_image
from srgan.inference.tiling import ProgressFunction
from srgan.inference.upscaler import Upscaler
from srgan.runtime import MAX_OUTPUT_SIDE, MAX_OUTSCALE


@dataclass(frozen=True)
class OutputSize:
    """The size asked for, other than the model's own factor: ``outscale`` (any factor), or a
    ``width`` and/or ``height`` to fit (the aspect ratio is kept; with both, the largest size that fits)."""

    outscale: float | None = None
    width: int | None = None
    height: int | None = None

    def __post_init__(self) -> None:
        if self.outscale is not None and (self.width is not None or self.height is not None):
            raise ValueError("give either an output scale or a width/height, not both")
        for name, high in (("outscale", MAX_OUTSCALE), ("width", MAX_OUTPUT_SIDE), ("height", MAX_OUTPUT_SIDE)):
            value = getattr(self, name)
            if value is not None and not 0 < value <= high:  # also refuses nan
                raise ValueError(f"the output {name} must be above 0 and at most {high:,.0f}, got {value}")

    def target(self, width: int, height: int) -> tuple[int, int] | None:
        """(width, height) for an input of this size, or None for the model's own size."""
        if self.outscale is not None:
            return max(1, round(width * self.outscale)), max(1, round(height * self.outscale))
        if self.width is None and self.height is None:
            return None
        factors = [f for f in (self.width and self.width / width, self.height and self.height / height) if f]
        factor = min(factors)
        return max(1, round(width * factor)), max(1, round(height * factor))

    def written(self, width: int, height: int, scale: int) -> tuple[int, int]:
        """The size ``upscale_file`` writes for a width x height input and an x``scale`` model."""
        return self.target(width, height) or (width * scale, height * scale)


def resample(data: ImageData, size: tuple[int, int]) -> ImageData:
    """The image at ``size`` (width, height) by antialiased bicubic (MATLAB's imresize); DPI follows
    the real factor."""
    w, h = size
    if (w, h) == data.size:
        return data
    pixels = imresize(to_float(data.pixels), size=(h, w)).clamp_(0, 1)
    alpha = imresize(data.alpha, size=(h, w)).clamp_(0, 1) if data.alpha is not None else None
    return data.scaled(pixels, alpha, w / data.size[0], h / data.size[1])


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
    size: OutputSize | None = None,
) -> UpscaledFile:
    """Read ``source``, upscale it, resample it to ``size`` if one is asked for, write ``target``
    (never partially; an existing target only with ``overwrite``). Raises ImageReadError for a bad
    input, OSError for an unwritable target."""
    remove_stale_temps(target)
    check_memory(upscaler, source, size, policy)
    data = read_image(source, policy)
    out = upscaler.upscale_data(data, progress)
    wanted = size.target(*data.size) if size is not None else None
    if wanted is not None:
        out = resample(out, wanted)
    with atomic_path(target, overwrite=overwrite) as tmp:
        write_image(tmp, out, fmt, quality)
    return UpscaledFile(data, out)


def estimate_bytes(
    upscaler: Upscaler, width: int, height: int, alpha: bool, bits: int, final: tuple[int, int] | None
) -> int:
    """Peak host memory (bytes) to upscale a width x height image: its pixel buffers (``image_bytes``)
    and the network's working set."""
    return image_bytes(upscaler.scale, width, height, alpha, bits, final) + upscaler.working_set_bytes()


def image_bytes(scale: int, width: int, height: int, alpha: bool, bits: int, final: tuple[int, int] | None) -> int:
    """The pixel buffers (bytes) of upscaling a width x height image x``scale``, from what the code
    allocates: the float input (and its premultiplied copy), the tiler's float accumulator and weights
    per output pixel (twice with alpha, which is upscaled in a pass of its own, plus the
    un-premultiplied colour), a resampled copy for another output size (``final``), the integer output."""
    in_px, out_px = width * height, width * height * scale * scale
    final_px = final[0] * final[1] if final is not None else 0
    channels_out = 4 if alpha else 3
    per_out = 16 + (16 + 12 if alpha else 0)
    return (
        in_px * (12 + (16 if alpha else 0))
        + out_px * per_out
        + final_px * 4 * channels_out
        + (final_px or out_px) * channels_out * (2 if bits > 8 else 1)
    )


def check_memory(upscaler: Upscaler, source: Path, size: OutputSize | None, policy: ReadPolicy = KEEP_ALL) -> None:
    """Refuse, before decoding, a job that would need more memory than this machine has free.
    A file whose header cannot be read, or that is over the pixel limit, is left to ``read_image``,
    which names that problem."""
    from srgan.imageio import ImageReadError, image_header
    from srgan.inference.budget import available_memory

    try:
        w, h, alpha, bits = image_header(source)
    except (ImageReadError, OSError):
        return
    if policy.max_pixels is not None and w * h > policy.max_pixels:
        return
    final = size.target(w, h) if size is not None else None
    need, free = estimate_bytes(upscaler, w, h, alpha, bits, final), available_memory()
    if need > free:
        out_w, out_h = (size or OutputSize()).written(w, h, upscaler.scale)
        raise ImageReadError(
            f"{source}: upscaling {w}x{h} to {out_w}x{out_h} needs about {need / 2**30:.1f} GiB of memory, but only "
            f"{free / 2**30:.1f} GiB is available; upscale it in parts (crop it into pieces) or on a machine with "
            "more memory"
        )


def is_complete(target: Path, expected: tuple[int, int]) -> bool:
    """True when ``target`` is a readable image of the expected (width, height): a finished output.
    Outputs are renamed into place only when written in full, so a present, well-formed file of the
    right size is one an earlier run completed. Nothing is decoded: a file larger than ``expected``
    is refused from its header."""
    from srgan.imageio import ImageReadError, probe

    try:
        return probe(target, ReadPolicy(max_pixels=expected[0] * expected[1])) == expected
    except (ImageReadError, OSError):
        return False


def output_size_for(source: Path, scale: int, size: OutputSize | None) -> tuple[int, int]:
    """The (width, height) ``upscale_file`` will write for ``source``, from its header alone."""
    from srgan.imageio import image_size

    return (size or OutputSize()).written(*image_size(source), scale)
