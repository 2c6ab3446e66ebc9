"""The pretrained generators shipped inside the package (srgan/weights/)."""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

from srgan.modelfiles.fingerprint import file_sha256

# name -> file in srgan/weights; the card (metrics, sha256) is weights/<name>.json
BUNDLED = {
    "srgan-x4": "srgan-x4.safetensors",
    "srresnet-x4": "srresnet-x4.safetensors",
    "srgan-x4-v1": "srgan-x4-v1.safetensors",  # the first srgan-x4, kept so its users can compare (issue 13)
    "srresnet-x4-real": "srresnet-x4-real.safetensors",  # trained on JPEG/noise/blur LR (issue 15)
    "srgan-x4-real": "srgan-x4-real.safetensors",  # its adversarial sibling (issue 15)
}
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


def fidelity_base(name: str) -> str | None:
    """The PSNR-oriented model a bundled GAN model was fine-tuned from (its card's ``base``)."""
    base = _card(name).get("base") if name in BUNDLED else None
    return str(base) if base else None


def _card(name: str) -> dict[str, Any]:
    card_path = _weights_dir() / f"{name}.json"
    return json.loads(card_path.read_text()) if card_path.is_file() else {}


def model_cards() -> list[dict[str, Any]]:
    return [{"name": name, "file": BUNDLED[name], "scale": 4, **_card(name)} for name in bundled_names()]


def verify_bundled(name: str) -> str | None:
    """None if the bundled file matches its card's sha256, else a sentence saying what is wrong."""
    path = bundled_path(name)
    if path is None:
        return f"{name} is not bundled in this installation"
    expected = _card(name).get("sha256")
    if expected is None:
        return f"the bundled model {name} has no card with a sha256 ({path.with_suffix('.json')})"
    actual = _sha256(path, path.stat().st_mtime_ns, path.stat().st_size)
    if actual != expected:
        return f"the bundled model file {path} is damaged (sha256 {actual[:12]}..., expected {expected[:12]}...); reinstall srgan"
    return None


@functools.lru_cache(maxsize=8)
def _sha256(path: Path, mtime_ns: int, size: int) -> str:  # mtime/size: re-hash when the file changes
    return file_sha256(path)


def default_model() -> str | None:
    """srgan-x4 when it is bundled, else srresnet-x4, else None."""
    for name in (DEFAULT_MODEL, "srresnet-x4"):
        if bundled_path(name) is not None:
            return name
    return None
