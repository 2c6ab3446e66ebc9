"""Validation during training: the evaluation protocol on the configured folders, and the best-so-far."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from srgan.data.teacher_cache import CacheError, TeacherCacheDataset, decode_item, item_path
from srgan.evaluation.protocol import ImageScore, Sample, bicubic, evaluate, iter_samples
from srgan.training.config import ConfigError


def load_samples(folders: list[str], scale: int, max_images: int | None) -> list[Sample]:
    """The protocol's (HR, LR) pairs of each folder, decoded once for the whole run."""
    samples: list[Sample] = []
    for folder in folders:
        if not Path(folder).is_dir():
            raise ConfigError(f"validation folder {folder} does not exist")
        samples += list(itertools.islice(iter_samples(Path(folder), scale), max_images))
    return samples


def load_teacher_samples(dataset: TeacherCacheDataset) -> list[Sample]:
    """The cache's held-out items as protocol samples whose "HR" is the teacher's output, decoded once."""
    samples = []
    for index in dataset.held_out_indices:
        path = item_path(dataset.cache, index)
        try:
            item = decode_item(path, photo=False)
        except CacheError as exc:
            raise ConfigError(f"data.teacher_val_items: {exc}") from exc
        lr = torch.from_numpy(item.lr).double()[None] / 255
        samples.append(Sample(path.name, np.ascontiguousarray(item.teacher.transpose(1, 2, 0)), lr))
    return samples


def _scores(
    model: nn.Module,
    samples: list[Sample],
    scale: int,
    device: torch.device,
    with_niqe: bool,
    on_image: Callable[[Sample, np.ndarray], None] | None = None,
) -> list[ImageScore]:
    """The protocol's scores of ``model`` (in eval mode for the while) on the samples."""
    was_training = model.training
    model.eval()
    try:
        return evaluate(samples, lambda lr: model(lr.float().to(device)).float().cpu(), scale, with_niqe, on_image)
    finally:
        model.train(was_training)


@torch.inference_mode()
def validate_teacher(model: nn.Module, samples: list[Sample], scale: int, device: torch.device) -> dict[str, float]:
    """``val/teacher_psnr_y``: the student's mean PSNR-Y to the teacher's outputs on the held-out items."""
    if not samples:
        return {}
    scores = _scores(model, samples, scale, device, with_niqe=False)
    return {"val/teacher_psnr_y": float(np.mean([s.psnr_y for s in scores]))}


@torch.inference_mode()
def validate(
    model: nn.Module, samples: list[Sample], scale: int, device: torch.device, with_niqe: bool
) -> tuple[dict[str, float], np.ndarray | None]:
    """Mean ``val/<metric>`` over the samples and a bicubic | SR | HR strip of the first one."""
    from srgan.evaluation.report import comparison_strip
    from srgan.imageio import to_uint8

    strips: list[np.ndarray] = []

    def preview(sample: Sample, sr_u8: np.ndarray) -> None:
        if not strips:
            bic = to_uint8(bicubic(scale)(sample.lr)[0].float()).permute(1, 2, 0).numpy()
            strips.append(np.asarray(comparison_strip([("bicubic", bic), ("SR", sr_u8), ("HR", sample.hr)], crop=192)))

    scores = _scores(model, samples, scale, device, with_niqe, preview)
    metrics = {}
    for key in ("psnr_y", "ssim_y", "niqe", "grid"):
        values = [getattr(s, key) for s in scores if getattr(s, key) is not None]
        if values:
            metrics[f"val/{key}"] = float(np.mean(values))
    return metrics, (strips[0] if strips else None)


@dataclass
class BestTracker:
    """The best value so far of ``val/<metric>`` (NIQE: lower is better; the others: higher)."""

    metric: str
    best: float | None = None

    def update(self, metrics: dict[str, float]) -> bool:
        value = metrics.get(f"val/{self.metric}")
        if value is None:
            return False
        lower_is_better = self.metric == "niqe"
        better = self.best is None or (value < self.best if lower_is_better else value > self.best)
        if better:
            self.best = value
        return better
