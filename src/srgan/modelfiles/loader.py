"""``open_model``: one entry point that inspects a model file (or a bundled name) and returns the
network, or the ONNX runtime session, with its spec.

What it reads: a bundled name (sha256 checked), a safetensors export (format tag and config
checked), a training checkpoint (the EMA weights when it kept them), a plain state_dict in
``.pth``/``.pt``/``.safetensors`` (architecture and shape detected from the keys; community
ESRGAN / Real-ESRGAN files in any of their layouts, see ``layouts``), or an ONNX file exported by
srgan. ``.pth`` files are read with ``weights_only=True``: no pickled code ever runs.

What it asks about an architecture (how to tell its files, read their shape, build the network)
is the architecture's ``ArchSpec`` (``srgan.archs``). Before any real allocation, every file is
checked the same way (``checked_network``): the network is built on torch's ``meta`` device, its
tensor names and shapes are compared with the file's, the file's tensors must fit in the file's
own bytes, and none may hold a NaN or an infinity.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from srgan import archs
from srgan.archs import AnySpec, ArchError, NetworkConfig, State
from srgan.archs.base import Ranges, declared_bytes, first_non_finite
from srgan.archs.srresnet import SRRESNET
from srgan.archs.srresnet.network import Generator
from srgan.modelfiles import checkpoint, layouts
from srgan.modelfiles.errors import ModelLoadError
from srgan.modelfiles.safetensors import ARCH_KEY, CONFIG_KEY, int8_ranges_from, read_safetensors
from srgan.modelfiles.spec import ModelSpec

__all__ = ["ModelLoadError", "OpenedModel", "checked_network", "load_generator", "open_model", "resolve_model_path"]


@dataclass
class OpenedModel:
    path: Path
    spec: ModelSpec
    network: nn.Module | None = None  # in eval mode on the CPU, float32
    session: Any = None  # an onnxruntime session for .onnx files
    # per-convolution input ranges for --precision int8, when the file carries them (srgan exports)
    int8_ranges: Ranges | None = None


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

        session, spec, config = load_onnx(path, threads)
        opened = OpenedModel(path, ModelSpec(spec.name, config.scale, "onnx", config), session=session)
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
    if not model.spec.architecture.blendable:
        raise ModelLoadError(
            f"{name_or_path} is a {model.spec.architecture.title} model, whose files cannot be blended"
        )
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
    if opened.network is None or opened.spec.architecture is not SRRESNET:
        raise ModelLoadError(f"{opened.path} is a {opened.spec.file_format} model, not an srgan generator's weights")
    return cast(Generator, opened.network)


def _open_weights(path: Path) -> OpenedModel:
    raw_state, stored, kind, meta = _read_state(path)
    state: State = raw_state
    try:
        if stored is not None:  # srgan's own file: its stored config is checked before anything else
            name, raw_config = stored
            spec = archs.by_name(name)
            config = spec.config_from(raw_config)
        else:
            spec, state, load = archs.detect(layouts.strip_data_parallel(raw_state))
            if load is not None:
                return _loaded(spec, load, state, kind, path)
            config = spec.checked(spec.infer(state))
    except (KeyError, IndexError) as exc:
        raise ModelLoadError(f"{path}: tensor {exc} is missing or misshapen for its architecture") from exc
    except ArchError as exc:
        raise ModelLoadError(f"{path}: {exc}") from exc
    network = checked_network(spec, config, state, path)
    model_spec = ModelSpec(spec.name, config.scale, kind, config)
    return OpenedModel(path, model_spec, network.eval(), int8_ranges=int8_ranges_from(meta, path))


def checked_network(spec: AnySpec, config: NetworkConfig, state: State, path: Path) -> nn.Module:
    """The network of ``spec`` and ``config`` holding ``state``, after the checks every file gets
    before anything real is allocated: the network built on the ``meta`` device (no memory) has
    exactly the file's tensor names and shapes; the file's tensors fit in the file's bytes (a
    ``.pth`` can declare a huge tensor over a small storage); no tensor holds NaN or infinity."""
    with torch.device("meta"):
        skeleton = spec.build(config, state)
    expected = skeleton.state_dict()
    problem = _mismatch(expected, state)
    if problem:
        raise ModelLoadError(f"{path} does not match an srgan {spec.name} network: {problem}")
    _check_tensors(state, path)
    network = spec.build(config, state)
    try:
        network.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:  # the checks above leave only an unusual dtype
        raise ModelLoadError(
            f"{path} does not load into an srgan {spec.name} network ({str(exc).splitlines()[0]})"
        ) from exc
    return network


def _check_tensors(state: State, path: Path) -> None:
    """The file's tensors fit in the file's bytes (a ``.pth`` can declare a huge tensor over a small
    storage) and hold no NaN or infinity."""
    declared = declared_bytes(state)
    held = path.stat().st_size
    if declared > held:
        raise ModelLoadError(
            f"{path} declares {declared:,} bytes of weights but is only {held:,} bytes long; it is not a real model file"
        )
    bad = first_non_finite(state)
    if bad is not None:
        raise ModelLoadError(f"{path}: tensor {bad} holds NaN or infinite values; the model file is damaged")


def _loaded(
    spec: AnySpec, load: Callable[[], tuple[NetworkConfig, nn.Module]], state: State, kind: str, path: Path
) -> OpenedModel:
    """A network a third-party loader builds and fills itself (``load``, from ``ArchSpec.load``),
    after the checks every file gets; its config then passes the spec's range check."""
    _check_tensors(state, path)
    try:
        config, network = load()
        spec.checked(config)
    except ArchError as exc:
        raise ModelLoadError(f"{path}: {exc}") from exc
    return OpenedModel(path, ModelSpec(spec.name, config.scale, kind, config), network.eval())


def _mismatch(expected: dict[str, torch.Tensor], state: State) -> str | None:
    """A phrase naming the first tensor the file lacks, has in excess or holds in another shape."""
    missing = [k for k in expected if k not in state]
    if missing:
        return f"tensor {missing[0]} is missing ({len(missing)} missing in all)"
    unexpected = [k for k in state if k not in expected]
    if unexpected:
        return f"it holds tensor {unexpected[0]}, which the network does not have ({len(unexpected)} such)"
    for key, want in expected.items():
        got = tuple(state[key].shape)
        if got != tuple(want.shape):
            return f"tensor {key} is {got} in the file but {tuple(want.shape)} in the network"
    return None


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
        weights, arch, raw = checkpoint.generator_weights(obj)
        return weights, (arch, raw) if raw is not None else None, "checkpoint", {}
    plain = layouts.unwrap(obj)
    if plain is None:
        raise ModelLoadError(f"{path} holds no model weights (neither a state_dict nor a params/params_ema wrapper)")
    return plain, None, "state_dict", {}


def _json(text: str, path: Path) -> object:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ModelLoadError(f"{path}: its generator config is not valid JSON ({exc})") from exc
