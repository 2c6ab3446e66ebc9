"""``ModelSpec``: what ``open_model`` opened. What an architecture is and allows is its ``ArchSpec``
(``srgan.archs``), which ``ModelSpec.architecture`` holds, found once when the record is made."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from srgan.archs import AnySpec, NetworkConfig, spec_for


@dataclass(frozen=True)
class ModelSpec:
    """What was opened: the architecture, its scale, the file's kind and the network's config."""

    arch: str  # an ArchSpec's name
    scale: int
    file_format: str  # safetensors | checkpoint | state_dict | onnx
    config: NetworkConfig
    # the registered spec that owns ``config``; derived, so neither compared nor shown
    architecture: AnySpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "architecture", spec_for(self.config))  # frozen: set once, here

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled as the four fields it is made from: a spec holds functions, and unpickling finds the
        # registered one again (``architecture is SRRESNET`` stays true)
        return (ModelSpec, (self.arch, self.scale, self.file_format, self.config))
