"""``open_model``: one entry point that inspects a model file (or a bundled name) and returns the
network, or the ONNX runtime session, with its spec.

What it reads: a bundled name (sha256 checked), a safetensors export (format tag and config
checked), a training checkpoint (the EMA weights when it kept them), a plain state_dict in
``.pth``/``.pt``/``.safetensors`` (architecture and shape detected from the keys; community
ESRGAN / Real-ESRGAN files in any of their layouts, see ``layouts``), or an ONNX file exported by
srgan. ``.pth`` files are read with ``weights_only=True``: no pickled code ever runs.

A new architecture is one module in ``srgan.models`` plus one entry in ``ARCHITECTURES``: a rule
that recognises its state_dict keys, a function that infers its shape, and its constructor.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from srgan.modelfiles import checkpoint, layouts
from srgan.modelfiles.errors import ModelLoadError
from srgan.modelfiles.safetensors import ARCH_KEY, CONFIG_KEY, int8_ranges_from, read_safetensors
from srgan.modelfiles.spec import ModelSpec, NetworkConfig, check_config, network_config_from
from srgan.models.compact import SRVGGNetCompact
from srgan.models.generator import Generator, GeneratorConfig
from srgan.models.quantized import Ranges
from srgan.models.rrdb import RRDBNet

__all__ = ["ModelLoadError", "OpenedModel", "load_generator", "open_model", "resolve_model_path"]


@dataclass
class OpenedModel:
    path: Path
    spec: ModelSpec
    network: nn.Module | None = None  # in eval mode on the CPU, float32
    session: Any = None  # an onnxruntime session for .onnx files
    # per-convolution input ranges for --precision int8, when the file carries them (srgan exports)
    int8_ranges: Ranges | None = None


@dataclass(frozen=True)
class Architecture:
    name: str  # the key of spec.CONFIG_TYPES
    title: str  # what users call it
    matches: Callable[[dict[str, torch.Tensor]], bool]
    infer: Callable[[dict[str, torch.Tensor]], NetworkConfig]
    build: Callable[[Any], nn.Module]  # called with the config ``infer`` (or the file) gave


def _is_srresnet(state: dict[str, torch.Tensor]) -> bool:
    return "head.0.weight" in state and any(k.startswith("upsample.") for k in state)


def infer_srresnet(state: dict[str, torch.Tensor]) -> GeneratorConfig:
    """The generator's shape from a state_dict's keys and tensor shapes."""
    head = state["head.0.weight"]
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"body\.(\d+)\.", k))}
    ups = {int(m.group(1)) for k in state if (m := re.match(r"upsample\.(\d+)\.", k))}
    if not blocks or head.dim() != 4:
        raise ModelLoadError("an SRResNet state_dict without residual blocks")
    return GeneratorConfig(
        scale=2 ** len(ups), num_blocks=len(blocks), channels=head.shape[0], in_channels=head.shape[1]
    )


ARCHITECTURES = [
    Architecture("srresnet", "srgan SRResNet", _is_srresnet, infer_srresnet, Generator.from_config),
    Architecture("rrdb", "ESRGAN / Real-ESRGAN RRDBNet", layouts.is_rrdb, layouts.infer_rrdb, RRDBNet),
    Architecture("compact", "Real-ESRGAN SRVGGNetCompact", layouts.is_compact, layouts.infer_compact, SRVGGNetCompact),
]


def resolve_model_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A bundled model name or a file path -> an existing file."""
    from srgan.modelfiles.bundled import bundled_names, bundled_path, verify_bundled

    bundled = bundled_path(str(name_or_path))
    if bundled is not None:
        problem = verify_bundled(str(name_or_path))
        if problem:
            raise ModelLoadError(problem)
        return bundled
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        names = ", ".join(bundled_names()) or "none"
        raise ModelLoadError(f"model {name_or_path!s} is neither a file nor a bundled model (bundled: {names})")
    return path


def open_model(
    name_or_path: str | os.PathLike[str], scale: int | None = None, threads: int | None = None
) -> OpenedModel:
    """Inspect and load a model; ``scale`` (if given) must match the model's."""
    path = resolve_model_path(name_or_path)
    if path.suffix.lower() == ".onnx":
        from srgan.modelfiles.onnx import load_onnx

        session, arch, config = load_onnx(path, threads)
        opened = OpenedModel(path, ModelSpec(arch, config.scale, "onnx", config), session=session)
    else:
        opened = _open_weights(path)
    if scale is not None and opened.spec.scale != scale:
        raise ModelLoadError(f"{path} is an x{opened.spec.scale} model, but x{scale} was asked for")
    return opened


