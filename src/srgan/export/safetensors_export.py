"""The generator-only export: a safetensors file whose metadata carries the model config."""

from __future__ import annotations

import json
import os

import torch

from srgan.atomic import atomic_path
from srgan.models.generator import GeneratorConfig

FORMAT = "srgan-generator"


def save_generator(
    path: str | os.PathLike[str],
    state_dict: dict[str, torch.Tensor],
    config: GeneratorConfig,
    extra: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float32,
) -> None:
    """Write ``state_dict`` atomically; ``dtype=torch.float16`` halves the file (loading casts back)."""
    from safetensors.torch import save_file

    tensors = {
        k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
        for k, v in state_dict.items()
    }
    metadata = {"format": FORMAT, "generator_config": json.dumps(config.to_dict()), "value_range": "[0, 1]"}
    metadata.update(extra or {})
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
