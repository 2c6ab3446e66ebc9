"""Validation during training: the evaluation protocol on the configured folders, and the best-so-far."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from srgan.evaluation.protocol import Sample, bicubic, evaluate, iter_samples
from srgan.training.config import ConfigError


def load_samples(folders: list[str], scale: int, max_images: int | None) -> list[Sample]:
    """The protocol's (HR, LR) pairs of each folder, decoded once for the whole run."""
    samples: list[Sample] = []
    for folder in folders:
        if not Path(folder).is_dir():
            raise ConfigError(f"validation folder {folder} does not exist")
        samples += list(itertools.islice(iter_samples(Path(folder), scale), max_images))
    return samples


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

    was_training = model.training
    model.eval()
    try:
        scores = evaluate(samples, lambda lr: model(lr.float().to(device)).float().cpu(), scale, with_niqe, preview)
    finally:
        model.train(was_training)
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
