"""The pretrained generators shipped inside the package (srgan/weights/)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# name -> file in srgan/weights
BUNDLED = {"srresnet-x4": "srresnet-x4.safetensors", "srgan-x4": "srgan-x4.safetensors"}


def bundled_names() -> list[str]:
    return [name for name in BUNDLED if bundled_path(name) is not None]


def bundled_path(name: str) -> Path | None:
    if name not in BUNDLED:
        return None
    path = Path(str(resources.files("srgan").joinpath("weights", BUNDLED[name])))
    return path if path.is_file() else None
