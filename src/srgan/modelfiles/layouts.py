"""The key layouts of community model files, and the network shape their tensors imply.

Files published for ESRGAN and Real-ESRGAN come in a few layouts:
- BasicSR's (Real-ESRGAN, most newer models): ``conv_first``, ``body.N.rdb1.conv1``, ``conv_body``,
  ``conv_up1``, ... for RRDBNet; ``body.N`` for SRVGGNetCompact; usually wrapped as
  ``{"params_ema": ...}`` or ``{"params": ...}``;
- the original ESRGAN repository's (``model.0``, ``model.1.sub.N.RDB1.conv1.0``, ...), which most
  older community models use;
- either one with the ``module.`` prefix ``nn.DataParallel`` adds.
Everything is read into BasicSR's names (srgan's module names), and the shape (blocks, features,
scale) is inferred from the tensors' shapes, so no file needs a side-car config.
"""

from __future__ import annotations

import math
import re

import torch

from srgan.modelfiles.errors import ModelLoadError
from srgan.models.compact import CompactConfig
from srgan.models.rrdb import RRDBConfig

State = dict[str, torch.Tensor]

# BasicSR stores the EMA weights beside the raw ones; the EMA ones are the published model.
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model")


def unwrap(obj: object) -> State | None:
    """The tensor mapping inside a loaded ``.pth`` (a wrapper's EMA weights first), or None."""
    if isinstance(obj, dict):
        for key in WRAPPER_KEYS:
            inner = obj.get(key)
            if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                return inner
        if obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
            return obj
    return None


def normalise(state: State) -> State:
    """``state`` in srgan's (BasicSR's) module names."""
    if all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    if "model.0.weight" in state and any(k.startswith("model.1.sub.") for k in state):
        state = _from_esrgan(state)
    return state


def _from_esrgan(state: State) -> State:
    """The original ESRGAN repository's names -> BasicSR's. Its network is one Sequential:
    model.0 conv_first; model.1 the trunk (sub.N the RRDBs, sub.<last> conv_body); then per
    octave Upsample, conv, LeakyReLU; then the HR conv, LeakyReLU, the last conv."""
    out: State = {}
    tail: dict[int, dict[str, torch.Tensor]] = {}
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"model\.1\.sub\.(\d+)\.RDB", k))}
    for key, value in state.items():
        if m := re.fullmatch(r"model\.0\.(weight|bias)", key):
            out[f"conv_first.{m.group(1)}"] = value
        elif m := re.fullmatch(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)", key):
            b, r, c, kind = m.groups()
            out[f"body.{b}.rdb{r}.conv{c}.{kind}"] = value
        elif m := re.fullmatch(r"model\.1\.sub\.(\d+)\.(weight|bias)", key):
            if int(m.group(1)) != len(blocks):
                raise ModelLoadError(f"unexpected ESRGAN key {key}")
            out[f"conv_body.{m.group(2)}"] = value
        elif m := re.fullmatch(r"model\.(\d+)\.(weight|bias)", key):
            tail.setdefault(int(m.group(1)), {})[m.group(2)] = value
        else:
            raise ModelLoadError(f"unexpected ESRGAN key {key}")
    order = sorted(tail)
    if len(order) < 2:
        raise ModelLoadError("an ESRGAN file without its HR and last convolutions")
    names = [f"conv_up{i + 1}" for i in range(len(order) - 2)] + ["conv_hr", "conv_last"]
    for name, index in zip(names, order, strict=True):
        for kind, value in tail[index].items():
            out[f"{name}.{kind}"] = value
    return out


def is_rrdb(state: State) -> bool:
    return "conv_first.weight" in state and any(k.startswith("body.0.rdb1.") for k in state)


def infer_rrdb(state: State) -> RRDBConfig:
    first, last = state["conv_first.weight"], state["conv_last.weight"]
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"body\.(\d+)\.rdb1\.", k))}
    ups = sum(1 for k in state if re.fullmatch(r"conv_up\d+\.weight", k))
    out_channels = last.shape[0]
    unshuffle = math.isqrt(first.shape[1] // out_channels)
    if unshuffle not in (1, 2, 4) or first.shape[1] != out_channels * unshuffle**2:
        raise ModelLoadError(f"an RRDBNet whose first conv takes {first.shape[1]} channels")
    if 2**ups % unshuffle:
        raise ModelLoadError(f"an RRDBNet with {ups} upsamplers after a x{unshuffle} unshuffle")
    return RRDBConfig(
        scale=2**ups // unshuffle,
        num_blocks=len(blocks),
        features=first.shape[0],
        growth=state["body.0.rdb1.conv1.weight"].shape[0],
        in_channels=out_channels,
        out_channels=out_channels,
        unshuffle=unshuffle,
    )


def is_compact(state: State) -> bool:
    return "body.0.weight" in state and all(re.fullmatch(r"body\.\d+\.(weight|bias)", k) for k in state)


def infer_compact(state: State) -> CompactConfig:
    indices = sorted({int(k.split(".")[1]) for k in state})
    convs = [i for i in indices if state[f"body.{i}.weight"].dim() == 4]
    prelus = [i for i in indices if state[f"body.{i}.weight"].dim() == 1]
    if convs != list(range(0, 2 * len(convs), 2)) or prelus != [i + 1 for i in convs[:-1]]:
        raise ModelLoadError(
            "an SRVGGNetCompact without PReLU after every conv (ReLU and LeakyReLU variants cannot be told "
            "apart from the weights, so only the published PReLU form is read)"
        )
    first, last = state["body.0.weight"], state[f"body.{convs[-1]}.weight"]
    channels = first.shape[1]
    scale = math.isqrt(last.shape[0] // channels)
    if channels * scale**2 != last.shape[0]:
        raise ModelLoadError(f"an SRVGGNetCompact whose last conv has {last.shape[0]} outputs for {channels} channels")
    return CompactConfig(
        scale=scale, num_conv=len(convs) - 2, features=first.shape[0], in_channels=channels, out_channels=channels
    )
