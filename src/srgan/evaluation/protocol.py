"""The evaluation protocol of the SR literature, in one place.

Per HR image: mod-crop to a multiple of the scale; LR = MATLAB bicubic downscale of the RGB HR,
rounded to 8 bits (as a saved LR file would be); SR = model(LR), rounded to 8 bits; PSNR and SSIM
on the BT.601 Y channel (MATLAB rgb2ycbcr, rounded) with ``scale`` border pixels cropped; NIQE on
the SR's Y with the same crop. ``pipeline="y"`` instead reproduces the older Y-only pipeline behind
most published bicubic rows (the HR's Y resized down and up, never converted back to RGB); it
applies to bicubic only.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from srgan.data.degradations import RealisticConfig, gaussian_noise, jpeg, realistic_lr
from srgan.data.imresize import imresize
from srgan.imageio import ImageReadError, find_images, quantize, read_tensor, to_float, to_rgb, to_uint8
from srgan.metrics import blockiness, flat_lattice_score, lattice_score, niqe, psnr_rgb, psnr_y, rgb_to_y, ssim_y
from srgan.metrics.full_reference import crop_border, measured_channel, psnr, ssim

# LR (1, 3, h, w) float in [0, 1] -> SR (1, 3, s*h, s*w) float
SRFunction = Callable[[torch.Tensor], torch.Tensor]


def protocol_line(
    scale: int, pipeline: str = "rgb", with_niqe: bool = True, degradation: str | None = None, seed: int = 0
) -> str:
    if pipeline == "y":
        return (
            f"Protocol: legacy Y-only pipeline: HR Y (uint8), MATLAB-bicubic down/up x{scale} on Y, "
            f"PSNR/SSIM on Y, {scale}-px border cropped."
        )
    niqe_part = f"; NIQE on SR Y, {scale}-px crop" if with_niqe else ""
    return (
        f"Protocol: HR mod-cropped to x{scale}; LR = MATLAB bicubic (antialiased) of RGB HR, rounded to uint8; "
        f"SR rounded to uint8; PSNR/SSIM (11x11 Gaussian, sigma 1.5) on BT.601 Y (MATLAB rgb2ycbcr), "
        f"{scale}-px border cropped; gray HR measured on its gray values{niqe_part}; Grid = srgan.metrics."
        f"lattice_score of SR Y (period {scale}; natural images ~0.12, a visible grid ~0.5 and more); "
        f"Flat = srgan.metrics.flat_lattice_score, the same over the cells where HR is flat (bicubic ~0.03); "
        f"Block = srgan.metrics.blockiness of SR Y at {8 * scale}-px blocks (clean ~1)."
        + (f" LR degraded by preset {degradation} (seed {seed}, docs/evaluation.md)." if degradation else "")
    )


@dataclass
class ImageScore:
    name: str
    psnr_y: float
    ssim_y: float
    psnr_rgb: float
    niqe: float | None
    grid: float | None = None  # srgan.metrics.lattice_score of the SR's Y, period = scale
    block: float | None = None  # srgan.metrics.blockiness of the SR's Y at the LR's 8x8 JPEG blocks (8 x scale)
    flat: float | None = None  # srgan.metrics.flat_lattice_score: the grid score over HR's flat cells only

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class Sample:
    """One evaluation image: the (mod-cropped) HR as uint8 HWC/HW, and the LR fed to the model."""

    name: str
    hr: np.ndarray
    lr: torch.Tensor  # (1, 3, h, w) float64 in [0, 1], on the 8-bit grid


def mod_crop(image: torch.Tensor, scale: int) -> torch.Tensor:
    h, w = image.shape[-2:]
    return image[..., : h - h % scale, : w - w % scale]


# Real-world presets: the protocol's uint8 LR, damaged as camera and web images are (docs/evaluation.md).
# jpeg75 and noise10 damage the protocol's LR (``degrade``); the third preset, realistic, makes the LR
# from the HR itself (``make_sample``).
LR_PRESETS = ("jpeg75", "noise10")


def degrade(lr: torch.Tensor, preset: str, name: str, seed: int) -> torch.Tensor:
    """The protocol's LR (1, 3, h, w) on the 8-bit grid after a real-world ``preset``, again on the 8-bit
    grid. ``jpeg75``: saved as a JPEG of quality 75 with 4:2:0 chroma (libjpeg through Pillow) and
    decoded; ``noise10``: Gaussian noise of sigma 10/255 per channel, seeded by (``seed``, the image's
    name), clamped and rounded. The same seed and name always give the same image."""
    if preset == "jpeg75":
        u8 = to_uint8(lr[0].float()).permute(1, 2, 0).numpy()
        decoded = torch.from_numpy(jpeg(u8, 75, "4:2:0")).permute(2, 0, 1)[None]
        return decoded.double() / 255.0
    if preset == "noise10":
        generator = torch.Generator().manual_seed(zlib.crc32(f"{seed}:{name}".encode()))
        return quantize(gaussian_noise(lr, 10 / 255, generator))
    raise ValueError(f"unknown degradation {preset!r} of the LR; use one of {', '.join(LR_PRESETS)}")


def make_sample(path: Path, scale: int, root: Path, degradation: str | None = None, seed: int = 0) -> Sample:
    hr = mod_crop(read_tensor(path), scale)
    if hr.dtype != torch.uint8:
        hr = to_uint8(hr)  # 16-bit HR: measured on its 8-bit rounding, like every published number
    name = str(path.relative_to(root))
    if degradation == "realistic":  # one seeded draw of the training pipeline, from the HR itself
        generator = torch.Generator().manual_seed(zlib.crc32(f"{seed}:{name}".encode()))
        lr = quantize(realistic_lr(to_rgb(to_float(hr)), scale, RealisticConfig(), generator).double()[None])
    else:
        lr = quantize(imresize(to_rgb(to_float(hr)).double()[None], 1.0 / scale))
        if degradation is not None:
            lr = degrade(lr, degradation, name, seed)
    hr_np = hr[0].numpy() if hr.shape[0] == 1 else hr.permute(1, 2, 0).numpy()
    return Sample(name, hr_np, lr)


def iter_samples(folder: Path, scale: int) -> Iterator[Sample]:
    for path in find_images([folder]):
        yield make_sample(path, scale, folder)


# SSIM's 11x11 window must fit in the Y plane after the border crop.
MIN_SCORED_SIDE = 11


def load_samples(
    folder: Path, scale: int, degradation: str | None = None, seed: int = 0
) -> tuple[list[Sample], list[str]]:
    """The folder's samples, and one sentence for each image that cannot be scored (unreadable, or
    too small for SSIM after the border crop): those are left out, the rest are scored."""
    samples, problems = [], []
    for path in find_images([folder]):
        try:
            sample = make_sample(path, scale, folder, degradation, seed)
        except ImageReadError as exc:
            problems.append(str(exc))
            continue
        h, w = sample.hr.shape[:2]
        if min(h, w) - 2 * scale < MIN_SCORED_SIDE:
            problems.append(
                f"{path}: {w}x{h} is too small to score at x{scale} (SSIM needs {MIN_SCORED_SIDE}x{MIN_SCORED_SIDE} "
                f"pixels after the {scale}-px border crop); left out"
            )
            continue
        samples.append(sample)
    return samples, problems


def score(sr: torch.Tensor, sample: Sample, scale: int, with_niqe: bool = True) -> tuple[ImageScore, np.ndarray]:
    """Score an SR output (1, 3, H, W) float against the sample's HR; returns the uint8 SR too."""
    sr_u8 = to_uint8(sr[0].float().cpu()).permute(1, 2, 0).numpy()
    if sr_u8.shape[:2] != sample.hr.shape[:2]:
        raise ValueError(
            f"{sample.name}: SR is {sr_u8.shape[1]}x{sr_u8.shape[0]}, HR is {sample.hr.shape[1]}x{sample.hr.shape[0]}"
        )
    plane = crop_border(rgb_to_y(sr_u8), scale)  # a crop of `scale` pixels keeps the lattice phase
    niqe_value = niqe(plane) if with_niqe and min(plane.shape) >= 96 else None
    sr_measured, hr_measured = (crop_border(p, scale) for p in measured_channel(sr_u8, sample.hr))
    result = ImageScore(
        name=sample.name,
        psnr_y=psnr_y(sr_u8, sample.hr, scale),
        ssim_y=ssim_y(sr_u8, sample.hr, scale),
        psnr_rgb=psnr_rgb(sr_u8, sample.hr, scale),
        niqe=niqe_value,
        grid=lattice_score(plane, scale) if min(plane.shape) >= 3 * scale else None,
        block=blockiness(rgb_to_y(sr_u8), 8 * scale, scale) if min(sr_u8.shape[:2]) > 16 * scale else None,
        flat=flat_lattice_score(sr_measured, hr_measured, scale) if min(plane.shape) >= 3 * scale else None,
    )
    return result, sr_u8


