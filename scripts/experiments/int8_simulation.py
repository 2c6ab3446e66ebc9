"""How much PSNR-Y an int8 scheme would cost srgan's models, simulated in float (issue 17).

Each convolution of the model's inference form (FastGenerator) gets per-output-channel symmetric int8
weights and its input rounded to a per-tensor 8-bit grid calibrated on training patches; the residual
stream, PReLU and PixelShuffle stay in float, as an int8-in / float-out convolution kernel
(oneDNN's qconv with fp32 output) would leave them. The script prints the PSNR-Y change against fp32 on
the benchmark sets by the standard protocol. The calibration is the product's (``srgan export
--int8-calibration``); ``--precision int8`` runs the chosen scheme with real kernels (srgan.archs.srresnet.quantized).

    python scripts/experiments/int8_simulation.py --model srresnet-x4 --asymmetric --keep tail
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from srgan.archs.srresnet.fast import FastGenerator
from srgan.archs.srresnet.quantized import calibrate
from srgan.cli.export import calibration_images
from srgan.evaluation.protocol import load_samples
from srgan.metrics import psnr_y
from srgan.modelfiles.loader import load_generator

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def quantise(model: nn.Module, ranges: dict[str, tuple[float, float]], asymmetric: bool, keep: set[str]) -> None:
    for name, conv in model.named_modules():
        if not isinstance(conv, nn.Conv2d) or name in keep or name not in ranges:  # the head stays float
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
    parser.add_argument("--data", type=Path, nargs="+", default=[SHARED / "benchmark" / s for s in ("Set5", "Set14")])
    args = parser.parse_args()
    torch.set_num_threads(1)
    reference = FastGenerator(load_generator(args.model)).eval()
    model = FastGenerator(load_generator(args.model)).eval()
    ranges = calibrate(model, calibration_images(args.calibration))
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
