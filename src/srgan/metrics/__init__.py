"""Image-quality metrics with the SR literature's MATLAB conventions."""

from srgan.metrics.full_reference import psnr, psnr_rgb, psnr_y, rgb_to_luma, rgb_to_y, ssim, ssim_y
from srgan.metrics.lattice import lattice_score
from srgan.metrics.niqe import niqe

__all__ = ["lattice_score", "niqe", "psnr", "psnr_rgb", "psnr_y", "rgb_to_luma", "rgb_to_y", "ssim", "ssim_y"]
