"""srgan.data.targets: the grain of flat areas leaves the target, texture stays, the LR is untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from srgan.data.dataset import SampleKey, SRTrainDataset
from srgan.data.targets import ACTIVITY_WINDOW, local_activity, smooth_flat_areas


def grain_and_texture(size: int = 96, seed: int = 0) -> torch.Tensor:
    """Left half: a smooth ramp with grain of 1 grey level; right half: a checker texture of 40 levels."""
    g = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0.3, 0.5, size).expand(3, size, size).clone()
    image = ramp + torch.randn(3, size, size, generator=g) / 255.0
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    checker = ((yy // 2 + xx // 2) % 2).float() * (40 / 255.0)
    image[:, :, size // 2 :] += checker[:, size // 2 :]
    return image.clamp(0, 1)


def highpass_rms(image: torch.Tensor) -> float:
    return float(local_activity(image).pow(2).mean().sqrt() * 255)


def test_zero_sigma_returns_the_patch_itself() -> None:
    image = grain_and_texture()
    assert smooth_flat_areas(image, 0.0) is image


def test_grain_is_smoothed_and_texture_left_alone() -> None:
    image = grain_and_texture()
    out = smooth_flat_areas(image, 1.5)
    size, margin = image.shape[-1], ACTIVITY_WINDOW + 6
    flat, textured = (
        (slice(None), slice(None), slice(0, size // 2 - margin)),
        (slice(None), slice(None), slice(size // 2 + margin, None)),
    )
    # the grain falls by more than half; the ramp (the picture's content) stays within a grey level
    assert highpass_rms(out[flat]) < 0.5 * highpass_rms(image[flat])
    assert float((out[flat] - image[flat]).mean().abs() * 255) < 0.2
    # texture is untouched, bit for bit, away from the fade
    assert torch.equal(out[textured], image[textured])
    assert out.dtype == image.dtype and out.shape == image.shape


def test_the_dataset_smooths_only_the_target_and_stays_deterministic(tmp_path: Path) -> None:
    folder = tmp_path / "hr"
    folder.mkdir()
    grain = grain_and_texture(64, seed=3)[:, :, :32]  # the smooth half: every crop has flat areas
    u8 = (grain * 255).round().byte().permute(1, 2, 0).numpy()
    Image.fromarray(np.ascontiguousarray(u8)).save(folder / "a.png")
    plain = SRTrainDataset([folder], 4, 24)
    smoothed = SRTrainDataset([folder], 4, 24, flat_target_blur=1.5)
    changed = 0
    for seed in range(6):
        key = SampleKey(0, seed)
        (lr_a, hr_a, _), (lr_b, hr_b, _) = plain[key], smoothed[key]
        assert torch.equal(lr_a, lr_b)  # the LR is made from the untouched patch
        assert torch.equal(hr_b, smooth_flat_areas(hr_a, 1.5))
        assert torch.equal(smoothed[key][1], hr_b)  # same key, same target
        changed += int(not torch.equal(hr_a, hr_b))
    assert changed == 6
