"""What the configuration says about the generator's loss terms, importable without torch: each term's
settings record (its weight, the iteration it starts at, its own parameters), the terms in the order they
are summed, and the old flat ``loss.*`` keys with the new key each one is."""

from __future__ import annotations

from dataclasses import dataclass

# The paper's constants (Ledig et al., 2017): VGG feature maps rescaled by 1/12.75, so the VGG loss is of the
# MSE loss's order, and the adversarial term weighted 1e-3.
PAPER_FEATURE_SCALE = 1.0 / 12.75
PAPER_ADVERSARIAL_WEIGHT = 1e-3


@dataclass
class TermSettings:
    """A term of the generator loss: ``weight`` x term from iteration ``start`` on (weight 0: off)."""

    weight: float = 0.0
    start: int = 0


@dataclass
class ShallowContentSettings(TermSettings):
    """The content loss at another layer of the same perceptual network: in stage srgan beside the content
    term (ESRGAN sums several layers), in stage srresnet the perceptual term added to the pixel loss."""

    layer: str = "fire5"


@dataclass
class BlockStepSettings(TermSettings):
    """Count only steps between HR cells whose high-pass RMS is below ``smooth_levels`` grey levels (0 = all)."""

    smooth_levels: float = 0.0


# Every term by name, in the order the total sums them (the order is part of the numbers a recipe trains to).
# paper: content, adversarial, pixel; later papers: feature_matching, artifact, chroma, fourier, gradient_variance (and the
# relativistic form of adversarial); lattice/JPEG: lattice, lattice_error, flat_lattice_error, lattice_energy;
# experimental (no shipped recipe): flat_band, block_step.
TERMS: dict[str, type[TermSettings]] = {
    "content": TermSettings,
    "adversarial": TermSettings,
    "pixel": TermSettings,
    "lattice": TermSettings,
    "lattice_error": TermSettings,
    "flat_lattice_error": TermSettings,
    "flat_band": TermSettings,
    "block_step": BlockStepSettings,
    "lattice_energy": TermSettings,
    "chroma": TermSettings,
    "feature_matching": TermSettings,
    "artifact": TermSettings,
    "content_shallow": ShallowContentSettings,
    "fourier": TermSettings,
    "gradient_variance": TermSettings,
}
# The paper's two terms are always computed (and logged), whatever their weight; the others only when on.
ALWAYS = ("content", "adversarial")
EXPERIMENTAL = ("flat_band", "block_step")
# The terms that look at SR and HR alone: stage srresnet adds the ones that are on to its pixel loss (its
# pixel loss is loss.pixel; the content and adversarial terms are stage srgan's). Any other term needs
# stage srgan's discriminator, its EMA generator or its JPEG grid.
WITHOUT_DISCRIMINATOR = (
    "lattice",
    "lattice_error",
    "flat_lattice_error",
    "lattice_energy",
    "flat_band",
    "chroma",
    "fourier",
    "gradient_variance",
    "content_shallow",
)
STAGE_SRGAN_ONLY = ("feature_matching", "artifact", "block_step")


def default_terms() -> dict[str, TermSettings]:
    """The paper's loss: content x 1 + adversarial x 1e-3, every other term off."""
    weights = {"content": 1.0, "adversarial": PAPER_ADVERSARIAL_WEIGHT}
    return {name: kind(weight=weights.get(name, 0.0)) for name, kind in TERMS.items()}


# The flat keys of ``loss`` before the terms were a mapping, and the ``loss.terms`` keys each one sets.
OLD_KEYS: dict[str, tuple[str, ...]] = {
    "pixel_weight": ("pixel.weight",),
    "adversarial_weight": ("adversarial.weight",),
    "shallow_weight": ("content_shallow.weight",),
    "shallow_layer": ("content_shallow.layer",),
    "feature_matching_weight": ("feature_matching.weight",),
    "artifact_weight": ("artifact.weight",),
    "lattice_weight": ("lattice.weight",),
    "lattice_error_weight": ("lattice_error.weight",),
    "flat_lattice_error_weight": ("flat_lattice_error.weight",),
    "flat_band_weight": ("flat_band.weight",),
    "block_step_weight": ("block_step.weight",),
    "block_step_smooth_levels": ("block_step.smooth_levels",),
    "lattice_energy_weight": ("lattice_energy.weight",),
    "chroma_weight": ("chroma.weight",),
    "lattice_start": ("lattice.start", "lattice_error.start", "lattice_energy.start"),
}
