from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan.metrics import (
    flat_lattice_score,
    lattice_score,
    niqe,
    phase_energy_spread,
    psnr,
    psnr_rgb,
    psnr_y,
    rgb_to_y,
    ssim,
    ssim_y,
)

from .conftest import shared_path


def rng_image(seed: int, shape: tuple[int, ...] = (48, 40, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_rgb_to_y_matches_matlab_formula() -> None:
    px = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0]]], dtype=np.uint8)
    y = rgb_to_y(px, round_y=False)[0]
    torch.testing.assert_close(
        y, torch.tensor([16 + 65.481, 16 + 128.553, 16 + 24.966, 235.0, 16.0], dtype=torch.float64)
    )
    assert torch.equal(rgb_to_y(px)[0], y.round())


def test_psnr_known_value() -> None:
    a = torch.zeros(10, 10, dtype=torch.float64)
    b = a + 5.0  # MSE 25
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 25))
    assert psnr(a, a) == math.inf


def test_psnr_y_crops_the_border() -> None:
    hr = rng_image(0)
    sr = hr.copy()
    sr[:4] = 0  # damage only the 4-px border
    sr[:, :4] = 0
    assert psnr_y(sr, hr, border=4) == math.inf
    assert psnr_y(sr, hr, border=0) < 30


def test_ssim_is_one_for_identical_and_drops_with_noise() -> None:
    hr = rng_image(1).astype(np.float64)
    plane = torch.from_numpy(hr[..., 0])
    assert ssim(plane, plane) == pytest.approx(1.0)
    noisy = (plane + torch.from_numpy(np.random.default_rng(2).normal(0, 60, plane.shape))).clamp(0, 255)
    assert 0 < ssim(plane, noisy) < 0.9


def test_ssim_matches_a_direct_formula_on_one_window() -> None:
    """On an 11x11 image the 'valid' map is one value: the SSIM formula with Gaussian-weighted stats."""
    rng = np.random.default_rng(3)
    a = torch.from_numpy(rng.uniform(0, 255, (11, 11)))
    b = torch.from_numpy(rng.uniform(0, 255, (11, 11)))
    r = torch.arange(11, dtype=torch.float64) - 5
    w = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5**2))
    w /= w.sum()
    mx, my = (w * a).sum(), (w * b).sum()
    vx, vy = (w * a * a).sum() - mx**2, (w * b * b).sum() - my**2
    cxy = (w * a * b).sum() - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    expected = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    assert ssim(a, b) == pytest.approx(expected.item(), rel=1e-12)


def test_gray_hr_is_measured_on_its_own_values_against_sr_luma() -> None:
    gray = rng_image(4, (40, 40))
    sr = np.repeat(gray[..., None], 3, axis=2)  # a gray SR in RGB: its luma is the gray value
    assert psnr_y(sr, gray, border=4) == math.inf
    assert ssim_y(sr, gray, border=4) == pytest.approx(1.0)
    assert psnr_rgb(sr, gray, border=4) == math.inf


def test_metrics_refuse_float_images() -> None:
    with pytest.raises(TypeError, match="uint8"):
        psnr_y(np.zeros((8, 8, 3)), np.zeros((8, 8, 3), dtype=np.uint8), 0)


def test_niqe_of_baboon_matches_matlab() -> None:
    image = np.asarray(Image.open(shared_path("data", "benchmark", "Set14", "baboon.png")).convert("RGB"))
    assert niqe(rgb_to_y(image)) == pytest.approx(5.7296, abs=1e-3)


def test_niqe_prefers_natural_over_blurred() -> None:
    image = np.asarray(Image.open(shared_path("data", "benchmark", "Set14", "baboon.png")).convert("RGB"))
    blurred = np.asarray(Image.fromarray(image).resize((125, 120), Image.BICUBIC).resize((500, 480), Image.BICUBIC))
    assert niqe(rgb_to_y(blurred)) > niqe(rgb_to_y(image)) + 1.0


def test_niqe_needs_a_block() -> None:
    with pytest.raises(ValueError, match="96x96"):
        niqe(np.zeros((50, 200)))


def test_phase_energy_spread_sees_ripples_of_either_sign() -> None:
    examples = Path(__file__).resolve().parents[1] / "examples"
    photo = rgb_to_y(np.asarray(Image.open(examples / "baboon.png").convert("RGB")))
    assert phase_energy_spread(photo) < 1.3  # natural detail is as strong on every phase
    blur = torch.nn.functional.avg_pool2d(photo[None, None], 3, stride=1, padding=1, count_include_pad=False)[0, 0]
    rippled = photo.clone()
    rippled[1::4] = blur[1::4] + 0.3 * (photo - blur)[1::4]  # every fourth row keeps 30% of its detail
    assert phase_energy_spread(rippled) > 3
    assert lattice_score(rippled) < 0.3, "its sign follows the content, so the grid score misses it"
    assert phase_energy_spread(photo + 10.0) == pytest.approx(phase_energy_spread(photo), rel=1e-9)
    with pytest.raises(ValueError, match="phase_energy_spread takes a"):
        phase_energy_spread(torch.zeros(3, 20, 20))


def test_flat_lattice_score_sees_a_faint_mesh_in_a_smooth_area_that_the_whole_image_score_misses() -> None:
    examples = Path(__file__).resolve().parents[1] / "examples"
    photo = rgb_to_y(np.asarray(Image.open(examples / "baboon.png").convert("RGB")))
    hr = photo.clone()
    hr[:, :64] = 100.0 + torch.linspace(0, 8, hr.shape[0])[:, None]  # a smooth sky strip beside the fur
    mesh = torch.zeros_like(hr)
    mesh[::4, :64:4] = 1.0  # one grey level brighter, one pixel in every 4 x 4 cell of the sky
    assert flat_lattice_score(hr, hr) < 0.01  # the HR itself: what leaks in from the fur next to the sky
    assert flat_lattice_score(hr + mesh, hr) > 0.2
    assert lattice_score(hr + mesh) < 1.5 * lattice_score(hr), "diluted by the textured cells"
    # a smooth plane without a mesh scores ~0 whatever its own fine structure (the SR's fur here)
    assert flat_lattice_score(hr + 0.3 * torch.randn_like(hr), hr) < 0.05
    assert flat_lattice_score(photo, photo) is None, "the baboon has no smooth area: no score"


def test_lattice_score_is_low_for_a_photo_and_high_with_a_faint_grid() -> None:
    examples = Path(__file__).resolve().parents[1] / "examples"
    photo = rgb_to_y(np.asarray(Image.open(examples / "baboon.png").convert("RGB")))
    assert lattice_score(photo) < 0.3  # natural detail lands on every sub-pixel phase alike
    grid = torch.zeros_like(photo)
    grid[::4, :] += 1.0  # one grey level brighter on every fourth row
    grid[:, 1::4] -= 1.0  # and one darker on every fourth column
    assert lattice_score(photo + grid) > 0.5
    brighter = lattice_score(photo + 10.0)
    assert brighter == pytest.approx(lattice_score(photo), abs=1e-9)  # brightness is not a grid
    assert lattice_score(photo + grid, period=3) < lattice_score(photo + grid, period=4)  # it is period 4
    with pytest.raises(ValueError, match="plane"):
        lattice_score(torch.zeros(3, 20, 20))
    with pytest.raises(ValueError, match="too small"):
        lattice_score(torch.zeros(8, 8))
