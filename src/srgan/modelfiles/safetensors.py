"""The generator export: a safetensors file whose metadata carries the format tag, the
architecture and its config."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch

from srgan.archs import NetworkConfig, spec_for
from srgan.archs.base import Ranges
from srgan.atomic import atomic_path
from srgan.modelfiles.errors import ModelLoadError

FORMAT = "srgan-generator"
# The metadata keys srgan writes (safetensors and ONNX alike): the format tag, the architecture
# (absent in files written before there was more than one: those are "srresnet") and the config.
FORMAT_KEY = "format"
ARCH_KEY = "arch"
CONFIG_KEY = "generator_config"
# Optional: the calibrated input range of each int8 convolution (srgan.archs.srresnet.quantized), as JSON
# {"conv name": [lo, hi]}, written by ``srgan export --int8-calibration``.
INT8_RANGES_KEY = "int8_input_ranges"
VALUE_RANGE_KEY = "value_range"
# Every key save_generator sets itself; a caller re-saving a file keeps the others (its ``extra``).
WRITTEN_KEYS = (FORMAT_KEY, ARCH_KEY, CONFIG_KEY, VALUE_RANGE_KEY, INT8_RANGES_KEY)


def save_generator(
    path: str | os.PathLike[str],
    state_dict: dict[str, torch.Tensor],
    config: NetworkConfig,
    extra: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float32,
    int8_ranges: Ranges | None = None,
) -> None:
    """Write ``state_dict`` atomically; ``dtype=torch.float16`` halves the file (loading casts back)."""
    from safetensors.torch import save_file

    tensors = {
        k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous() for k, v in state_dict.items()
    }
    metadata = {
        FORMAT_KEY: FORMAT,
        ARCH_KEY: spec_for(config).name,
        CONFIG_KEY: json.dumps(config.to_dict()),
        VALUE_RANGE_KEY: "[0, 1]",
    }
    if int8_ranges is not None:
        metadata[INT8_RANGES_KEY] = json.dumps({name: [lo, hi] for name, (lo, hi) in sorted(int8_ranges.items())})
    metadata.update(extra or {})
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Weights and metadata. A file tagged with another format is refused; an untagged one is a
    plain state_dict (other tools write those) whose architecture the loader detects."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(f"{path} is not a readable safetensors file ({exc})") from exc
    tag = meta.get(FORMAT_KEY)
    if tag is not None and tag != FORMAT:
        raise ModelLoadError(f"{path} is a safetensors file of another kind (format {tag!r}, not {FORMAT!r})")
    if tag is None and CONFIG_KEY in meta:
        raise ModelLoadError(f"{path} carries a generator config but no format tag; it was not written by srgan")
    return state, meta


def int8_ranges_from(meta: dict[str, str], path: Path) -> Ranges | None:
    """The int8 calibration stored in a file's metadata, or None."""
    text = meta.get(INT8_RANGES_KEY)
    if text is None:
        return None
    try:
        raw = json.loads(text)
        ranges = {str(name): (float(lo), float(hi)) for name, (lo, hi) in raw.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise ModelLoadError(f"{path}: its int8 calibration ({INT8_RANGES_KEY}) is not valid ({exc})") from exc
    for name, (lo, hi) in ranges.items():
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ModelLoadError(f"{path}: its int8 calibration of {name} is [{lo}, {hi}], not a finite range")
    return ranges
