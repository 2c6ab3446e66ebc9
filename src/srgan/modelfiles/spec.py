"""What a model file claims about its network, checked before anything is allocated."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from srgan.modelfiles.errors import ModelLoadError
from srgan.models.compact import COMPACT_SCALES, CompactConfig
from srgan.models.generator import GeneratorConfig
from srgan.models.rrdb import RRDB_SCALES, RRDBConfig
from srgan.runtime import SRGAN_SCALES

# Far beyond any useful network (SRResNet: 16 blocks, 64 channels; ESRGAN: 23 blocks, 64
# features), far below a harmful allocation.
MAX_BLOCKS = 256
MAX_CHANNELS = 1024

NetworkConfig = GeneratorConfig | RRDBConfig | CompactConfig
# architecture name (as stored in srgan's files) -> its config class
CONFIG_TYPES: dict[str, type[GeneratorConfig] | type[RRDBConfig] | type[CompactConfig]] = {
    "srresnet": GeneratorConfig,
    "rrdb": RRDBConfig,
    "compact": CompactConfig,
}


@dataclass(frozen=True)
class ModelSpec:
    """What was opened: the architecture, its scale, the file's kind and the network's config."""

    arch: str  # a key of CONFIG_TYPES
    scale: int
    file_format: str  # safetensors | checkpoint | state_dict | onnx
    config: NetworkConfig


def arch_name(config: NetworkConfig) -> str:
    return next(name for name, kind in CONFIG_TYPES.items() if isinstance(config, kind))


def network_config_from(arch: str, raw: object, source: str | os.PathLike[str]) -> NetworkConfig:
    """A network config from a file's stored mapping: known architecture and keys, integer values,
    sane ranges."""
    kind = CONFIG_TYPES.get(arch)
    if kind is None:
        raise ModelLoadError(f"{source}: unknown architecture {arch!r} (known: {', '.join(CONFIG_TYPES)})")
    fields = {f.name for f in dataclasses.fields(kind)}
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{source}: its network config is not a mapping")
    unknown = sorted(set(map(str, raw)) - fields)
    if unknown:
        raise ModelLoadError(
            f"{source}: unknown {arch} setting(s) {', '.join(unknown)} (known: {', '.join(sorted(fields))})"
        )
    if any(not isinstance(v, int) or isinstance(v, bool) for v in raw.values()):
        raise ModelLoadError(f"{source}: network settings must be integers, got {raw}")
    config = kind(**raw)
    check_config(config, source)
    return config


def input_multiple(config: NetworkConfig) -> int:
    """Input height and width must be multiples of this (an RRDBNet's pixel-unshuffle factor)."""
    return config.unshuffle if isinstance(config, RRDBConfig) else 1


def check_config(config: NetworkConfig, source: str | os.PathLike[str]) -> None:
    """Refuse shapes no real model has, with one sentence naming the setting."""
    scales: tuple[int, ...]
    widths: tuple[int, ...]
    if isinstance(config, GeneratorConfig):
        scales, widths, out = SRGAN_SCALES, (config.channels,), config.in_channels
        blocks, noun = config.num_blocks, "residual blocks"
    elif isinstance(config, RRDBConfig):
        scales, widths, out = RRDB_SCALES, (config.features, config.growth), config.out_channels
        blocks, noun = config.num_blocks, "RRDB blocks"
    else:
        scales, widths, out = COMPACT_SCALES, (config.features,), config.out_channels
        blocks, noun = config.num_conv + 2, "convolutions"
    if config.scale not in scales:
        raise ModelLoadError(f"{source}: scale {config.scale} is not one of {scales}")
    if not 1 <= blocks <= MAX_BLOCKS:
        raise ModelLoadError(f"{source}: {blocks} {noun} is outside 1..{MAX_BLOCKS}")
    if not all(1 <= w <= MAX_CHANNELS for w in widths):
        raise ModelLoadError(f"{source}: {max(widths)} channels is outside 1..{MAX_CHANNELS}")
    channels = {config.in_channels, out}
    if channels != {3}:
        raise ModelLoadError(f"{source}: a network for {min(channels)}-channel images (srgan upscales RGB)")
