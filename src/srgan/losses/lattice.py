"""srgan's own terms against the period-``scale`` pattern a generator can draw on its PixelShuffle lattice
(a grid, a mesh in flat areas, phase-dependent ripples); ``srgan.metrics.lattice`` measures the same
patterns."""

from __future__ import annotations

from functools import partial

import torch

from srgan.losses.compose import GeneratorBatch, TermContext, TermFunction
from srgan.losses.settings import TermSettings
from srgan.metrics.lattice import FLAT_CELL_RMS_LEVELS, flat_cells, flat_phase_means, phase_blocks


def lattice_loss(sr: torch.Tensor, period: int) -> torch.Tensor:
    """Mean square of the per-phase means of SR's high-pass on its period x period sub-pixel
    lattice, averaged over the batch.

    A x``period`` generator places its PixelShuffle outputs on that lattice, so it can draw a
    fixed period-``period`` pattern (a grid) in every image. Image detail lands on every phase
    alike, so its phase means average out over the blocks and images of a batch; a grid is the
    same in every image and does not. This term therefore sees the grid and not the texture.
    """
    return phase_blocks(sr.float(), period).mean(dim=(0, 2, 4)).pow(2).mean()


def lattice_error_loss(sr: torch.Tensor, hr: torch.Tensor, period: int) -> torch.Tensor:
    """Mean square of each image's per-phase means of the high-pass of SR - HR.

    ``lattice_loss`` pools the phase means over the batch, so it sees only the part of a grid that
    every image shares; a pattern whose sign or strength follows the content of each image (the
    grid that remains, measured per image by ``metrics.lattice_score``) averages out there. Taken per
    image, the phase means of SR alone would also penalise the chance alignment of real detail with
    the lattice (HR scores 0.12-0.14); those of the error SR - HR ask for exactly what HR has.
    """
    return phase_blocks((sr - hr).float(), period).mean(dim=(2, 4)).pow(2).mean()


def flat_lattice_error_loss(sr: torch.Tensor, hr: torch.Tensor, period: int) -> torch.Tensor:
    """Mean square of the per-phase means of the high-pass of SR - HR over the period x period cells
    where HR is flat (``metrics.lattice.flat_cells``), pooled over the batch.

    Averaged over whole patches, the phase means are dominated by the textured cells, and a faint
    mesh that a generator draws only in smooth areas (a perceptual loss that rewards texture
    everywhere) is diluted by the share of textured cells (14% of the cells of realistic training
    patches are flat) and hidden by their error. Restricted to HR's flat cells, that mesh is what
    remains. Pooled over the batch as ``lattice_loss`` is: one patch's few flat cells carry grain
    (SR of noisy input) whose phase means are as large as the mesh, and per-patch means made a
    pilot chase that noise. Below ``FLAT_CELLS_MIN`` flat cells the mean is shrunk toward zero (8
    cells count 1/8); none adds nothing. Its gradient is stiff (a tiny value with a large gradient on
    the last layers): x1000 is as strong as the other terms of configs/srgan_x4_real.yaml, x4000 made
    the generator oscillate (docs/results/srgan_x4_real_ablation.md).
    """
    flat = flat_cells(phase_blocks(hr.float(), period), FLAT_CELL_RMS_LEVELS / 255.0)
    return flat_phase_means(phase_blocks((sr - hr).float(), period), flat).pow(2).mean()


def lattice_energy_loss(sr: torch.Tensor, period: int) -> torch.Tensor:
    """Mean square deviation from 1 of the high-pass energy per sub-pixel phase, relative to its mean,
    pooled over the batch.

    ``lattice_loss`` sees a pattern of one sign; a generator can also draw detail whose sign follows
    the content (ripples along edges) but whose strength depends on the phase: every fourth row
    weaker, say. In natural images the energy is the same on every phase (within 1-2% over BSD100);
    this term asks the same of SR.
    """
    energy = phase_blocks(sr.float(), period).pow(2).mean(dim=(0, 2, 4))  # (channels, period, period)
    relative = energy / energy.mean(dim=(1, 2), keepdim=True).clamp_min(1e-12)
    return (relative - 1).pow(2).mean()


# ---- the terms' builders (srgan.losses.registry) ------------------------------------------------


def _of_sr(loss: object, period: int, batch: GeneratorBatch) -> torch.Tensor:
    return loss(batch.sr, period)  # type: ignore[operator,no-any-return]


def _of_sr_hr(loss: object, period: int, batch: GeneratorBatch) -> torch.Tensor:
    return loss(batch.sr, batch.hr, period)  # type: ignore[operator,no-any-return]


def lattice_term(_settings: TermSettings, context: TermContext) -> TermFunction:
    return partial(_of_sr, lattice_loss, context.scale)


def lattice_error_term(_settings: TermSettings, context: TermContext) -> TermFunction:
    return partial(_of_sr_hr, lattice_error_loss, context.scale)


def flat_lattice_error_term(_settings: TermSettings, context: TermContext) -> TermFunction:
    return partial(_of_sr_hr, flat_lattice_error_loss, context.scale)


def lattice_energy_term(_settings: TermSettings, context: TermContext) -> TermFunction:
    return partial(_of_sr, lattice_energy_loss, context.scale)
