"""Tiled upscaling in bounded memory, with no visible seams.

The LR image stays on the host. It is cut into tiles whose *cores* overlap by ``blend`` LR pixels;
each tile is sent to the device with ``margin`` extra LR pixels of context on every side that has a
neighbour, and those margins are cropped from its output. With ``margin`` >= the network's
receptive radius every kept output pixel is exactly what the whole-image pass computes; the
overlapping cores are then mixed with weights that ramp smoothly (raised cosine) across each
inner edge, normalised by their sum, so any residual difference (e.g. from bf16) fades instead
of stepping.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

# tile batch (N, 3, h, w) float32 on the host -> (N, 3, s*h, s*w) float32 on the host
TileFunction = Callable[[torch.Tensor], torch.Tensor]
# (tiles done, tiles total)
ProgressFunction = Callable[[int, int], None]
# LR pixels over which neighbouring tiles' outputs are blended
BLEND = 8


def min_tile(margin: int, blend: int = BLEND) -> int:
    """The smallest tile an image larger than it can be cut into: a tile with ``margin`` context
    pixels on both inner sides and a ``blend`` overlap must still add one pixel of its own."""
    return 2 * margin + blend + 1


def tile_too_small(tile: int, margin: int, blend: int = BLEND) -> str:
    smaller = ", or the context smaller (--tile-context)" if margin else ""
    return (
        f"a tile of {tile} pixels is too small for {margin} pixels of context on each side: tiles must be at "
        f"least {min_tile(margin, blend)} pixels (--tile){smaller}"
    )


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError | MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


@dataclass(frozen=True)
class Span:
    """One tile along one axis, in LR pixels: [start, stop) is sent, [keep_start, keep_stop) kept."""

    start: int
    stop: int
    keep_start: int
    keep_stop: int


def plan_axis(length: int, tile: int, margin: int, blend: int) -> list[Span]:
    """Split ``length`` LR pixels into the fewest spans whose sent windows (kept part plus
    ``margin`` context on inner sides) are at most ``tile`` long; kept parts overlap by ``blend``."""
    if length <= tile:
        return [Span(0, length, 0, length)]
    inner = tile - 2 * margin - blend  # what an interior tile adds to the coverage
    if tile < min_tile(margin, blend):
        raise ValueError(tile_too_small(tile, margin, blend))
    edge = tile - margin - (blend - blend // 2)  # the first and last tiles have one inner side only
    k = max(0, math.ceil((length - 2 * edge) / inner))  # interior tiles
    n = k + 2
    # Boundaries between kept parts: edge parts up to `edge`, interior parts evenly up to `inner`;
    # each kept part then extends over its neighbours by the blend.
    e = edge if k else math.ceil(length / 2)
    bounds = [0, e, *(e + round(i * (length - 2 * e) / k) for i in range(1, k + 1))] if k else [0, e]
    bounds.append(length)
    spans = []
    for i in range(n):
        keep_start = max(bounds[i] - blend // 2, 0) if i > 0 else 0
        keep_stop = min(bounds[i + 1] + (blend - blend // 2), length) if i < n - 1 else length
        start = max(keep_start - margin, 0) if i > 0 else 0
        stop = min(keep_stop + margin, length) if i < n - 1 else length
        spans.append(Span(start, stop, keep_start, keep_stop))
    return spans


def _ramp(spans: list[Span], index: int, width: int, scale: int) -> torch.Tensor:
    """Weights over one kept span's output pixels: 1 inside, a raised-cosine ramp (never 0) over
    ``width`` LR pixels at each edge that has a neighbour; image borders keep weight 1."""
    span = spans[index]
    n = (span.keep_stop - span.keep_start) * scale
    w = torch.ones(n, dtype=torch.float32)
    b = min(width * scale, n // 2)
    if b > 0:
        up = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(b, dtype=torch.float32) + 0.5) / b)
        if index > 0:
            w[:b] = up
        if index < len(spans) - 1:
            w[n - b :] = up.flip(0)
    return w


def upscale_tiled(
    image: torch.Tensor,
    fn: TileFunction,
    scale: int,
    tile: int,
    margin: int,
    blend: int = BLEND,
    batch: int = 1,
    progress: ProgressFunction | None = None,
) -> torch.Tensor:
    """Upscale ``image`` (3, H, W) float32 on the host with tiles of at most ``tile`` LR pixels
    (context margins included) per side. Returns (3, s*H, s*W) float32."""
    _, h, w = image.shape
    rows, cols = plan_axis(h, tile, margin, blend), plan_axis(w, tile, margin, blend)
    out = torch.zeros(3, h * scale, w * scale, dtype=torch.float32)
    total = torch.zeros(1, h * scale, w * scale, dtype=torch.float32)
    jobs = [(r, c) for r in range(len(rows)) for c in range(len(cols))]
    done = 0
    if progress is not None:
        progress(0, len(jobs))
    for first in range(0, len(jobs), batch):
        group = jobs[first : first + batch]
        shapes = {(rows[r].stop - rows[r].start, cols[c].stop - cols[c].start) for r, c in group}
        if len(shapes) == 1:  # equal-sized tiles go to the device together
            inputs = torch.stack(
                [image[:, rows[r].start : rows[r].stop, cols[c].start : cols[c].stop] for r, c in group]
            )
            outputs = list(fn(inputs))
        else:
            outputs = [
                fn(image[None, :, rows[r].start : rows[r].stop, cols[c].start : cols[c].stop])[0] for r, c in group
            ]
        for (r, c), result in zip(group, outputs, strict=True):
            ry, cx = rows[r], cols[c]
            y0, x0 = (ry.keep_start - ry.start) * scale, (cx.keep_start - cx.start) * scale
            kept = result[
                :,
                y0 : y0 + (ry.keep_stop - ry.keep_start) * scale,
                x0 : x0 + (cx.keep_stop - cx.keep_start) * scale,
            ]
            weight = _ramp(rows, r, blend, scale)[:, None] * _ramp(cols, c, blend, scale)[None, :]
            window = (
                slice(None),
                slice(ry.keep_start * scale, ry.keep_stop * scale),
                slice(cx.keep_start * scale, cx.keep_stop * scale),
            )
            out[window] += kept * weight
            total[window] += weight
        done += len(group)
        if progress is not None:
            progress(done, len(jobs))
    return out.div_(total)


def upscale_with_backoff(
    image: torch.Tensor,
    fn: TileFunction,
    scale: int,
    tile: int,
    margin: int,
    blend: int = BLEND,
    batch: int = 1,
    progress: ProgressFunction | None = None,
    min_tile: int = 32,
    on_retry: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """``upscale_tiled``; when the device runs out of memory, halve the tile (and batch) and retry."""
    while True:
        try:
            return upscale_tiled(image, fn, scale, tile, margin, blend, batch, progress)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            if batch > 1:
                batch //= 2
            elif tile // 2 >= min_tile:
                tile //= 2
            else:
                raise MemoryError(
                    f"out of memory even with {tile}-pixel tiles; use a smaller --tile or the CPU"
                ) from exc
            if on_retry is not None:
                on_retry(tile, batch)