def score_legacy_y_bicubic(sample: Sample, scale: int) -> ImageScore:
    """The older Y-only bicubic pipeline (see module docstring); SR rounded to integers."""
    hr = torch.from_numpy(sample.hr.copy())
    hr_y = rgb_to_y(sample.hr) if hr.dim() == 3 else hr.double()
    sr_y = (imresize(imresize(hr_y / 255.0, 1.0 / scale), float(scale)) * 255.0).round().clamp(0, 255)
    a, b = crop_border(sr_y, scale), crop_border(hr_y, scale)
    return ImageScore(sample.name, psnr(a, b), ssim(a, b), float("nan"), None)


def bicubic(scale: int) -> SRFunction:
    return lambda lr: imresize(lr, float(scale))


@dataclass
class DatasetReport:
    name: str
    folder: str
    scale: int
    images: list[ImageScore]
    problems: list[str] = field(default_factory=list)  # images left out, one sentence each

    def means(self) -> dict[str, float | None]:
        return {k: self.mean(k) for k in ("psnr_y", "ssim_y", "psnr_rgb", "niqe", "grid", "flat", "block")}

    def mean(self, field: str) -> float | None:
        values = [getattr(s, field) for s in self.images if getattr(s, field) is not None]
        return float(np.mean(values)) if values else None

    def to_dict(self) -> dict[str, object]:
        return {
            "dataset": self.name,
            "folder": self.folder,
            "scale": self.scale,
            "num_images": len(self.images),
            "left_out": self.problems,
            "mean": self.means(),
            "images": [s.to_dict() for s in self.images],
        }


