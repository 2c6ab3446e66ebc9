"""The pretrained generators shipped inside the package (srgan/weights/)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

# name -> file in srgan/weights; the card (metrics, sha256) is weights/<name>.json
BUNDLED = {"srresnet-x4": "srresnet-x4.safetensors", "srgan-x4": "srgan-x4.safetensors"}
DEFAULT_MODEL = "srgan-x4"


def _weights_dir() -> Path:
    return Path(str(resources.files("srgan").joinpath("weights")))


def bundled_names() -> list[str]:
    return [name for name in BUNDLED if bundled_path(name) is not None]


def bundled_path(name: str) -> Path | None:
    if name not in BUNDLED:
        return None
    path = _weights_dir() / BUNDLED[name]
    return path if path.is_file() else None


def model_cards() -> list[dict[str, Any]]:
    cards = []
    for name in bundled_names():
        card_path = _weights_dir() / f"{name}.json"
        card = json.loads(card_path.read_text()) if card_path.is_file() else {}
        cards.append({"name": name, "file": BUNDLED[name], "scale": card.get("scale", 4), **card})
    return cards


def default_model() -> str | None:
    """srgan-x4 when it is bundled, else srresnet-x4, else None."""
    for name in (DEFAULT_MODEL, "srresnet-x4"):
        if bundled_path(name) is not None:
            return name
    return None
