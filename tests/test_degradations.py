"""Degradations and the real-world evaluation presets; the blockiness metric."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan.data.degradations import gaussian_noise, jpeg
from srgan.evaluation.protocol import degrade, evaluate_folder, make_sample
from srgan.metrics import blockiness

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "baboon.png"


def photo() -> np.ndarray:
    return np.asarray(Image.open(EXAMPLE).convert("RGB"))[:128, :128].copy()


def test_blockiness_sees_blocks_and_not_clean_images() -> None:
    rng = np.random.default_rng(0)
    clean = torch.from_numpy(rng.normal(128, 5, (128, 128)))
    assert blockiness(clean, 8) == pytest.approx(1.0, abs=0.05)
    blocky = clean.clone()
    for y in range(0, 128, 8):
        for x in range(0, 128, 8):
            blocky[y : y + 8, x : x + 8] += rng.normal(0, 15)  # each 8x8 block shifted on its own
    assert blockiness(blocky, 8) > 1.5
    shifted = torch.roll(blocky, shifts=(4, 4), dims=(0, 1))  # the same blocks off the measured grid
    assert blockiness(shifted, 8) < 1.2


def test_jpeg_quality_is_monotone_in_size_and_error() -> None:
    image = photo()
    sizes, errors = [], []
    for quality in (20, 50, 75, 95):
        decoded = jpeg(image, quality)
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "JPEG", quality=quality, subsampling="4:2:0")
        sizes.append(len(buf.getvalue()))
        errors.append(np.abs(decoded.astype(float) - image).mean())
    assert sizes == sorted(sizes) and errors == sorted(errors, reverse=True)


def test_noise_sigma_is_measured_back() -> None:
    image = torch.full((1, 3, 256, 256), 0.5, dtype=torch.float64)
    noisy = gaussian_noise(image, 10 / 255, torch.Generator().manual_seed(0))
    assert float((noisy - image).std()) * 255 == pytest.approx(10, rel=0.02)
    gray = gaussian_noise(image, 10 / 255, torch.Generator().manual_seed(0), gray=True)
    assert torch.equal(gray[:, 0], gray[:, 1])


def test_presets_reproduce_exactly_and_depend_on_the_seed() -> None:
    a = make_sample(EXAMPLE, 4, EXAMPLE.parent, "noise10", seed=3)
    b = make_sample(EXAMPLE, 4, EXAMPLE.parent, "noise10", seed=3)
    c = make_sample(EXAMPLE, 4, EXAMPLE.parent, "noise10", seed=4)
    clean = make_sample(EXAMPLE, 4, EXAMPLE.parent)
    assert torch.equal(a.lr, b.lr) and not torch.equal(a.lr, c.lr)
    assert float((a.lr - clean.lr).std()) * 255 == pytest.approx(10, rel=0.1)
    assert torch.equal(a.lr, (a.lr * 255).round() / 255), "on the 8-bit grid, as a saved LR file"
    j1, j2 = (make_sample(EXAMPLE, 4, EXAMPLE.parent, "jpeg75", seed=s).lr for s in (0, 9))
    assert torch.equal(j1, j2), "JPEG is deterministic"
    lr_u8 = (clean.lr[0] * 255).round().byte().permute(1, 2, 0).numpy()
    assert np.array_equal((j1[0] * 255).round().byte().permute(1, 2, 0).numpy(), jpeg(lr_u8, 75, "4:2:0"))
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade(clean.lr, "jpeg12", "x", 0)


def test_blockiness_of_an_upscale_compares_like_with_like_phases() -> None:
    # a smooth ramp upscaled x4 by repeating pixels: every step sits between LR pixels (phase 3)
    lr = torch.arange(64, dtype=torch.float64).repeat(64, 1) * 2
    sr = lr.repeat_interleave(4, 0).repeat_interleave(4, 1)
    assert blockiness(sr, 32, lattice=4) == pytest.approx(1.0)
    assert blockiness(sr, 32) > 3, "without the phase rule the interpolator's own steps look like blocks"


def test_bicubic_of_jpeg_inputs_is_blocky_and_of_clean_ones_is_not() -> None:
    clean = evaluate_folder(EXAMPLE.parent, None, 4, with_niqe=False)
    damaged = evaluate_folder(EXAMPLE.parent, None, 4, with_niqe=False, degradation="jpeg75")
    assert 0.9 < clean.mean("block") < 1.1  # type: ignore[operator]
    assert damaged.mean("block") > clean.mean("block") + 0.05  # type: ignore[operator]
    assert damaged.mean("psnr_y") < clean.mean("psnr_y")  # type: ignore[operator]


# ---- the realistic training pipeline ----------------------------------------------------------


def _dataset(tmp_path: Path, realistic: bool, clean_prob: float = 0.0, light_prob: float = 0.0):  # type: ignore[no-untyped-def]
    from srgan.data.dataset import SRTrainDataset
    from srgan.data.degradations import RealisticConfig

    folder = tmp_path / "hr"
    if not folder.exists():
        folder.mkdir()
        rng = np.random.default_rng(0)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    degradation = RealisticConfig(clean_prob=clean_prob, light_prob=light_prob) if realistic else None
    return SRTrainDataset([folder], 4, 32, degradation=degradation)


def _lr_batches(ds, workers: int, start: int = 0, n: int = 3) -> list[torch.Tensor]:  # type: ignore[no-untyped-def]
    import itertools

    from torch.utils.data import DataLoader

    from srgan.data.dataset import InfiniteSampler

    loader = DataLoader(ds, batch_size=4, sampler=InfiniteSampler(len(ds), seed=5, start=start), num_workers=workers)
    return [batch.lr for batch in itertools.islice(loader, n)]


def test_realistic_lr_depends_only_on_seed_and_position(tmp_path: Path) -> None:
    ds = _dataset(tmp_path, realistic=True)
    zero, two = _lr_batches(ds, 0), _lr_batches(ds, 2)
    for a, b in zip(zero, two, strict=True):
        assert torch.equal(a, b), "the same batches with 0 or 2 workers"
    resumed = _lr_batches(ds, 0, start=4, n=2)  # resuming at stream position 4 = from the second batch on
    for a, b in zip(zero[1:], resumed, strict=True):
        assert torch.equal(a, b)
    bicubic = _lr_batches(_dataset(tmp_path, realistic=False), 0)
    assert not torch.equal(zero[0], bicubic[0]), "the pipeline changes the LR"
    assert zero[0].shape == bicubic[0].shape == (4, 3, 8, 8)
    assert torch.equal(zero[0], (zero[0] * 255).round() / 255), "on the 8-bit grid"


def test_clean_prob_keeps_that_share_of_samples_on_the_clean_protocol_lr(tmp_path: Path) -> None:
    mixed = _dataset(tmp_path, realistic=True, clean_prob=0.5)
    got = torch.cat(_lr_batches(mixed, 0, n=6))
    clean = torch.cat(_lr_batches(_dataset(tmp_path, realistic=False), 0, n=6))
    same = [torch.equal(a, b) for a, b in zip(got, clean, strict=True)]
    assert 4 <= sum(same) <= 20, f"about half of 24 samples keep the bicubic LR, got {sum(same)}"
    assert torch.equal(got, torch.cat(_lr_batches(mixed, 2, n=6))), "still the same with 0 or 2 workers"
    light = torch.cat(_lr_batches(_dataset(tmp_path, realistic=True, light_prob=1.0), 0, n=6))
    assert not any(torch.equal(a, b) for a, b in zip(light, clean, strict=True)), "every light sample is re-encoded"
    assert (light - clean).abs().mean() < 0.05, "but only by a JPEG round: the same picture"
    assert torch.equal(light, (light * 255).round() / 255)


def _block_phase(image: torch.Tensor) -> tuple[int, int]:
    """The (row, column) where an image's strongest 8-periodic steps put the start of a block."""
    y = image.mean(dim=0).double()
    phases = []
    for steps in ((y[1:, :] - y[:-1, :]).abs().T, (y[:, 1:] - y[:, :-1]).abs()):
        k = torch.arange(steps.shape[1])
        profile = torch.stack([steps[:, k % 8 == p].mean() for p in range(8)])
        phases.append((int(profile.argmax()) + 1) % 8)  # step k leads into pixel k + 1
    return phases[0], phases[1]


