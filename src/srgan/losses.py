"""SRGAN's loss terms (Ledig et al., 2017, Sec. 2.2).

All images are RGB in [0, 1] (the package's value-range contract). The discriminator
returns logits, so both adversarial losses are BCE-with-logits: the paper's
-log D(G(z)) for the generator, and the usual real = 1 / fake = 0 loss for D.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from srgan.metrics.lattice import phase_blocks
from srgan.models.perceptual import FrozenFeatures

# The paper rescales VGG feature maps by 1/12.75 so the VGG loss is of the MSE loss's order.
PAPER_FEATURE_SCALE = 1.0 / 12.75
PAPER_ADVERSARIAL_WEIGHT = 1e-3


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


def lattice_loss(sr: torch.Tensor, period: int) -> torch.Tensor:
    """Mean square of the per-phase means of SR's high-pass on its period x period sub-pixel
    lattice, averaged over the batch.

    A x``period`` generator places its PixelShuffle outputs on that lattice, so it can draw a
    fixed period-``period`` pattern (a grid) in every image. Image detail lands on every phase
    alike, so its phase means average out over the blocks and images of a batch; a grid is the
    same in every image and does not. This term therefore sees the grid and not the texture.
    """
    return phase_blocks(sr.float(), period).mean(dim=(0, 2, 4)).pow(2).mean()


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


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)), the paper's non-saturating form: BCE of D's logits on fakes against 1."""
    return F.binary_cross_entropy_with_logits(
        fake_logits.float(), torch.ones_like(fake_logits, dtype=torch.float32)
    )


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """BCE with real HR labelled 1 and G(LR) labelled 0 (pass G's output detached)."""
    real = F.binary_cross_entropy_with_logits(
        real_logits.float(), torch.ones_like(real_logits, dtype=torch.float32)
    )
    fake = F.binary_cross_entropy_with_logits(
        fake_logits.float(), torch.zeros_like(fake_logits, dtype=torch.float32)
    )
    return real + fake


@dataclass
class GeneratorLossTerms:
    """The generator's loss and its parts, kept apart for logging."""

    total: torch.Tensor
    content: torch.Tensor
    adversarial: torch.Tensor
    pixel: torch.Tensor | None = None
    lattice: torch.Tensor | None = None
    lattice_energy: torch.Tensor | None = None
    chroma: torch.Tensor | None = None


class SRGANGeneratorLoss(nn.Module):
    """total = content + adversarial_weight x adversarial (paper: VGG54 content, weight 1e-3).

    ``content`` is a ``PerceptualLoss``, or ``None`` for the paper's SRGAN-MSE variant, whose
    content term is the pixel MSE. ``pixel_weight`` > 0 adds ``pixel_weight x pixel loss`` (not in
    the paper; ESRGAN does it): it anchors colours and suppresses patterns that a coarse feature
    layer cannot see, such as the grid a SqueezeNet fire9 loss alone lets the generator draw.
    """

    def __init__(
        self,
        content: PerceptualLoss | None,
        adversarial_weight: float = PAPER_ADVERSARIAL_WEIGHT,
        pixel_weight: float = 0.0,
        pixel_kind: str = "l1",
        lattice_weight: float = 0.0,
        lattice_period: int = 4,
        pixel_downsample: int = 1,
        chroma_weight: float = 0.0,
        lattice_energy_weight: float = 0.0,
    ) -> None:
        super().__init__()
        self.content = content
        self.adversarial_weight = adversarial_weight
        self.pixel_weight = pixel_weight
        self.pixel_kind = pixel_kind
        self.lattice_weight = lattice_weight
        self.lattice_period = lattice_period
        self.pixel_downsample = pixel_downsample
        self.chroma_weight = chroma_weight
        self.lattice_energy_weight = lattice_energy_weight

    def forward(self, sr: torch.Tensor, hr: torch.Tensor, fake_logits: torch.Tensor) -> GeneratorLossTerms:
        content = (
            self.content(sr, hr) if self.content is not None else pixel_loss(sr.float(), hr.float(), "mse")
        )
        adversarial = generator_adversarial_loss(fake_logits)
        terms = GeneratorLossTerms(content + self.adversarial_weight * adversarial, content, adversarial)
        if self.pixel_weight > 0:
            a, b = sr.float(), hr.float()
            if self.pixel_downsample > 1:  # compare k x k box means: colour and structure, not detail
                a, b = F.avg_pool2d(a, self.pixel_downsample), F.avg_pool2d(b, self.pixel_downsample)
            terms.pixel = pixel_loss(a, b, self.pixel_kind)
            terms.total = terms.total + self.pixel_weight * terms.pixel
        if self.lattice_weight > 0:
            terms.lattice = lattice_loss(sr, self.lattice_period)
            terms.total = terms.total + self.lattice_weight * terms.lattice
        if self.lattice_energy_weight > 0:
            terms.lattice_energy = lattice_energy_loss(sr, self.lattice_period)
            terms.total = terms.total + self.lattice_energy_weight * terms.lattice_energy
        if self.chroma_weight > 0:
            terms.chroma = chroma_loss(sr, hr)
            terms.total = terms.total + self.chroma_weight * terms.chroma
        return terms
