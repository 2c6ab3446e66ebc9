"""Blockiness: how much stronger the steps across a JPEG's 8 x 8 block boundaries are than the steps
elsewhere, measured where those boundaries land in the image (every 8 x scale pixels after an x``scale``
upscale of a JPEG). A clean image scores about 1; visible blocking 1.2 and more."""

from __future__ import annotations

import torch

from srgan.data.degradations import JPEG_BLOCK


def boundary_steps(
    count: int, period: int, lattice: int, device: torch.device | None = None, start: int | torch.Tensor = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks over ``count`` steps (step k lies between pixel k and k + 1): the steps into a new block
    of ``period`` pixels, the first block starting at pixel ``start`` mod ``period``, and the other steps
    at the same phase of an x``lattice`` upscale. A ``start`` tensor of shape (N, 1) gives (N, count)
    masks, one row per start. Shared by ``blockiness`` and ``srgan.losses.block_step_loss``, so the loss
    looks where the metric does."""
    k = torch.arange(count, device=device) - start
    boundary = k % period == period - 1
    same_phase = k % lattice == (period - 1) % lattice
    return boundary, same_phase & ~boundary


def blockiness(plane: torch.Tensor, period: int = JPEG_BLOCK, lattice: int = 1) -> float:
    """Mean |step| across the block boundaries over mean |step| elsewhere, for a (H, W) plane
    (e.g. the Y channel, 0..255), horizontal and vertical steps pooled.

    ``lattice``: the upscale factor when ``plane`` is an upscaled image. Its steps then differ by
    sub-pixel phase (an interpolator's step between two LR pixels is not its step inside one), and
    every block boundary sits at the same phase; so "elsewhere" is the steps at that same phase,
    which makes a clean bicubic enlargement score 1."""
    if plane.dim() != 2:
        raise ValueError(f"blockiness takes a (H, W) plane, got shape {tuple(plane.shape)}")
    if min(plane.shape) < 2 * period + 1:
        raise ValueError(f"the plane is too small for blocks of {period} pixels: {tuple(plane.shape)}")
    p = plane.to(torch.float64)
    at_boundary, inside = [], []
    for steps in ((p[:, 1:] - p[:, :-1]).abs(), (p[1:, :] - p[:-1, :]).abs().T):
        boundary, elsewhere = boundary_steps(steps.shape[1], period, lattice)
        at_boundary.append(steps[:, boundary].flatten())
        inside.append(steps[:, elsewhere].flatten())
    across, within = torch.cat(at_boundary).mean(), torch.cat(inside).mean()
    return float(across / within.clamp_min(1e-12))
