"""The loss terms of training, as a registry.

- ``settings``: what the configuration says about each term (torch-free: weight, start, parameters).
- ``compose``: the generator loss as a list of weighted terms (``GeneratorBatch``, ``WeightedTerm``,
  ``GeneratorLoss``).
- ``paper``: the paper's pixel, content (perceptual) and adversarial losses.
- ``later``: later papers' terms (relativistic GAN, feature matching, LDL artifact, chroma, Fourier amplitude, gradient variance).
- ``lattice``: srgan's terms against the sub-pixel lattice pattern.
- ``experimental``: terms no shipped recipe uses, with what their pilots found.
- ``registry``: every term by name, and the weighted terms of a configuration.

Importing this package loads no torch; ``srgan.losses.NAME`` finds a loss function or class in the module
that defines it.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "compose": ("GeneratorBatch", "GeneratorLoss", "PairTerm", "TermContext", "WeightedTerm"),
    "paper": ("PerceptualLoss", "discriminator_loss", "generator_adversarial_loss", "pixel_loss"),
    "later": (
        "artifact_loss",
        "artifact_map",
        "chroma_loss",
        "feature_matching_loss",
        "fourier_amplitude_loss",
        "gradient_variance_loss",
        "relativistic_discriminator_loss",
        "relativistic_generator_loss",
    ),
    "lattice": ("flat_lattice_error_loss", "lattice_energy_loss", "lattice_error_loss", "lattice_loss"),
    "experimental": ("block_step_loss", "flat_band_loss", "smooth_pixels"),
}
_WHERE = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"srgan.losses.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'srgan.losses' has no attribute {name!r}")