def test_jpeg_grid_shift_puts_the_block_grid_where_the_sample_says() -> None:
    from srgan.data.degradations import RealisticConfig, jpeg_of_lr

    # noise on grey: a strong JPEG keeps little but each block's mean, so its steps sit on the block edges
    noise = torch.rand(1, 64, 64, generator=torch.Generator().manual_seed(0)).expand(3, 64, 64)
    lr = ((0.4 + 0.2 * noise) * 255).round() / 255
    strong = RealisticConfig(jpeg_quality=(15, 15), jpeg_grid_shift=True)
    starts = set()
    for seed in range(12):
        out, grid = jpeg_of_lr(lr, strong, torch.Generator().manual_seed(seed))
        assert grid is not None and _block_phase(out) == grid
        starts.add(grid)
    assert len(starts) >= 6, f"the grid moves from sample to sample, got {starts}"
    plain = RealisticConfig(jpeg_quality=(15, 15))
    out, grid = jpeg_of_lr(lr, plain, torch.Generator().manual_seed(0))
    assert grid == (0, 0) and _block_phase(out) == (0, 0)
    assert np.array_equal((out * 255).round().byte().permute(1, 2, 0).numpy(), jpeg(_u8(lr), 15))


def _u8(image: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray((image * 255).round().byte().permute(1, 2, 0).numpy())


def test_the_dataset_reports_each_samples_jpeg_grid(tmp_path: Path) -> None:
    from srgan.data.dataset import NO_GRID, SampleKey, SRTrainDataset
    from srgan.data.degradations import RealisticConfig

    folder = tmp_path / "hr"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)).save(folder / "a.png")

    def grids(**options: object) -> list[tuple[int, int]]:
        ds = SRTrainDataset([folder], 4, 32, degradation=RealisticConfig(**options))  # type: ignore[arg-type]
        return [tuple(ds[SampleKey(0, seed)].jpeg_grid.tolist()) for seed in range(16)]  # type: ignore[misc]

    assert set(grids(clean_prob=1.0)) == {NO_GRID}
    assert set(grids(light_prob=1.0)) == {(0, 0)}  # without the shift every JPEG grid starts at the origin
    shifted = grids(light_prob=1.0, jpeg_grid_shift=True)
    assert all(0 <= r < 8 and 0 <= c < 8 for r, c in shifted) and len(set(shifted)) >= 6
    # the full pipeline: a grid where its last step is the JPEG, none where a resize came after it
    full = grids(jpeg_grid_shift=True)
    assert NO_GRID in full and any(g != NO_GRID for g in full)