def open_blended(
    name_or_path: str | os.PathLike[str],
    strength: float = 1.0,
    base: str | os.PathLike[str] | None = None,
    scale: int | None = None,
    threads: int | None = None,
) -> OpenedModel:
    """``name_or_path`` at ``strength`` towards its fidelity ``base`` (default: the base its bundled
    card names). Strength 1 without an explicit base is the model itself, opened alone (ONNX too);
    an explicit base is always checked against the model, so an incompatible pair is refused."""
    from srgan.modelfiles.blend import blend_states, check_strength
    from srgan.modelfiles.bundled import fidelity_base

    check_strength(strength)
    if strength == 1.0 and base is None:
        return open_model(name_or_path, scale, threads)
    base = base if base is not None else fidelity_base(str(name_or_path))
    if base is None:
        raise ModelLoadError(f"{name_or_path} names no fidelity base to blend with; give one (--blend-with FILE)")
    model, fidelity = open_model(name_or_path, scale), open_model(base, scale)
    if model.network is None or fidelity.network is None:
        raise ModelLoadError("strength needs PyTorch weights on both sides, not ONNX files")
    if model.spec.arch != fidelity.spec.arch or model.spec.config != fidelity.spec.config:
        raise ModelLoadError(
            f"{name_or_path} ({model.spec.arch}, {model.spec.config}) and {base} ({fidelity.spec.arch}, "
            f"{fidelity.spec.config}) are not the same network, so they cannot be blended"
        )
    names = (str(base), str(name_or_path))
    state = blend_states(fidelity.network.state_dict(), model.network.state_dict(), strength, names)
    model.network.load_state_dict(state)
    model.int8_ranges = _union(model.int8_ranges, fidelity.int8_ranges)
    return model


def _union(a: Ranges | None, b: Ranges | None) -> Ranges | None:
    """Input ranges that cover both ends of a blend (its activations lie between theirs in practice;
    the int8 quality gate checks the result)."""
    if a is None or b is None or a.keys() != b.keys():
        return None
    return {name: (min(a[name][0], b[name][0]), max(a[name][1], b[name][1])) for name in a}


def load_generator(name_or_path: str | os.PathLike[str], scale: int | None = None) -> Generator:
    """The SRResNet generator of a model file, in eval mode on the CPU."""
    opened = open_model(name_or_path, scale)
    if not isinstance(opened.network, Generator):
        raise ModelLoadError(f"{opened.path} is a {opened.spec.file_format} model, not an srgan generator's weights")
    return opened.network


def _open_weights(path: Path) -> OpenedModel:
    state, stored, kind, meta = _read_state(path)
    if stored is not None:  # srgan's own file: its stored config is checked before anything else
        name, raw_config = stored
        config = network_config_from(name, raw_config, path)
        arch = next(a for a in ARCHITECTURES if a.name == name)
    else:
        try:
            state = layouts.normalise(state)
            arch = _detect(state)
            config = arch.infer(state)
        except (KeyError, IndexError) as exc:
            raise ModelLoadError(f"{path}: tensor {exc} is missing or misshapen for its architecture") from exc
        except ModelLoadError as exc:
            raise ModelLoadError(f"{path}: {exc}") from exc
        check_config(config, path)
    network = arch.build(config)
    try:
        network.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelLoadError(f"{path} does not match an srgan {arch.name} network ({first})") from exc
    spec = ModelSpec(arch.name, config.scale, kind, config)
    return OpenedModel(path, spec, network.eval(), int8_ranges=int8_ranges_from(meta, path))


def _detect(state: dict[str, torch.Tensor]) -> Architecture:
    arch = next((a for a in ARCHITECTURES if a.matches(state)), None)
    if arch is None:
        known = ", ".join(a.title for a in ARCHITECTURES)
        raise ModelLoadError(
            f"holds no network srgan knows (it reads {known}; ESRGAN files in the original or BasicSR key layout)"
        )
    return arch


def _read_state(path: Path) -> tuple[dict[str, torch.Tensor], tuple[str, object] | None, str, dict[str, str]]:
    """(weights, the stored (architecture, config mapping) or None, the file's kind, its metadata)."""
    if path.suffix.lower() == ".safetensors":
        state, meta = read_safetensors(path)
        if CONFIG_KEY not in meta:
            return state, None, "state_dict", meta
        return state, (meta.get(ARCH_KEY, "srresnet"), _json(meta[CONFIG_KEY], path)), "safetensors", meta
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelLoadError(f"{path} is not a PyTorch or safetensors model file ({type(exc).__name__})") from exc
    if checkpoint.is_checkpoint(obj):
        weights, raw = checkpoint.generator_weights(obj)
        return weights, ("srresnet", raw) if raw is not None else None, "checkpoint", {}
    plain = layouts.unwrap(obj)
    if plain is None:
        raise ModelLoadError(f"{path} holds no model weights (neither a state_dict nor a params/params_ema wrapper)")
    return plain, None, "state_dict", {}


def _json(text: str, path: Path) -> object:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ModelLoadError(f"{path}: its generator config is not valid JSON ({exc})") from exc
