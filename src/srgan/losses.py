"""SRGAN's loss terms (Ledig et al., 2017, Sec. 2.2).

All images are RGB in [0, 1] (the package's value-range contract). The discriminator
returns logits, so both adversarial losses are BCE-with-logits: the paper's
-log D(G(z)) for the generator, and the usual real = 1 / fake = 0 loss for D.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from srgan.metrics.blockiness import JPEG_BLOCK, boundary_steps
from srgan.metrics.lattice import FLAT_CELL_RMS_LEVELS, flat_cells, flat_phase_means, phase_blocks
from srgan.models.perceptual import FrozenFeatures
from srgan.schema import PAPER_ADVERSARIAL_WEIGHT as PAPER_ADVERSARIAL_WEIGHT
from srgan.schema import PAPER_FEATURE_SCALE


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
    return _bce(fake_logits, 1.0)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """BCE with real HR labelled 1 and G(LR) labelled 0 (pass G's output detached)."""
    return _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)


def relativistic_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Relativistic average GAN (ESRGAN, Wang et al. 2018, eq. 2): D judges whether a real image
    is more realistic than the average fake, and a fake less realistic than the average real.
    Works for one logit per image and for per-pixel logits (U-Net D) alike."""
    real, fake = real_logits.float(), fake_logits.float()
    return 0.5 * (_bce(real - fake.mean(), 1.0) + _bce(fake - real.mean(), 0.0))


def relativistic_generator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's side of the relativistic average loss: the labels swapped, so G gains from
    the real images' gradients too (pass ``real_logits`` detached)."""
    real, fake = real_logits.float(), fake_logits.float()
    return 0.5 * (_bce(real - fake.mean(), 0.0) + _bce(fake - real.mean(), 1.0))


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


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


# ---- the generator's loss as a list of weighted terms ------------------------------------------


@dataclass(frozen=True)
class GeneratorBatch:
    """What a generator loss term may look at in one G step."""

    sr: torch.Tensor
    hr: torch.Tensor
    fake_logits: torch.Tensor
    real_logits: torch.Tensor | None = None  # D on HR, detached; for the relativistic loss
    fake_features: list[torch.Tensor] | None = None  # D's intermediate features, for feature matching
    real_features: list[torch.Tensor] | None = None
    sr_ema: torch.Tensor | None = None  # the EMA generator's output, for the artifact term
    jpeg_grid: torch.Tensor | None = None  # (N, 2): where each LR's JPEG grid starts, for the block-step term


TermFunction = Callable[[GeneratorBatch], torch.Tensor]


@dataclass(frozen=True)
class WeightedTerm:
    """One named term of the generator loss, counted from iteration ``start`` on."""

    name: str
    weight: float
    function: TermFunction
    start: int = 0


class GeneratorLoss(nn.Module):
    """total = sum of weight x term over the terms active at this iteration.

    Returns a mapping with ``total`` and every active term (unweighted), which logging iterates.
    Terms that are ``nn.Module``s (the perceptual loss) are registered, so ``.to(device)`` moves
    them. Nothing here changes between steps: when a term starts is part of the term.
    """

    def __init__(self, terms: Sequence[WeightedTerm]) -> None:
        super().__init__()
        names = [t.name for t in terms]
        if len(set(names)) != len(names) or "total" in names:
            raise ValueError(f"loss term names must be unique and not 'total': {names}")
        self.terms = list(terms)
        self.term_modules = nn.ModuleList([t.function for t in terms if isinstance(t.function, nn.Module)])

    def needs(self, name: str) -> bool:
        return any(t.name == name for t in self.terms)

    def active(self, iteration: int) -> list[WeightedTerm]:
        return [t for t in self.terms if iteration >= t.start]

    def forward(self, batch: GeneratorBatch, iteration: int = 0) -> dict[str, torch.Tensor]:
        values: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=batch.sr.device)
        for term in self.active(iteration):
            value = term.function(batch)
            values[term.name] = value
            total = total + term.weight * value
        return {"total": total, **values}


class PairTerm(nn.Module):
    """Adapts a loss of (sr, hr), such as ``PerceptualLoss``, to a term of a ``GeneratorBatch``
    (a module, so the network inside it moves with the criterion)."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, batch: GeneratorBatch) -> torch.Tensor:
        return self.loss(batch.sr, batch.hr)