# Called with each sample and its uint8 SR (H, W, 3) as it is scored (saving images, a preview).
ImageCallback = Callable[[Sample, np.ndarray], None]


def evaluate(
    samples: Iterable[Sample],
    sr_fn: SRFunction,
    scale: int,
    with_niqe: bool = True,
    on_image: ImageCallback | None = None,
) -> list[ImageScore]:
    """The protocol's loop: SR of each sample's LR, scored against its HR."""
    scores = []
    for sample in samples:
        result, sr_u8 = score(sr_fn(sample.lr), sample, scale, with_niqe)
        scores.append(result)
        if on_image is not None:
            on_image(sample, sr_u8)
    return scores


def evaluate_folder(
    folder: Path,
    sr_fn: SRFunction | None,
    scale: int,
    with_niqe: bool = True,
    pipeline: str = "rgb",
    on_image: ImageCallback | None = None,
    progress: bool = False,
    degradation: str | None = None,
    degradation_seed: int = 0,
) -> DatasetReport:
    """Every image of ``folder`` by the protocol (``sr_fn`` None = bicubic); used by ``srgan eval``,
    training validation, the bundling and crops scripts and the demo."""
    loaded, problems = load_samples(folder, scale, degradation, degradation_seed)
    samples: Iterable[Sample] = loaded
    if progress:
        import sys

        from tqdm import tqdm

        samples = tqdm(samples, desc=f"{folder.name} x{scale}", unit="img", file=sys.stderr, leave=False)
    if pipeline == "y":
        images = [score_legacy_y_bicubic(s, scale) for s in samples]
    else:
        images = evaluate(samples, sr_fn or bicubic(scale), scale, with_niqe, on_image)
    return DatasetReport(folder.name, str(folder), scale, images, problems)
