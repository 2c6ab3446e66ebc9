"""How much PSNR-Y an int8 scheme would cost srgan's models, simulated in float (issue 17).

Each convolution of the model's inference form (FastGenerator) gets per-output-channel symmetric int8
weights and its input rounded to a per-tensor 8-bit grid calibrated on training patches; the residual
stream, PReLU and PixelShuffle stay in float, as an int8-in / float-out convolution kernel
(oneDNN's qconv with fp32 output) would leave them. The script prints the PSNR-Y change against fp32 on
the benchmark sets by the standard protocol.

    python scripts/int8_simulation.py --model srresnet-x4 --asymmetric --keep tail
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from srgan.evaluation.protocol import load_samples
from srgan.imageio import find_images, read_tensor
from srgan.metrics import psnr_y
from srgan.modelfiles.loader import load_generator
from srgan.models.fast import FastGenerator

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def calibration_patches(folder: Path, count: int, size: int = 96) -> list[torch.Tensor]:
    patches = []
    for path in find_images([folder])[:count]:
        image = read_tensor(path)[:3]
        peak = 255.0 if image.dtype == torch.uint8 else 1.0  # pixels as stored: uint8 for 8-bit files
        patches.append(image[None, :, :size, :size].float() / peak)
    return patches


def input_ranges(model: nn.Module, patches: list[torch.Tensor]) -> dict[str, tuple[float, float]]:
    """(min, max) of every convolution's input over the calibration patches."""
    ranges: dict[str, tuple[float, float]] = {}

    def record(name: str) -> Callable[[nn.Module, tuple[torch.Tensor, ...]], None]:
        def hook(_: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            lo, hi = inputs[0].min().item(), inputs[0].max().item()
            old = ranges.get(name, (lo, hi))
            ranges[name] = (min(old[0], lo), max(old[1], hi))

        return hook

    convs = {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    handles = [m.register_forward_pre_hook(record(n)) for n, m in convs.items()]
    with torch.no_grad():
        for patch in patches:
            model(patch)
    for handle in handles:
        handle.remove()
    return ranges


def quantise(model: nn.Module, ranges: dict[str, tuple[float, float]], asymmetric: bool, keep: set[str]) -> None:
    for name, conv in model.named_modules():
        if not isinstance(conv, nn.Conv2d) or name in keep:
            continue
        with torch.no_grad():
            step = conv.weight.abs().amax(dim=(1, 2, 3), keepdim=True) / 127
            conv.weight.copy_(torch.round(conv.weight / step) * step)
        lo, hi = ranges[name]
        if asymmetric:
            zero, scale, qmin, qmax = lo, (hi - lo) / 255, 0, 255
        else:
            bound = max(abs(lo), abs(hi))
            zero, scale, qmin, qmax = 0.0, bound / 127, -128, 127

        def fake(
            _: nn.Module,
            inputs: tuple[torch.Tensor, ...],
            z: float = zero,
            s: float = scale,
            q: tuple[int, int] = (qmin, qmax),
        ) -> tuple[torch.Tensor]:
            return (torch.clamp(torch.round((inputs[0] - z) / s), *q) * s + z,)

        conv.register_forward_pre_hook(fake)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="srresnet-x4")
    parser.add_argument("--asymmetric", action="store_true", help="uint8 with a zero point (else symmetric int8)")
    parser.add_argument("--keep", nargs="*", default=[], help="convolutions left in float (e.g. tail head.0)")
    parser.add_argument("--calibration", type=Path, default=SHARED / "train" / "T91")
    parser.add_argument("--patches", type=int, default=16)
    parser.add_argument("--data", type=Path, nargs="+", default=[SHARED / "benchmark" / s for s in ("Set5", "Set14")])
    args = parser.parse_args()
    torch.set_num_threads(1)
    reference = FastGenerator(load_generator(args.model)).eval()
    model = FastGenerator(load_generator(args.model)).eval()
    ranges = input_ranges(model, calibration_patches(args.calibration, args.patches))
    quantise(model, ranges, args.asymmetric, set(args.keep))
    for folder in args.data:
        samples, _ = load_samples(folder, 4)
        scores = []
        for sample in samples:
            with torch.no_grad():
                ref, low = (m(sample.lr.float())[0].clamp(0, 1) for m in (reference, model))
            images = [(t * 255).round().byte().permute(1, 2, 0).numpy() for t in (ref, low)]
            scores.append([psnr_y(image, sample.hr, 4) for image in images])
        fp32, int8 = np.mean(scores, axis=0)
        print(f"{args.model} {folder.name}: fp32 {fp32:.3f}, int8 (simulated) {int8:.3f}, change {int8 - fp32:+.3f} dB")


if __name__ == "__main__":
    main()
