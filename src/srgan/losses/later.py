"""Terms from later papers: the relativistic average GAN (ESRGAN, Wang et al. 2018), feature matching on
D's features (pix2pixHD, Wang et al. 2018), the LDL artifact term (Liang et al., CVPR 2022), a chroma
term against false colour, and two terms that ask for detail's strength without its exact place: the
Fourier amplitude term (Fuoli et al., ICCV 2021) and the gradient variance term (Abrahamyan et al., ICASSP 2022)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from srgan.losses.compose import GeneratorBatch, TermContext, TermFunction
from srgan.losses.paper import bce
from srgan.losses.settings import TermSettings
from srgan.metrics.full_reference import LUMA_WEIGHTS


def relativistic_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Relativistic average GAN (ESRGAN, Wang et al. 2018, eq. 2): D judges whether a real image
    is more realistic than the average fake, and a fake less realistic than the average real.
    Works for one logit per image and for per-pixel logits (U-Net D) alike."""
    real, fake = real_logits.float(), fake_logits.float()
    return 0.5 * (bce(real - fake.mean(), 1.0) + bce(fake - real.mean(), 0.0))


def relativistic_generator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's side of the relativistic average loss: the labels swapped, so G gains from
    the real images' gradients too (pass ``real_logits`` detached)."""
    real, fake = real_logits.float(), fake_logits.float()
    return 0.5 * (bce(real - fake.mean(), 0.0) + bce(fake - real.mean(), 1.0))


def feature_matching_loss(fake_features: list[torch.Tensor], real_features: list[torch.Tensor]) -> torch.Tensor:
    """Mean over D's layers of the L1 distance between its features of SR and of the paired HR
    (pix2pixHD's feature matching). Needs no external network: D's own features serve as the
    perceptual space, and they follow what D currently finds suspicious."""
    if len(fake_features) != len(real_features) or not fake_features:
        raise ValueError("feature matching needs the same, non-empty list of layers for SR and HR")
    total = sum(
        (F.l1_loss(f.float(), r.detach().float()) for f, r in zip(fake_features, real_features, strict=True)),
        torch.zeros((), device=fake_features[0].device),
    )
    return total / len(fake_features)


def artifact_map(
    sr: torch.Tensor, hr: torch.Tensor, sr_ema: torch.Tensor | None = None, window: int = 7
) -> torch.Tensor:
    """Where SR's error looks like an artifact rather than texture (LDL, Liang et al., CVPR 2022).

    The error r = sum over RGB of |HR - SR| is locally erratic where a GAN draws false detail
    (its local variance over ``window`` x ``window`` pixels is high) and smooth where SR is simply
    a little off. The map is that local variance, scaled by the patch's overall error variance to
    the power 1/5 (so clean patches get little weight). With ``sr_ema`` (the output of the weights'
    moving average, which is more stable), pixels where the EMA is even further from HR are left
    out: the error there is the slow-moving kind, not a fresh artifact. Returned detached.
    """
    with torch.no_grad():
        residual = (hr.float() - sr.float()).abs().sum(dim=1, keepdim=True)
        pad = window // 2
        padded = F.pad(residual, (pad, pad, pad, pad), mode="reflect")
        mean = F.avg_pool2d(padded, window, stride=1)
        local_var = (F.avg_pool2d(padded.pow(2), window, stride=1) - mean.pow(2)).clamp_min(0)
        patch_var = residual.var(dim=(1, 2, 3), keepdim=True).pow(0.2)
        weight = patch_var * local_var
        if sr_ema is not None:
            residual_ema = (hr.float() - sr_ema.float()).abs().sum(dim=1, keepdim=True)
            weight = weight * (residual_ema <= residual)
    return weight


def artifact_loss(sr: torch.Tensor, hr: torch.Tensor, sr_ema: torch.Tensor | None = None) -> torch.Tensor:
    """L1 between SR and HR weighted by ``artifact_map``: pulls SR back to HR only where its error
    is artifact-like, leaving realistic texture free."""
    weight = artifact_map(sr, hr, sr_ema)
    return F.l1_loss(weight * sr.float(), weight * hr.float())


