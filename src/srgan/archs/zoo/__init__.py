"""The community's other SR networks (DAT, SwinIR, HAT, OmniSR, SRFormer, RGT, DRCT, ATD, ...),
through spandrel's implementations: the optional ``zoo`` extra, and its ``ArchSpec`` (last in
detection order: files no native architecture recognises).

srgan reads the file itself and checks it (``weights_only=True`` / safetensors, finite, no more
declared bytes than the file holds); the state dict goes to spandrel's detection once
(``loader_for``, the spec's ``load``), then to the detected architecture's state-dict loader
(``network.open_state``), never to spandrel's file loader. spandrel builds and fills the network in
one step, so this spec opens files through ``load`` rather than ``infer``/``build``; the model-file
loader passes the config it yields through the spec's ``checked`` (scale, RGB). Importing spandrel
without torchvision: ``spandrel_import``. This module loads no torch (and no spandrel until a file
is opened).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from srgan.archs.base import ArchError, ArchSpec, State

if TYPE_CHECKING:
    from torch import nn

ZOO_SCALES = (1, 2, 3, 4, 8)
# LR pixels of blended context a tile gets at least (transformers' formal reach is the whole tile,
# through shifted windows; like RRDBNet, what they use is far less)
MIN_CONTEXT = 32


@dataclass(frozen=True)
class ZooConfig:
    """A spandrel network: its architecture id, scale, hyper-parameters (JSON, for equality and
    display) and what tiling needs (context, padding multiple, smallest input)."""

    arch: str
    scale: int
    hyperparameters: str
    context: int = MIN_CONTEXT
    multiple: int = 1
    minimum: int = 0
    width: int = 64  # the embedding / feature width (the memory estimate's unit)
    in_channels: int = 3
    out_channels: int = 3

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "scale": self.scale, **json.loads(self.hyperparameters)}


def loader_for(state: State) -> Callable[[], tuple[ZooConfig, nn.Module]] | None:
    """spandrel's detection, run once: None when it finds none of its SR architectures in ``state``
    (or the extra is not installed), else the call that opens the network it found."""
    from srgan.archs.zoo.spandrel_import import ZooUnavailableError, spandrel_registry

    try:
        registry = spandrel_registry()
    except ZooUnavailableError:
        return None
    found = next((a for a in registry.architectures("detection") if a.detect(state)), None)
    if found is None:
        return None
    from srgan.archs.zoo.network import open_state

    return functools.partial(open_state, found, state)


def recognise(state: State) -> bool:
    """spandrel detects one of its SR architectures in ``state`` (False without the extra)."""
    return loader_for(state) is not None


def check(config: ZooConfig) -> None:
    """RGB in and out (``ArchSpec.checked`` has refused a scale outside ``ZOO_SCALES``)."""
    if {config.in_channels, config.out_channels} != {3}:
        channels = min(config.in_channels, config.out_channels)
        raise ArchError(f"a {config.arch} network for {channels}-channel images (srgan upscales RGB)")


def _opened_by_load(*args: object) -> Any:
    raise ArchError("a zoo network is opened from its file's state dict (load), not from a config")


def tile_bytes_per_px(config: ZooConfig) -> int:
    # an estimate for windowed attention (queries, keys, values, scores, the MLP's 2-4x width)
    return 4 * config.width * 24 + 4 * 2 * config.out_channels * config.scale**2


def tile_context(config: ZooConfig) -> int:
    return config.context


ZOO: ArchSpec[ZooConfig] = ArchSpec(
    name="zoo",
    title="spandrel's SR architectures (the zoo extra)",
    config_type=ZooConfig,
    scales=ZOO_SCALES,
    recognise=recognise,
    infer=_opened_by_load,
    check=check,
    build=_opened_by_load,
    tile_context=tile_context,
    tile_exact=False,
    tile_bytes_per_px=tile_bytes_per_px,
    load=loader_for,
    exportable=False,
)
