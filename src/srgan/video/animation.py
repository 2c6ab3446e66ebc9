"""Animated GIF, WebP and APNG through Pillow: every frame upscaled (colour premultiplied by alpha, alpha in
its own pass, as for still images), written in the input's format with its frame durations, loop count and
transparency. Frames are composited canvases (Pillow applies each frame's disposal when decoding), so an
animation with transparency is written with "restore to background" disposal, which shows each canvas as it
was; an opaque one keeps its disposal values. Pillow merges consecutive identical frames into one longer one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srgan.atomic import atomic_path, remove_stale_temps
from srgan.imageio import ANIMATED_FORMATS, KEEP_ALL, ImageData, ImageReadError, ReadPolicy, read_header
from srgan.inference.files import OutputSize, image_bytes, resample
from srgan.inference.upscaler import Upscaler
from srgan.video import VideoError


@dataclass
class AnimationResult:
    frames: int
    network: int  # frames that ran the network (a repeated frame reuses the previous output)
    size: tuple[int, int] = (0, 0)  # (width, height) of the output's frames


def animation_suffix(path: Path) -> str:
    """The output suffix of an animation: its own format's."""
    from PIL import Image

    with Image.open(path) as im:
        return "." + ANIMATED_FORMATS[str(im.format)]


def animation_bytes(scale: int, width: int, height: int, frames: int, final: tuple[int, int] | None) -> int:
    """The pixel buffers (bytes) of ``upscale_animation`` on ``frames`` width x height canvases, from what it
    allocates: one frame's upscaling at a time (an RGBA canvas: ``image_bytes`` with alpha), the decoded canvas
    and the previous one's bytes (to find repeats), and every output frame (RGBA) kept until the file is
    written, plus, per output frame, the palette or delta copy Pillow's GIF and APNG writers keep, and six
    frames' worth of the writers' own buffers (libwebp's canvases). Measured (peak RSS over the process's
    before, 300x300 noise frames at x2): 30 frames GIF 98, WebP 115, APNG 103 MiB against 119 estimated; 60
    frames 141, 169, 185 MiB against 201."""
    out_w, out_h = final or (width * scale, height * scale)
    kept = (frames + 6) * out_w * out_h * 8
    return image_bytes(scale, width, height, True, 8, final) + 3 * width * height * 4 + kept


def upscale_animation(
    upscaler: Upscaler,
    source: Path,
    target: Path,
    size: OutputSize | None = None,
    overwrite: bool = False,
    quality: int = 95,
    progress: Callable[[int, int], None] | None = None,
    policy: ReadPolicy = KEEP_ALL,
) -> AnimationResult:
    """Upscale every frame of ``source`` into ``target`` (never partially). ``progress(done, total)``
    counts frames; it is also called at every tile (with the same counts), so raising there stops the work
    within a tile; nothing is written then. As for a still image (``upscale_file``), the header is checked
    first: each frame's size against ``policy.max_pixels``, and the memory every frame's output needs against
    what is free; VideoError (one sentence) before any frame is decoded."""
    from PIL import Image, ImageSequence

    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists")
    check_memory(upscaler, source, size, policy)
    remove_stale_temps(target)
    frames: list[Image.Image] = []
    durations: list[int] = []
    disposals: list[int] = []
    transparent, network = False, 0
    previous: tuple[bytes, Image.Image] | None = None
    try:
        with Image.open(source) as im:
            fmt = str(im.format)
            loop = im.info.get("loop", 0)
            total = int(getattr(im, "n_frames", 1))

            def tiles(_done: int, _total: int) -> None:
                if progress is not None:
                    progress(len(frames), total)

            for frame in ImageSequence.Iterator(im):
                tiles(0, 0)
                canvas = frame.convert("RGBA")  # decodes the frame: WebP sets its duration only then
                durations.append(int(frame.info.get("duration", 100)))
                disposals.append(int(getattr(frame, "disposal_method", getattr(frame, "dispose_op", 0)) or 0))
                if canvas.getextrema()[3][0] < 255:
                    transparent = True
                key = canvas.tobytes()
                if previous is not None and previous[0] == key:
                    frames.append(previous[1].copy())
                    continue
                out = _upscale(upscaler, canvas, size, tiles)
                network += 1
                previous = (key, out)
                frames.append(out)
    except (OSError, SyntaxError, ValueError) as exc:
        raise VideoError(f"{source}: not a readable animation ({exc})") from exc
    params: dict[str, Any] = {"save_all": True, "append_images": frames[1:], "duration": durations, "loop": loop}
    if fmt == "GIF":
        # one value when all frames share it: Pillow writes a single frame when every frame turns out equal
        # after quantisation, and that path takes no list
        disposal = 2 if transparent else (disposals[0] if len(set(disposals)) == 1 else disposals)
        params.update(disposal=disposal, optimize=False)
    elif fmt == "PNG":
        params.update(disposal=1 if transparent else [min(d, 2) for d in disposals], blend=0)
    else:
        params.update(quality=quality, method=4)
    if progress is not None:
        progress(len(frames), len(frames))
    with atomic_path(target, overwrite=overwrite) as tmp:
        frames[0].save(tmp, format=fmt, **params)
    return AnimationResult(frames=len(frames), network=network, size=frames[0].size)


def check_memory(upscaler: Upscaler, source: Path, size: OutputSize | None, policy: ReadPolicy = KEEP_ALL) -> None:
    """Refuse, before decoding, an animation over the pixel limit (per frame) or whose frames together need more
    memory than this machine has free (``animation_bytes`` and the network's working set)."""
    from srgan.inference.budget import available_memory

    try:
        header = read_header(source, ReadPolicy(max_pixels=policy.max_pixels, animations=True))
    except ImageReadError as exc:
        raise VideoError(str(exc)) from None
    width, height = header.size
    final = size.target(width, height) if size is not None else None
    need = animation_bytes(upscaler.scale, width, height, header.frames, final) + upscaler.working_set_bytes()
    free = available_memory()
    if need > free:
        out_w, out_h = (size or OutputSize()).written(width, height, upscaler.scale)
        raise VideoError(
            f"{source}: upscaling its {header.frames} frames of {width}x{height} to {out_w}x{out_h} needs about "
            f"{need / 2**30:.1f} GiB of memory (every frame is kept until the file is written), but only "
            f"{free / 2**30:.1f} GiB is available; ask for a smaller size, or cut the animation into parts"
        )


def _upscale(upscaler: Upscaler, canvas: Any, size: OutputSize | None, progress: Callable[[int, int], None]) -> Any:
    data = ImageData.from_pil(canvas)
    if data.alpha is not None and bool((data.alpha >= 1).all()):
        data.alpha = None
    out = upscaler.upscale_data(data, progress)
    wanted = size.target(*data.size) if size is not None else None
    if wanted is not None:
        out = resample(out, wanted)
    im = out.to_pil()
    return im.convert("RGBA")