# BT.601 chroma rows (Cb, Cr) for RGB in [0, 1]; offsets cancel in a difference.
_CHROMA = torch.tensor([[-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def chroma_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """L1 between the BT.601 Cb/Cr planes of SR and HR.

    Natural images carry little fine detail in chroma, so this leaves the texture the GAN draws in
    luma free while penalising false colour: the red/green fringes a generator invents on aliased
    stripes, where each RGB channel hallucinates its own detail.
    """
    weights = _CHROMA.to(sr.device)
    diff = torch.einsum("kc,bchw->bkhw", weights, sr.float() - hr.float())
    return diff.abs().mean()


def fourier_amplitude_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of SR's and HR's amplitude spectra: the 2-D DFT of each image and channel
    over the whole patch, orthonormal (a coefficient is of the pixels' order, whatever the patch size).

    Fuoli, Van Gool and Timofte (ICCV 2021) train a small perceptual SR network on Fourier-space losses
    instead of a GAN. The amplitude alone is blind to where detail lies (a shift changes only the phase).
    A pixel loss turns detail that a network cannot place exactly (a student copying a larger teacher's
    invented texture) into its average, a blur, which lowers every high-frequency amplitude; this term
    asks for those amplitudes back, so the detail keeps its energy while the pixel loss places what it can.
    """
    spectrum_sr = torch.fft.rfft2(sr.float(), norm="ortho").abs()
    spectrum_hr = torch.fft.rfft2(hr.float(), norm="ortho").abs()
    return (spectrum_sr - spectrum_hr).abs().mean()


# Sobel's horizontal derivative (its transpose is the vertical one).
_SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
GRADIENT_VARIANCE_WINDOW = 8  # HR pixels a side: the paper's patch


def gradient_variance_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between SR's and HR's standard deviations of the luma's Sobel gradients
    (horizontal and vertical) in each ``GRADIENT_VARIANCE_WINDOW``-pixel square window.

    Abrahamyan et al. (ICASSP 2022) compare these variances with a squared error; the standard deviation
    here is in grey levels per pixel, so the term is of a pixel loss's order and a weight of about 1 is
    comparable. Within a window it does not matter where an edge or a grain lies, only how strong the
    window's detail is: a student that blurs what it cannot place exactly (a pixel loss towards a teacher's
    invented texture) loses most of that strength (to about a third of the teacher's, measured on the
    distillation cache), which this term asks back where the teacher has it and nowhere else.
    """
    kernel = torch.stack([_SOBEL, _SOBEL.T])[:, None].to(sr.device)  # (2, 1, 3, 3)
    luma = torch.tensor(LUMA_WEIGHTS, device=sr.device)[None, :, None, None]
    deviations = []
    for image in (sr, hr):
        gradients = F.conv2d((image.float() * luma).sum(1, keepdim=True), kernel)  # valid: no border
        mean = F.avg_pool2d(gradients, GRADIENT_VARIANCE_WINDOW)
        variance = (F.avg_pool2d(gradients.pow(2), GRADIENT_VARIANCE_WINDOW) - mean.pow(2)).clamp_min(0)
        deviations.append((variance + 1e-6).sqrt())  # finite gradient in a flat window
    return (deviations[0] - deviations[1]).abs().mean()


# ---- the terms' builders (srgan.losses.registry) ------------------------------------------------


def _relativistic(batch: GeneratorBatch) -> torch.Tensor:
    assert batch.real_logits is not None and batch.fake_logits is not None
    return relativistic_generator_loss(batch.real_logits, batch.fake_logits)


def relativistic_term(_settings: TermSettings, _context: TermContext) -> TermFunction:
    """ESRGAN's relativistic average adversarial term, in the adversarial term's place (``loss.adversarial: ragan``)."""
    return _relativistic


def _feature_matching(batch: GeneratorBatch) -> torch.Tensor:
    assert batch.fake_features is not None and batch.real_features is not None
    return feature_matching_loss(batch.fake_features, batch.real_features)


def _artifact(batch: GeneratorBatch) -> torch.Tensor:
    return artifact_loss(batch.sr, batch.hr, batch.sr_ema)


def _chroma(batch: GeneratorBatch) -> torch.Tensor:
    return chroma_loss(batch.sr, batch.hr)


def feature_matching_term(_settings: TermSettings, _context: TermContext) -> TermFunction:
    return _feature_matching


def artifact_term(_settings: TermSettings, _context: TermContext) -> TermFunction:
    return _artifact


def chroma_term(_settings: TermSettings, _context: TermContext) -> TermFunction:
    return _chroma


def _fourier(batch: GeneratorBatch) -> torch.Tensor:
    return fourier_amplitude_loss(batch.sr, batch.hr)


def fourier_term(_settings: TermSettings, _context: TermContext) -> TermFunction:
    return _fourier


def _gradient_variance(batch: GeneratorBatch) -> torch.Tensor:
    return gradient_variance_loss(batch.sr, batch.hr)


def gradient_variance_term(_settings: TermSettings, _context: TermContext) -> TermFunction:
    return _gradient_variance
