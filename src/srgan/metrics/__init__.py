"""Image-quality metrics with the SR literature's MATLAB conventions."""

from srgan.metrics.blockiness import blockiness
from srgan.metrics.full_reference import psnr, psnr_rgb, psnr_y, rgb_to_luma, rgb_to_y, ssim, ssim_y
from srgan.metrics.lattice import flat_lattice_score, lattice_score, phase_energy_spread
from srgan.metrics.niqe import niqe

__all__ = [
    "blockiness",
    "flat_lattice_score",
    "lattice_score",
    "niqe",
    "phase_energy_spread",
    "psnr",
    "psnr_rgb",
    "psnr_y",
    "rgb_to_luma",
    "rgb_to_y",
    "ssim",
    "ssim_y",
]
