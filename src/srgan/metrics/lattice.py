"""Grid score: how much of an image's fine detail is locked to the x``period`` pixel lattice.

A x4 generator writes each output pixel from one of 4 x 4 sub-pixel positions (PixelShuffle),
so it can draw the same small pattern in every 4 x 4 cell: a grid or checkerboard, the classic
artifact of adversarially trained upsamplers. Natural detail falls on every lattice phase alike.
The score is the standard deviation, over the period x period phases, of the mean 3 x 3 high-pass
residual of the image's Y channel at that phase, in 8-bit levels. Natural HR images score about
0.12 (Set5/Set14/BSD100 means 0.135/0.116/0.115), an SRResNet 0.06, bicubic 0.01; a grid faintly
visible at 3x zoom scores about 0.5, a plain one 1 and more.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def lattice_score(plane: torch.Tensor, period: int = 4) -> float:
    """The grid score of a (H, W) float plane of 0..255 values (e.g. ``rgb_to_y`` of an image)."""
    phase_means = _plane_phase_blocks(plane, period, "lattice_score").mean(dim=(0, 2))
    return float(phase_means.std())


# A period x period cell is flat when the RMS of its 3 x 3 high-pass residual is below one 8-bit level: smooth
# sky, walls, skin, where any lattice-locked pattern is a visible mesh and none of it is detail.
FLAT_CELL_RMS_LEVELS = 1.0
# Phase means over fewer flat cells are those cells' own grain rather than a pattern.
FLAT_CELLS_MIN = 64


def flat_cells(reference_blocks: torch.Tensor, threshold: float) -> torch.Tensor:
    """The (batch, rows, cols) mask of the flat cells of ``phase_blocks`` output (RMS over channels
    and the cell below ``threshold``, in the blocks' units)."""
    return reference_blocks.pow(2).mean(dim=(1, 3, 5)).sqrt() < threshold


def flat_phase_means(blocks: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
    """The per-phase means of ``phase_blocks`` output over the cells ``flat`` marks (a ``flat_cells``
    mask), pooled over the batch, as (channels, period, period). The sum is divided by at least
    ``FLAT_CELLS_MIN`` cells, so fewer flat cells count less. Shared by ``flat_lattice_score`` and
    ``srgan.losses.flat_lattice_error_loss``."""
    weight = flat.to(blocks.dtype)[:, None, :, None, :, None]
    return (blocks * weight).sum(dim=(0, 2, 4)) / weight.sum(dim=(0, 2, 4)).clamp_min(FLAT_CELLS_MIN)


def flat_lattice_score(plane: torch.Tensor, reference: torch.Tensor, period: int = 4) -> float | None:
    """The grid score of ``plane`` over only the cells where ``reference`` (the HR, same shape) is
    flat, or None when it has fewer than ``FLAT_CELLS_MIN`` such cells.

    A mesh that a generator draws only in smooth areas is diluted in ``lattice_score`` by the
    textured cells and hidden by their detail; here it is what remains. An HR plane scores about 0
    against itself; on BSD100 bicubic 0.025, srresnet-x4 0.040 (Grid: 0.009, 0.056).
    """
    blocks = _plane_phase_blocks(plane, period, "flat_lattice_score")[None, None]
    flat = flat_cells(_plane_phase_blocks(reference, period, "flat_lattice_score")[None, None], FLAT_CELL_RMS_LEVELS)
    if int(flat.sum()) < FLAT_CELLS_MIN:
        return None
    return float(flat_phase_means(blocks, flat).std())


def phase_energy_spread(plane: torch.Tensor, period: int = 4) -> float:
    """Max over min, across the period x period phases, of the mean squared high-pass residual.

    The grid score sees a pattern of one sign; this sees detail whose sign follows the content but
    whose strength follows the phase (ripples with every fourth row weaker). Natural images: about
    1.1 (BSD100 mean 1.11); 1 means every phase carries the same detail.
    """
    energy = _plane_phase_blocks(plane, period, "phase_energy_spread").pow(2).mean(dim=(0, 2))
    return float(energy.max() / energy.min().clamp_min(1e-12))


def phase_blocks(x: torch.Tensor, period: int) -> torch.Tensor:
    """The 3 x 3 high-pass residual of a (batch, channels, H, W) tensor, cut to whole periods, as
    (batch, channels, rows, period, columns, period) blocks: axis 3 and 5 are the sub-pixel phase.
    Shared by these metrics and the training losses against grids (``srgan.losses``)."""
    b, c, h, w = x.shape
    h, w = h - h % period, w - w % period
    smooth = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    return (x - smooth)[..., :h, :w].reshape(b, c, h // period, period, w // period, period)


def _plane_phase_blocks(plane: torch.Tensor, period: int, caller: str) -> torch.Tensor:
    """``phase_blocks`` of one (H, W) plane in float64, as (rows, period, columns, period)."""
    if plane.dim() != 2:
        raise ValueError(f"{caller} takes a (H, W) plane, got shape {tuple(plane.shape)}")
    if min(plane.shape) < 3 * period:
        raise ValueError(f"the plane is too small for a period-{period} grid score: {tuple(plane.shape)}")
    return phase_blocks(plane.to(torch.float64)[None, None], period)[0, 0]
