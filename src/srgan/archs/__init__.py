"""The network architectures srgan runs, one home each, and the registry that lists them.

Each architecture is one module (or folder) here with one ``ArchSpec`` (``base.py``) that says
everything the rest of the package asks: how to recognise its files and read their shape, how to
build it, its scales, tile context, memory, precisions, fast and int8 forms, and whether two
files of it blend. ``ARCHITECTURES`` lists the specs in detection order: a state_dict is the first
architecture's whose ``recognise`` accepts it. Adding an architecture: docs/architecture.md.

Importing this package loads no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from srgan.archs.base import AnySpec, ArchError, ArchSpec, NetworkConfig, State
from srgan.archs.compact import COMPACT
from srgan.archs.realplksr import REALPLKSR
from srgan.archs.rrdb import RRDB
from srgan.archs.span import SPAN
from srgan.archs.srresnet import SRRESNET
from srgan.archs.zoo import ZOO

if TYPE_CHECKING:
    from torch import nn

# the zoo (spandrel) last: it takes only what no native architecture recognises
ARCHITECTURES: tuple[AnySpec, ...] = (SRRESNET, RRDB, COMPACT, SPAN, REALPLKSR, ZOO)

__all__ = [
    "ARCHITECTURES",
    "AnySpec",
    "ArchError",
    "ArchSpec",
    "Detected",
    "NetworkConfig",
    "by_name",
    "detect",
    "spec_for",
]


def by_name(name: str) -> AnySpec:
    """The spec stored under ``name`` in srgan's files; one sentence naming the known ones otherwise."""
    for spec in ARCHITECTURES:
        if spec.name == name:
            return spec
    raise ArchError(f"unknown architecture {name!r} (known: {', '.join(s.name for s in ARCHITECTURES)})")


def spec_for(config: NetworkConfig) -> AnySpec:
    """The spec whose config type ``config`` is."""
    for spec in ARCHITECTURES:
        if spec.owns(config):
            return spec
    raise ArchError(f"{type(config).__name__} is no architecture's config")


class Detected(NamedTuple):
    """What ``detect`` found: the architecture, the state in its module names, and for a network a
    third-party loader opens (``ArchSpec.load``) the call that opens it (None otherwise)."""

    spec: AnySpec
    state: State
    load: Callable[[], tuple[Any, nn.Module]] | None = None


def detect(state: State) -> Detected:
    """The first architecture that recognises ``state`` (in its own key layout)."""
    for spec in ARCHITECTURES:
        normalised = spec.normalise(state)
        if spec.load is not None:
            load = spec.load(normalised)
            if load is not None:
                return Detected(spec, normalised, load)
        elif spec.recognise(normalised):
            return Detected(spec, normalised)
    from srgan.archs.zoo.spandrel_import import UNAVAILABLE, ZOO_INSTALL, zoo_available

    known = ", ".join(s.title for s in ARCHITECTURES if s is not ZOO)
    if not zoo_available():
        extra = f"DAT, SwinIR, HAT, OmniSR and the other transformer families need the zoo extra: {ZOO_INSTALL}"
    else:
        extra = f"and spandrel's SR architectures; {' and '.join(UNAVAILABLE)} are unavailable without torchvision"
    raise ArchError(
        f"holds no network srgan knows (it reads {known}, ESRGAN files in the original or BasicSR key layout; {extra})"
    )
