"""Blockiness: how much stronger the steps across a JPEG's 8 x 8 block boundaries are than the steps
elsewhere, measured where those boundaries land in the image (every 8 x scale pixels after an x``scale``
upscale of a JPEG). A clean image scores about 1; visible blocking 1.2 and more."""

from __future__ import annotations

import torch


def blockiness(plane: torch.Tensor, period: int = 8, lattice: int = 1) -> float:
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
        # step k lies between pixel k and k + 1; a boundary step is the one into a new block
        k = torch.arange(steps.shape[1])
        boundary = k % period == period - 1
        same_phase = k % lattice == (period - 1) % lattice
        at_boundary.append(steps[:, boundary].flatten())
        inside.append(steps[:, same_phase & ~boundary].flatten())
    across, within = torch.cat(at_boundary).mean(), torch.cat(inside).mean()
    return float(across / within.clamp_min(1e-12))
