"""How much period-4 pattern each model draws in the flat areas of benchmark images.

    python scripts/diagnostics/flat_band_energy.py --data ../shared/data/benchmark/BSD100 --images 20 --models srgan-x4 ...

For each model, the mean over the images of ``srgan.losses.flat_band_loss`` between its SR (the
standard protocol's LR, output rounded to 8 bits) and the HR, x1e6: the energy at frequency 1/4 along
either axis that adds up over stacks of HR's flat cells, in excess of what random grain gives and of the
HR's own. The training term's measure, applied to whole images; bicubic and srgan-x4 score about 1 or
less, a model drawing a visible hatching in skies 5-9.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from srgan.evaluation.protocol import Sample, evaluate, make_sample
from srgan.imageio import find_images, to_float, to_rgb
from srgan.losses import flat_band_loss
from srgan.modelfiles.loader import load_generator


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="a benchmark folder of HR images")
    p.add_argument("--images", type=int, default=20, help="the first N images (sorted by name)")
    p.add_argument("--models", nargs="+", required=True, help="bundled names or model files")
    args = p.parse_args()
    samples = [make_sample(path, 4, args.data, None) for path in find_images([args.data])[: args.images]]
    for model in args.models:
        values = band_values(samples, model)
        print(f"{model:40.40s} {sum(values) / len(values):7.3f}")
    return 0


def band_values(samples: list[Sample], model: str) -> list[float]:
    """The measure (x1e6) of each sample, on the SR as `srgan eval` makes it (rounded to 8 bits)."""
    g = load_generator(model)
    values: list[float] = []

    def measure(sample: Sample, sr_u8: np.ndarray) -> None:
        values.append(flat_band_loss(as_batch(sr_u8), as_batch(sample.hr), 4).item() * 1e6)

    with torch.inference_mode():
        evaluate(samples, lambda lr: g(lr.float()), 4, with_niqe=False, on_image=measure)
    return values


def as_batch(image: np.ndarray) -> torch.Tensor:
    """A uint8 HWC (or HW, gray) image as a (1, 3, H, W) float batch in [0, 1]."""
    x = torch.from_numpy(image)
    return to_rgb(to_float(x[None] if x.dim() == 2 else x.permute(2, 0, 1)))[None]


if __name__ == "__main__":
    sys.exit(main())
