"""Printing evaluation tables and writing comparison pictures."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from srgan.atomic import atomic_path
from srgan.evaluation.protocol import DatasetReport


def _fmt(value: float | None, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def format_table(reports: list[DatasetReport], model: str, per_image: bool = False) -> str:
    lines = [
        f"model: {model}",
        f"{'dataset':<24} {'images':>6} {'PSNR-Y':>8} {'SSIM-Y':>8} {'NIQE':>7} {'Grid':>6}",
    ]
    for r in reports:
        lines.append(
            f"{r.name:<24} {len(r.images):>6} {_fmt(r.mean('psnr_y'), 2):>8} {_fmt(r.mean('ssim_y'), 4):>8} "
            f"{_fmt(r.mean('niqe'), 3):>7} {_fmt(r.mean('grid'), 3):>6}"
        )
        if per_image:
            for s in r.images:
                lines.append(
                    f"  {s.name:<22} {'':>6} {_fmt(s.psnr_y, 2):>8} {_fmt(s.ssim_y, 4):>8} "
                    f"{_fmt(s.niqe, 3):>7} {_fmt(s.grid, 3):>6}"
                )
    return "\n".join(lines)


def _gray_to_rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image


def comparison_strip(panels: list[tuple[str, np.ndarray]], crop: int = 160) -> Image.Image:
    """Side-by-side crops (same window of each HR-sized image), labelled, as one RGB picture.

    The window is the crop x crop square with the most detail (highest local variance of the
    last panel, normally the HR), since flat regions show nothing of an SR method.
    """
    ref = _gray_to_rgb(panels[-1][1]).astype(np.float64).mean(axis=2)
    h, w = ref.shape
    c = min(crop, h, w)
    best, best_yx = -1.0, (0, 0)
    step = max(c // 4, 1)
    for y in range(0, h - c + 1, step):
        for x in range(0, w - c + 1, step):
            v = float(ref[y : y + c, x : x + c].var())
            if v > best:
                best, best_yx = v, (y, x)
    y, x = best_yx
    label_h, gap = 18, 4
    strip = Image.new("RGB", (len(panels) * (c + gap) - gap, c + label_h), "white")
    draw = ImageDraw.Draw(strip)
    for i, (label, image) in enumerate(panels):
        tile = Image.fromarray(_gray_to_rgb(image)[y : y + c, x : x + c].astype(np.uint8))
        strip.paste(tile, (i * (c + gap), label_h))
        draw.text((i * (c + gap) + 3, 3), label, fill="black")
    return strip


def save_png(image: Image.Image, path: Path) -> None:
    """Write atomically, so an interrupted run leaves no partial PNG."""
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
