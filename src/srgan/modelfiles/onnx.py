"""ONNX export of a network (in its architecture's fast form where it has one: an SRResNet with
BN folded and the fast tail; an RRDBNet or SRVGGNetCompact as it is) and loading it back for
onnxruntime."""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from srgan import archs
from srgan.archs import AnySpec, ArchError, NetworkConfig, spec_for
from srgan.atomic import atomic_path
from srgan.modelfiles.errors import ModelLoadError
from srgan.modelfiles.safetensors import ARCH_KEY, CONFIG_KEY, FORMAT, FORMAT_KEY, VALUE_RANGE_KEY

OPSET = 17


def export_onnx(network: nn.Module, config: NetworkConfig, path: str | os.PathLike[str], opset: int = OPSET) -> None:
    """Write ``path`` with input ``lr`` (N, 3, H, W) and output ``sr`` (N, 3, sH, sW), all dynamic;
    values in [0, 1]; scale, value range, architecture and config in the model's metadata."""
    import onnx

    spec = spec_for(config)
    traced = (spec.fast(network.eval()) if spec.fast is not None else network).eval()
    dummy = torch.rand(1, 3, 32, 32)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            traced,
            (dummy,),
            str(tmp),
            dynamo=False,
            opset_version=opset,
            input_names=["lr"],
            output_names=["sr"],
            dynamic_axes={
                "lr": {0: "batch", 2: "height", 3: "width"},
                "sr": {0: "batch", 2: "out_height", 3: "out_width"},
            },
        )
        model = onnx.load(str(tmp))
        meta = {
            FORMAT_KEY: FORMAT,
            "scale": str(config.scale),
            VALUE_RANGE_KEY: "[0, 1] in and out (clamp the output)",
            ARCH_KEY: spec.name,
            CONFIG_KEY: json.dumps(config.to_dict()),
        }
        for key, value in meta.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        model.doc_string = f"srgan {spec.name} network; input lr (N,3,H,W) in [0,1]"
        onnx.save(model, str(tmp))


def load_onnx(path: Path, threads: int | None = None) -> tuple[Any, AnySpec, NetworkConfig]:
    """An onnxruntime session, the architecture and its config from an srgan ONNX file."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ImportError("running ONNX models needs onnxruntime: pip install 'srgan[onnx]'") from exc
    if not path.is_file():
        raise ModelLoadError(f"model {path} does not exist")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(str(path), options, providers=ort.get_available_providers())
    except Exception as exc:
        raise ModelLoadError(f"{path} is not a loadable ONNX model ({type(exc).__name__})") from exc
    meta = session.get_modelmeta().custom_metadata_map
    # "srgan_format" is the tag's name in files exported before the tag had one name everywhere.
    tag = meta.get(FORMAT_KEY, meta.get("srgan_format"))
    if tag != FORMAT or CONFIG_KEY not in meta:
        raise ModelLoadError(f"{path} is an ONNX model, but not one exported by srgan (no {FORMAT!r} tag)")
    try:
        spec = archs.by_name(meta.get(ARCH_KEY, "srresnet"))
        return session, spec, spec.config_from(_json(meta[CONFIG_KEY], path))
    except ArchError as exc:
        raise ModelLoadError(f"{path}: {exc}") from exc


def _json(text: str, path: Path) -> object:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ModelLoadError(f"{path}: its generator config is not valid JSON ({exc})") from exc


def parity(network: nn.Module, path: Path, sizes: tuple[tuple[int, int], ...] = ((24, 32), (37, 29))) -> float:
    """Max |onnxruntime - PyTorch| over random inputs of the given LR sizes; infinite when either
    output holds a NaN or an infinity (which no comparison may pass)."""
    session, spec, config = load_onnx(path)
    m = spec.input_multiple(config)
    worst = 0.0
    g = torch.Generator().manual_seed(0)
    for h, w in sizes:
        x = torch.rand(1, 3, -(-h // m) * m, -(-w // m) * m, generator=g)
        with torch.no_grad():
            ref = network.eval()(x).numpy()
        (out,) = session.run(None, {"lr": x.numpy()})
        if not (np.isfinite(out).all() and np.isfinite(ref).all()):
            return math.inf
        worst = max(worst, float(np.abs(out - ref).max()))
    return worst
