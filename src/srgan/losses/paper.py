"""The paper's terms (Ledig et al., CVPR 2017, Sec. 2.2): pixel MSE (or L1), the perceptual content loss
on a frozen network's features, and the adversarial loss.

All images are RGB in [0, 1] (the package's value-range contract). The discriminator returns logits, so
both adversarial losses are BCE-with-logits: the paper's -log D(G(z)) for the generator, and the usual
real = 1 / fake = 0 loss for D.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from srgan.losses.compose import GeneratorBatch, PairTerm, TermContext, TermFunction
from srgan.losses.settings import PAPER_FEATURE_SCALE, TermSettings
from srgan.models.perceptual import FrozenFeatures


def pixel_loss(sr: torch.Tensor, hr: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Pixel-wise MSE (the paper's SRResNet loss) or L1."""
    if kind == "mse":
        return F.mse_loss(sr, hr)
    if kind == "l1":
        return F.l1_loss(sr, hr)
    raise ValueError(f"pixel loss must be 'mse' or 'l1', got {kind!r}")


class PerceptualLoss(nn.Module):
    """MSE between feature maps of a frozen network, optionally rescaled (paper: 1/12.75).

    The HR features carry no gradient; the SR features do, all the way back to the generator.
    """

    def __init__(self, network: FrozenFeatures, feature_scale: float = PAPER_FEATURE_SCALE) -> None:
        super().__init__()
        self.network = network
        self.feature_scale = feature_scale

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        sr_features = self.network(sr)
        with torch.no_grad():
            hr_features = self.network(hr)
        # MSE in float32 even under autocast: squared bf16 differences lose the small terms.
        return F.mse_loss(sr_features.float() * self.feature_scale, hr_features.float() * self.feature_scale)


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)), the paper's non-saturating form: BCE of D's logits on fakes against 1."""
    return bce(fake_logits, 1.0)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """BCE with real HR labelled 1 and G(LR) labelled 0 (pass G's output detached)."""
    return bce(real_logits, 1.0) + bce(fake_logits, 0.0)


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


# ---- the terms' builders (srgan.losses.registry) ------------------------------------------------


def _content_mse(batch: GeneratorBatch) -> torch.Tensor:
    return pixel_loss(batch.sr.float(), batch.hr.float(), "mse")


def content_term(_settings: TermSettings, context: TermContext) -> TermFunction:
    """The perceptual loss at ``loss.layer``, or pixel MSE (the paper's SRGAN-MSE) without a network."""
    return PairTerm(context.content) if context.content is not None else _content_mse


def _adversarial(batch: GeneratorBatch) -> torch.Tensor:
    assert batch.fake_logits is not None  # stage srgan's terms only (settings.WITHOUT_DISCRIMINATOR)
    return generator_adversarial_loss(batch.fake_logits)


def adversarial_term(_settings: TermSettings, _context: TermContext) -> TermFunction:
    """The paper's adversarial term (-log D(G(z)))."""
    return _adversarial


def _pixel(kind: str, batch: GeneratorBatch) -> torch.Tensor:
    return pixel_loss(batch.sr.float(), batch.hr.float(), kind)


def pixel_term(_settings: TermSettings, context: TermContext) -> TermFunction:
    """Pixel loss of the kind ``loss.pixel`` names, beside the content loss (ESRGAN's L1 anchor)."""
    return partial(_pixel, context.pixel_kind)


def content_shallow_term(_settings: TermSettings, context: TermContext) -> TermFunction:
    if context.shallow is None:
        raise ValueError(
            "loss.terms.content_shallow needs a perceptual network; set loss.perceptual to vgg19 or squeezenet"
        )
    return PairTerm(context.shallow)
