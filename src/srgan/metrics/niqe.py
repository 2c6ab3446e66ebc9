"""NIQE (Mittal, Soundararajan, Bovik 2013), following the LIVE MATLAB release step by step.

The image is a luma plane in [0, 255] (rounded to integers, as MATLAB reads it); it is cut to
whole 96x96 blocks; at two scales (full, then MATLAB-imresize by 0.5) each block's
mean-subtracted, contrast-normalised (MSCN) coefficients are fitted with generalised Gaussians
(18 features per block per scale); the fitted multivariate Gaussian is compared with the
pristine model shipped with the package. Lower is more natural.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import numpy as np
import torch
import torch.nn.functional as F

from srgan.data.imresize import imresize

BLOCK = 96


@lru_cache(maxsize=1)
def pristine_model() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mu 36, cov 36x36, 7x7 window) from niqe_pris_params.npz (see NIQE_CREDIT.txt)."""
    with resources.files("srgan.metrics").joinpath("niqe_pris_params.npz").open("rb") as f:
        params = np.load(f)
        return params["mu_pris_param"].ravel(), params["cov_pris_param"], params["gaussian_window"]


@lru_cache(maxsize=1)
def _gamma_table() -> tuple[np.ndarray, np.ndarray]:
    gam = np.arange(0.2, 10.001, 0.001)
    lg = np.vectorize(math.lgamma)
    r_gam = np.exp(2 * lg(2 / gam) - lg(1 / gam) - lg(3 / gam))
    return gam, r_gam


def _aggd_fit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Asymmetric generalised Gaussian fit per row of ``v`` (MATLAB estimateaggdparam)."""
    neg, pos = v < 0, v > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        left_std = np.sqrt((np.where(neg, v * v, 0).sum(1)) / neg.sum(1))
        right_std = np.sqrt((np.where(pos, v * v, 0).sum(1)) / pos.sum(1))
        gammahat = left_std / right_std
        rhat = np.mean(np.abs(v), 1) ** 2 / np.mean(v * v, 1)
        rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    gam, r_gam = _gamma_table()
    alpha = gam[np.argmin((r_gam[None, :] - rhatnorm[:, None]) ** 2, axis=1)]
    ratio = np.sqrt(np.exp(np.vectorize(math.lgamma)(1 / alpha) - np.vectorize(math.lgamma)(3 / alpha)))
    return alpha, left_std * ratio, right_std * ratio


def _block_features(blocks: np.ndarray) -> np.ndarray:
    """(n, bh, bw) MSCN blocks -> (n, 18) features (MATLAB computefeature)."""
    n = blocks.shape[0]
    flat = blocks.reshape(n, -1)
    alpha, bl, br = _aggd_fit(flat)
    feats = [alpha, (bl + br) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (-1, 1)):
        pair = (blocks * np.roll(blocks, shift, axis=(1, 2))).reshape(n, -1)
        alpha, bl, br = _aggd_fit(pair)
        gl = np.vectorize(math.lgamma)
        mean = (br - bl) * np.exp(gl(2 / alpha) - gl(1 / alpha))
        feats += [alpha, mean, bl, br]
    return np.stack(feats, axis=1)


def _mscn(image: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """MATLAB imfilter(..., 'replicate') based MSCN coefficients of a float64 plane."""
    pad = window.shape[-1] // 2
    x = F.pad(image[None, None], (pad, pad, pad, pad), mode="replicate")
    xx = F.pad((image * image)[None, None], (pad, pad, pad, pad), mode="replicate")
    mu = F.conv2d(x, window)[0, 0]
    sigma = torch.sqrt(torch.abs(F.conv2d(xx, window)[0, 0] - mu * mu))
    return (image - mu) / (sigma + 1)


def niqe(plane: np.ndarray | torch.Tensor) -> float:
    """NIQE of a luma plane (H, W) with values in [0, 255]; needs at least 96x96 pixels."""
    image = torch.as_tensor(np.asarray(plane), dtype=torch.float64).round()
    h, w = image.shape
    bh, bw = h // BLOCK, w // BLOCK
    if bh == 0 or bw == 0:
        raise ValueError(f"NIQE needs an image of at least {BLOCK}x{BLOCK} pixels, got {w}x{h}")
    image = image[: bh * BLOCK, : bw * BLOCK]
    mu_p, cov_p, window_np = pristine_model()
    window = torch.from_numpy(window_np).to(torch.float64)[None, None]
    features = []
    for scale in (1, 2):
        size = BLOCK // scale
        mscn = _mscn(image, window).numpy()
        blocks = mscn.reshape(bh, size, bw, size).transpose(0, 2, 1, 3).reshape(-1, size, size)
        features.append(_block_features(blocks))
        if scale == 1:
            image = imresize(image / 255.0, 0.5) * 255.0
    dist = np.concatenate(features, axis=1)
    mu_d = np.nanmean(dist, axis=0)
    clean = dist[~np.isnan(dist).any(axis=1)]
    cov_d = np.cov(clean, rowvar=False)
    diff = mu_p - mu_d
    return float(np.sqrt(diff @ np.linalg.pinv((cov_p + cov_d) / 2) @ diff))
