"""Loading a generator from anything srgan writes: a bundled name, a safetensors export (config
embedded), a training checkpoint, or a plain state_dict (its shape is read from the keys)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch

from srgan.models.generator import Generator, GeneratorConfig


class ModelLoadError(ValueError):
    """A model file srgan cannot use; the message names the file and the problem."""


def infer_config(state: dict[str, torch.Tensor]) -> GeneratorConfig:
    """Rebuild the generator's shape from a state_dict's keys and tensor shapes."""
    try:
        head = state["head.0.weight"]
        blocks = {int(m.group(1)) for k in state if (m := re.match(r"body\.(\d+)\.", k))}
        ups = {int(m.group(1)) for k in state if (m := re.match(r"upsample\.(\d+)\.", k))}
    except KeyError as exc:
        raise ModelLoadError(f"not an srgan generator state_dict (no {exc.args[0]!r})") from exc
    if not blocks or not ups:
        raise ModelLoadError("not an srgan generator state_dict (no residual or upsampling blocks)")
    return GeneratorConfig(
        scale=2 ** len(ups), num_blocks=len(blocks), channels=head.shape[0], in_channels=head.shape[1]
    )


def _state_from_file(path: Path) -> tuple[dict[str, torch.Tensor], GeneratorConfig | None]:
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file, safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            state = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelLoadError(f"{path} is not a readable safetensors file ({exc})") from exc
        config = (
            GeneratorConfig(**json.loads(meta["generator_config"])) if "generator_config" in meta else None
        )
        return state, config
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelLoadError(
            f"{path} is not a PyTorch or safetensors model file ({type(exc).__name__})"
        ) from exc
    if isinstance(obj, dict) and "generator" in obj and isinstance(obj["generator"], dict):
        # A training checkpoint: prefer the EMA weights when it kept them.
        state = {
            k: v
            for k, v in (obj.get("generator_ema") or obj["generator"]).items()
            if not k.startswith("_ema")
        }
        config = GeneratorConfig(**obj["generator_config"]) if "generator_config" in obj else None
        return state, config
    if isinstance(obj, dict) and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj, None
    raise ModelLoadError(f"{path} holds no srgan generator")


def resolve_model_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A bundled model name or a file path -> an existing file."""
    from srgan.inference.bundled import bundled_path, verify_bundled

    bundled = bundled_path(str(name_or_path))
    if bundled is not None:
        problem = verify_bundled(str(name_or_path))
        if problem:
            raise ModelLoadError(problem)
        return bundled
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        from srgan.inference.bundled import bundled_names

        names = ", ".join(bundled_names()) or "none"
        raise ModelLoadError(
            f"model {name_or_path!s} is neither a file nor a bundled model (bundled: {names})"
        )
    return path


def load_generator(name_or_path: str | os.PathLike[str], scale: int | None = None) -> Generator:
    """A generator in eval mode on the CPU; ``scale`` (if given) must match the model's."""
    path = resolve_model_path(name_or_path)
    state, config = _state_from_file(path)
    try:
        config = config or infer_config(state)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{path}: {exc}") from exc
    if scale is not None and config.scale != scale:
        raise ModelLoadError(f"{path} is an x{config.scale} model, but x{scale} was asked for")
    model = Generator.from_config(config)
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelLoadError(f"{path} does not match an srgan generator ({first})") from exc
    return model.eval()
