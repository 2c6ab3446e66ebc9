"""``ModelSpec``: what ``open_model`` opened. What an architecture is and allows is its ``ArchSpec``
(``srgan.archs``), which ``ModelSpec.architecture`` finds."""

from __future__ import annotations

from dataclasses import dataclass

from srgan.archs import AnySpec, NetworkConfig, spec_for


@dataclass(frozen=True)
class ModelSpec:
    """What was opened: the architecture, its scale, the file's kind and the network's config."""

    arch: str  # an ArchSpec's name
    scale: int
    file_format: str  # safetensors | checkpoint | state_dict | onnx
    config: NetworkConfig

    @property
    def architecture(self) -> AnySpec:
        return spec_for(self.config)
