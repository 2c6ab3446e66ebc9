"""Printing evaluation tables and writing comparison pictures."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
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
        f"{'dataset':<24} {'images':>6} {'PSNR-Y':>8} {'SSIM-Y':>8} {'NIQE':>7} {'Grid':>6} {'Flat':>6} {'Block':>6}",
    ]
    for r in reports:
        lines.append(
            f"{r.name:<24} {len(r.images):>6} {_fmt(r.mean('psnr_y'), 2):>8} {_fmt(r.mean('ssim_y'), 4):>8} "
            f"{_fmt(r.mean('niqe'), 3):>7} {_fmt(r.mean('grid'), 3):>6} {_fmt(r.mean('flat'), 3):>6} "
            f"{_fmt(r.mean('block'), 3):>6}"
        )
        if per_image:
            for s in r.images:
                lines.append(
                    f"  {s.name:<22} {'':>6} {_fmt(s.psnr_y, 2):>8} {_fmt(s.ssim_y, 4):>8} "
                    f"{_fmt(s.niqe, 3):>7} {_fmt(s.grid, 3):>6} {_fmt(s.flat, 3):>6} {_fmt(s.block, 3):>6}"
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


@dataclass
class CurvePanel:
    """One dataset's perception-distortion points: (strength, PSNR-Y, NIQE) along the model's curve,
    bicubic's (PSNR-Y, NIQE), and labelled reference points."""

    dataset: str
    model: str
    points: list[tuple[float, float | None, float | None]]
    bicubic: tuple[float | None, float | None]
    references: list[tuple[str, float, float]] = field(default_factory=list)


def curve_plot(panels: list[CurvePanel], size: int = 420) -> Image.Image:
    """NIQE (lower is more natural) against PSNR-Y (higher is more faithful), a panel per dataset:
    the better corner is the lower right."""
    margin, width = 56, size
    canvas = Image.new("RGB", (width * len(panels), size + 24), "white")
    draw = ImageDraw.Draw(canvas)
    for i, panel in enumerate(panels):
        ox = i * width
        pts = [(p, n) for _, p, n in panel.points if p is not None and n is not None]
        others = [panel.bicubic] + [(p, n) for _, p, n in panel.references]
        xs = [p for p, _ in pts + others if p is not None]
        ys = [n for _, n in pts + others if n is not None]
        x0, x1 = min(xs) - 0.3, max(xs) + 0.3
        y0, y1 = min(ys) - 0.3, max(ys) + 0.3

        def at(
            p: float, n: float, ox: int = ox, x0: float = x0, x1: float = x1, y0: float = y0, y1: float = y1
        ) -> tuple[float, float]:
            return (
                ox + margin + (p - x0) / (x1 - x0) * (width - margin - 16),
                16 + (y1 - n) / (y1 - y0) * (size - margin - 16),
            )

        draw.rectangle([ox + margin, 16, ox + width - 16, size - margin], outline="black")
        draw.text((ox + margin, 2), f"{panel.dataset}: NIQE vs PSNR-Y ({panel.model})", fill="black")
        draw.text((ox + width // 2 - 20, size - margin + 20), "PSNR-Y (dB)", fill="black")
        draw.text((ox + 4, size // 2), "NIQE", fill="black")
        for k in range(5):
            p, n = x0 + (x1 - x0) * k / 4, y0 + (y1 - y0) * k / 4
            draw.text((at(p, y0)[0] - 12, size - margin + 4), f"{p:.1f}", fill="gray")
            draw.text((ox + 18, at(x0, n)[1] - 6), f"{n:.1f}", fill="gray")
        coords = [at(p, n) for p, n in pts]
        if len(coords) > 1:
            draw.line(coords, fill=(200, 40, 40), width=2)
        complete = [s for s, p, n in panel.points if p is not None and n is not None]
        for s, (cx, cy) in zip(complete, coords, strict=True):
            draw.ellipse([cx - 4, cy - 4, cx + 4, cy + 4], fill=(200, 40, 40))
            draw.text((cx + 6, cy - 12), f"s={s:g}", fill=(150, 20, 20))
        marks: list[tuple[str, float | None, float | None]] = [("bicubic", *panel.bicubic), *panel.references]
        for label, mp, mn in marks:
            if mp is None or mn is None:
                continue
            cx, cy = at(mp, mn)
            draw.rectangle([cx - 4, cy - 4, cx + 4, cy + 4], fill=(40, 40, 200))
            draw.text((cx + 6, cy + 2), label, fill=(20, 20, 150))
    return canvas