def test_each_degradation_does_what_it_says() -> None:
    from srgan.data.degradations import blur_kernel, poisson_noise, sinc_kernel

    for kind in ("iso", "aniso", "generalized", "plateau"):
        k = blur_kernel(kind, 21, 2.0, 1.0 if kind != "iso" else 2.0, 0.3, 2.0)
        assert k.shape == (21, 21) and float(k.sum()) == pytest.approx(1.0) and bool((k >= 0).all())
    iso = blur_kernel("iso", 21, 2.0, 2.0, 0.0, 2.0)
    assert torch.allclose(iso, iso.T), "isotropic"
    aniso = blur_kernel("aniso", 21, 3.0, 0.5, 0.0, 2.0)
    assert float(aniso[10].sum()) > 2 * float(aniso[:, 10].sum()), "wide along x, narrow along y"
    s = sinc_kernel(21, math.pi / 3)
    assert float(s.sum()) == pytest.approx(1.0) and float(s.min()) < 0, "a sinc rings: it has negative lobes"
    flat = torch.full((3, 64, 64), 0.5)
    noisy = poisson_noise(flat, 1.0, torch.Generator().manual_seed(0))
    assert float((noisy - flat).std()) > 0.005
    assert torch.equal(poisson_noise(flat, 1.0, torch.Generator().manual_seed(0)), noisy), "seeded"


def test_the_config_selects_the_pipeline(tmp_path: Path) -> None:
    from srgan.training.config import ConfigError, build_config

    cfg = build_config(
        "cpu",
        "srresnet",
        None,
        [f"data.hr_dirs=[{tmp_path}]", "data.degradation=realistic", "data.realistic.jpeg_quality=[50, 60]"],
    )
    cfg.validate()
    assert cfg.data.realistic.jpeg_quality == (50, 60)
    with pytest.raises(ConfigError, match=r"data\.degradation must be one of bicubic, realistic"):
        build_config("cpu", "srresnet", None, [f"data.hr_dirs=[{tmp_path}]", "data.degradation=jpeg"]).validate()


def test_the_realistic_preset_is_one_reproducible_draw_per_image() -> None:
    a = make_sample(EXAMPLE, 4, EXAMPLE.parent, "realistic", seed=0)
    b = make_sample(EXAMPLE, 4, EXAMPLE.parent, "realistic", seed=0)
    c = make_sample(EXAMPLE, 4, EXAMPLE.parent, "realistic", seed=1)
    clean = make_sample(EXAMPLE, 4, EXAMPLE.parent)
    assert torch.equal(a.lr, b.lr) and not torch.equal(a.lr, c.lr)
    assert a.lr.shape == clean.lr.shape and not torch.equal(a.lr, clean.lr)
    assert torch.equal(a.lr, (a.lr * 255).round() / 255)
