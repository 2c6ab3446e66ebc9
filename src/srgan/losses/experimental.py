"""Terms no shipped recipe uses, kept for the pilots that tried them (docs/results/srgan_x4_real_ablation.md):

- ``flat_band`` (a period-4 hatching in HR's flat areas): at weight 100 it took the hatching measure from 8.2
  to 1.5 in 100 iterations but smoothed the output of damaged input too (NIQE on ``realistic`` +0.4, -0.1 dB
  on clean input), so no bundled model uses it.
- ``block_step`` (SR's excess steps across the LR's JPEG block boundaries): at weight 1-3 it lowered the block
  steps on JPEG input (1.14 to 1.07-1.11) but raised NIQE on ``realistic`` input (a generator that cannot
  see where the grid lies softens every step at the LR pixel-edge phase); ``smooth_levels`` (only between
  smooth HR cells) changed neither its numbers nor the fur.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from srgan.losses.compose import GeneratorBatch, TermContext, TermFunction
from srgan.losses.settings import BlockStepSettings, TermSettings
from srgan.metrics.blockiness import JPEG_BLOCK, boundary_steps
from srgan.metrics.lattice import FLAT_CELL_RMS_LEVELS, flat_cells, phase_blocks

# Cells stacked along a pattern's period-``period`` axis before squaring: a pattern at frequency 1/period on that
# axis adds up coherently over the stack whatever it does along the other axis, random grain does not.
BAND_STACK = 4


def coherent_band_energy(blocks: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
    """The mean, over stacks of ``BAND_STACK`` cells that ``flat`` marks (a ``flat_cells`` mask) and
    over channels and the two axes, of the squared period-``period`` Fourier coefficient of the
    ``phase_blocks`` output ``blocks`` (b, c, rows, period, cols, period) along one axis (averaged
    over the other axis inside each cell, then over the stack), in excess of what cells with
    uncorrelated coefficients give."""
    period = blocks.shape[3]
    mask = flat.to(blocks.dtype)[:, None]
    angle = torch.arange(period, device=blocks.device, dtype=blocks.dtype) * (2 * torch.pi / period)
    total = blocks.new_zeros(())
    for axis, pool in ((3, (BAND_STACK, 1)), (5, (1, BAND_STACK))):
        other = 8 - axis  # 5 or 3
        profile = blocks.mean(dim=other).movedim(axis if axis < other else axis - 1, -1)  # (b, c, rows, cols, p)
        full = (F.avg_pool2d(mask, pool) > 0.999).to(blocks.dtype)
        for wave in (torch.cos(angle), torch.sin(angle)):
            coefficient = (profile * wave).sum(-1) * mask
            # The stack's mean squared, less what uncorrelated cells give it (their mean square / stack):
            # zero on average for grain, most of the energy of a pattern that adds up along the stack. The
            # correction carries no gradient: with one, G lowers the loss without bound by drawing strong
            # uncorrelated patterns (a pilot's generator fell apart so within 100 iterations).
            uncorrelated = F.avg_pool2d(coefficient.pow(2), pool).detach() / BAND_STACK
            excess = F.avg_pool2d(coefficient, pool).pow(2) - uncorrelated
            total = total + (excess * full).sum() / (full.sum().clamp_min(1.0) * blocks.shape[1])
    return total


def flat_band_loss(sr: torch.Tensor, hr: torch.Tensor, period: int) -> torch.Tensor:
    """``coherent_band_energy`` of SR over HR's flat cells, less HR's own (a constant), pooled over
    the batch.

    ``flat_lattice_error_loss`` sees patterns that repeat on the period x period lattice. A
    generator can also draw a pattern at frequency 1/period along one axis and another frequency
    along the other (a diagonal hatching of period 4 x 7-8 pixels in smooth skies): its phase drifts
    from cell to cell, so it averages out of per-phase means over many cells, but it adds up
    along its period-``period`` axis, where this term looks. Random grain does not add up there, and
    the term is of SR alone: HR's grain, which SR cannot predict, puts no noise into its gradient.
    """
    hr_blocks = phase_blocks(hr.float(), period)
    flat = flat_cells(hr_blocks, FLAT_CELL_RMS_LEVELS / 255.0)
    with torch.no_grad():
        reference = coherent_band_energy(hr_blocks, flat)
    return coherent_band_energy(phase_blocks(sr.float(), period), flat) - reference


def block_step_loss(
    sr: torch.Tensor, hr: torch.Tensor, jpeg_grid: torch.Tensor, scale: int, smooth_levels: float = 0.0
) -> torch.Tensor:
    """How much more SR's steps exceed HR's across the LR's JPEG block boundaries (every ``JPEG_BLOCK``
    LR pixels from where each sample's grid starts: ``jpeg_grid`` (N, 2) int, (row, column), negative for
    a sample without a grid, which is left out) than at the same sub-pixel phase elsewhere, horizontal
    and vertical steps summed. ``smooth_levels`` > 0 counts only the steps between two of HR's smooth
    cells (``smooth_pixels``).

    A GAN sharpens the block edges of a JPEG LR like any other edge, and the block steps of its output
    on JPEG input grew in every grid-stage run (``metrics.blockiness``, issue 15). Only the excess over
    HR's step counts, so real edges that happen to lie on a boundary cost nothing; the level elsewhere
    is a constant of the step, so the term lowers the boundary steps rather than raising the others.
    """
    period = JPEG_BLOCK * scale
    total = sr.new_zeros((), dtype=torch.float32)
    smooth = smooth_pixels(hr, scale, smooth_levels)
    for dim, axis in ((-1, 1), (-2, 0)):
        excess = (sr.float().diff(dim=dim).abs() - hr.float().diff(dim=dim).abs()).clamp_min(0)
        # a step counts when the pixels on both its sides do
        steps = smooth.shape[dim] - 1
        counted = smooth.narrow(dim, 0, steps) * smooth.narrow(dim, 1, steps)
        # (samples, steps): the summed excess and the number of counted steps at each step position
        profile = (excess * counted).movedim(dim, -1).sum(dim=(1, 2))
        weight = counted.expand_as(excess).movedim(dim, -1).sum(dim=(1, 2))
        starts = jpeg_grid[:, axis, None].to(sr.device)
        boundary, elsewhere = boundary_steps(profile.shape[1], period, scale, sr.device, starts * scale)
        # masks rather than indexing, so the step never waits for the device to count samples
        boundary, elsewhere = boundary & (starts >= 0), elsewhere & (starts >= 0)
        at_boundary = (profile * boundary).sum() / (weight * boundary).sum().clamp_min(1)
        level = ((profile * elsewhere).sum() / (weight * elsewhere).sum().clamp_min(1)).detach()
        seen = ((weight * boundary).sum() > 0) & ((weight * elsewhere).sum() > 0)
        total = total + torch.where(seen, at_boundary - level, 0.0)
    return total


def smooth_pixels(hr: torch.Tensor, scale: int, levels: float) -> torch.Tensor:
    """A (N, 1, H, W) float mask over HR's pixels: 1 in HR's ``scale`` x ``scale`` cells (one LR pixel
    each) whose high-pass RMS is below ``levels`` grey levels, everywhere when ``levels`` is 0.

    For asking whether the block-step term softens texture through its gradient in textured HR (fur,
    foliage), where real steps lie at every phase: the blocks and the crosshatch show in smooth areas.
    Piloted, the restriction changed neither the term's numbers nor the fur (docs/results/
    srgan_x4_real_ablation.md, ninth session)."""
    if levels <= 0:
        return hr.new_ones((hr.shape[0], 1, *hr.shape[2:]), dtype=torch.float32)
    with torch.no_grad():
        flat = flat_cells(phase_blocks(hr.float(), scale), levels / 255.0)
        pixels = flat.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)[:, None].float()
        # cells cover whole LR pixels; a remainder row or column of HR counts as textured
        return F.pad(pixels, (0, hr.shape[-1] - pixels.shape[-1], 0, hr.shape[-2] - pixels.shape[-2]))


# ---- the terms' builders (srgan.losses.registry) ------------------------------------------------


def _flat_band(period: int, batch: GeneratorBatch) -> torch.Tensor:
    return flat_band_loss(batch.sr, batch.hr, period)


def _block_step(scale: int, smooth_levels: float, batch: GeneratorBatch) -> torch.Tensor:
    if batch.jpeg_grid is None:
        raise ValueError("the block-step term needs each sample's JPEG grid, and this batch has none")
    return block_step_loss(batch.sr, batch.hr, batch.jpeg_grid, scale, smooth_levels)


def flat_band_term(_settings: TermSettings, context: TermContext) -> TermFunction:
    return partial(_flat_band, context.scale)


def block_step_term(settings: TermSettings, context: TermContext) -> TermFunction:
    assert isinstance(settings, BlockStepSettings)
    return partial(_block_step, context.scale, settings.smooth_levels)
