"""Finding pretrained weight files: a local path, the torch.hub cache, or the official URL.

Downloads go through ``torch.hub.download_url_to_file`` (temp file + rename, sha256 prefix
checked), into torch.hub's cache (``$TORCH_HOME/hub/checkpoints``), so a file fetched once by
torchvision or by srgan is found by both.
"""

from __future__ import annotations

import os
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import torch

from srgan.runtime import load_failure


class WeightsError(RuntimeError):
    """A weights file is missing, unreachable or not what it claims to be."""


@dataclass(frozen=True)
class WeightsSpec:
    """An official weights file: where it lives and the start of its sha256."""

    filename: str
    url: str
    sha256_prefix: str


VGG19_IMAGENET = WeightsSpec(
    filename="vgg19-dcbb9e9d.pth",
    url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    sha256_prefix="dcbb9e9d",
)
SQUEEZENET1_0_IMAGENET = WeightsSpec(
    filename="squeezenet1_0-b66bff10.pth",
    url="https://download.pytorch.org/models/squeezenet1_0-b66bff10.pth",
    sha256_prefix="b66bff10",
)


def cache_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def resolve_weights(spec: WeightsSpec, path: str | os.PathLike[str] | None = None, download: bool = True) -> Path:
    """Return a local file holding ``spec``'s weights.

    ``path`` (a local file) wins; otherwise the hub cache; otherwise the official URL is
    downloaded into the cache. Every failure raises ``WeightsError`` with one sentence that
    says which file to place where.
    """
    if path is not None:
        local = Path(path).expanduser()
        if not local.is_file():
            raise WeightsError(f"weights file {local} does not exist")
        return local
    cached = cache_dir() / spec.filename
    if cached.is_file():
        return cached
    hint = f"download {spec.url} on a machine with internet and place it at {cached}, or pass its local path"
    if not download:
        raise WeightsError(f"{spec.filename} is not in the cache and downloads are off: {hint}")
    cached.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(spec.url, str(cached), hash_prefix=spec.sha256_prefix, progress=True)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise WeightsError(f"could not download {spec.filename} ({exc}); {hint}") from exc
    except RuntimeError as exc:  # torch.hub's hash mismatch
        raise WeightsError(f"{spec.url} did not match its sha256 prefix {spec.sha256_prefix}: {exc}") from exc
    return cached


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load a plain state_dict from a .pth/.pt or .safetensors file without running pickled code."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path} is not a readable PyTorch weights file ({load_failure(exc)})") from None
    if not isinstance(state, dict):
        raise WeightsError(f"{path} does not hold a state_dict")
    return state
