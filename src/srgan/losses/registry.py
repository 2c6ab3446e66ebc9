"""Every generator loss term by name: its builder, and the list of weighted terms a configuration's
``loss.terms`` asks for. A term's settings record is in ``srgan.losses.settings`` (torch-free, so the
configuration validates names and parameters without loading torch)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from srgan.losses import experimental, later, lattice, paper
from srgan.losses.compose import TermBuilder, TermContext, TermFunction, WeightedTerm
from srgan.losses.settings import ALWAYS, TERMS, TermSettings


def adversarial_term(settings: TermSettings, context: TermContext) -> TermFunction:
    """The adversarial term of ``loss.adversarial``'s kind: the paper's, or ESRGAN's relativistic one."""
    builder = later.relativistic_term if context.adversarial == "ragan" else paper.adversarial_term
    return builder(settings, context)


BUILDERS: dict[str, TermBuilder] = {
    "content": paper.content_term,
    "adversarial": adversarial_term,
    "pixel": paper.pixel_term,
    "content_shallow": paper.content_shallow_term,
    "feature_matching": later.feature_matching_term,
    "artifact": later.artifact_term,
    "chroma": later.chroma_term,
    "fourier": later.fourier_term,
    "gradient_variance": later.gradient_variance_term,
    "lattice": lattice.lattice_term,
    "lattice_error": lattice.lattice_error_term,
    "flat_lattice_error": lattice.flat_lattice_error_term,
    "lattice_energy": lattice.lattice_energy_term,
    "flat_band": experimental.flat_band_term,
    "block_step": experimental.block_step_term,
}


def build_terms(
    settings: Mapping[str, TermSettings], context: TermContext, names: Collection[str] = tuple(TERMS)
) -> list[WeightedTerm]:
    """The weighted terms of ``settings`` (name -> settings) among ``names`` that are on (the paper's two
    always), in the registry's summing order. Raises ValueError naming a term whose builder cannot work here."""
    terms = []
    for name in TERMS:
        term = settings.get(name) if name in names else None
        if term is None or (term.weight <= 0 and name not in ALWAYS):
            continue
        terms.append(WeightedTerm(name, term.weight, BUILDERS[name](term, context), term.start))
    return terms
