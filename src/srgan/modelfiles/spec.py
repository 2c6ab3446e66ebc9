"""What a model file claims about its network, checked before anything is allocated."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from srgan.modelfiles.errors import ModelLoadError
from srgan.models.generator import GeneratorConfig
from srgan.runtime import SRGAN_SCALES

# Far beyond any useful SRResNet (the paper: 16 blocks, 64 channels), far below a harmful allocation.
MAX_BLOCKS = 256
MAX_CHANNELS = 1024


@dataclass(frozen=True)
class ModelSpec:
    """What was opened: the architecture, its scale, the file's kind and the generator's config."""

    arch: str  # "srresnet"
    scale: int
    file_format: str  # safetensors | checkpoint | state_dict | onnx
    config: GeneratorConfig


def generator_config_from(raw: object, source: str | os.PathLike[str]) -> GeneratorConfig:
    """A ``GeneratorConfig`` from a file's stored mapping: known keys, integer values, sane ranges."""
    fields = {f.name for f in dataclasses.fields(GeneratorConfig)}
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{source}: its generator config is not a mapping")
    unknown = sorted(set(map(str, raw)) - fields)
    if unknown:
        raise ModelLoadError(
            f"{source}: unknown generator setting(s) {', '.join(unknown)} (known: {', '.join(sorted(fields))})"
        )
    if any(not isinstance(v, int) or isinstance(v, bool) for v in raw.values()):
        raise ModelLoadError(f"{source}: generator settings must be integers, got {raw}")
    config = GeneratorConfig(**raw)
    check_generator_config(config, source)
    return config


def check_generator_config(config: GeneratorConfig, source: str | os.PathLike[str]) -> None:
    if config.scale not in SRGAN_SCALES:
        raise ModelLoadError(f"{source}: scale {config.scale} is not one of {SRGAN_SCALES}")
    if not 1 <= config.num_blocks <= MAX_BLOCKS:
        raise ModelLoadError(f"{source}: {config.num_blocks} residual blocks is outside 1..{MAX_BLOCKS}")
    if not 1 <= config.channels <= MAX_CHANNELS:
        raise ModelLoadError(f"{source}: {config.channels} channels is outside 1..{MAX_CHANNELS}")
    if config.in_channels not in (1, 3):
        raise ModelLoadError(f"{source}: {config.in_channels} image channels (expected 1 or 3)")
