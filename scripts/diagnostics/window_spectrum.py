"""Which periodic patterns each model draws in one window of a benchmark image.

    python scripts/diagnostics/window_spectrum.py ../shared/data/benchmark/BSD100/3096.png@20,20 --size 128 \
        --models srgan-x4 srgan-x4-real [--blur-lr]

For bicubic, each model and the HR: the RMS of the window's high-pass (grey minus its 5x5 box mean, in
grey levels), the RMS of its per-phase means on the 4x4 sub-pixel lattice (Grid's idea, on this high-pass;
Grid itself, `srgan.metrics.lattice_score`, takes a 3x3 high-pass over the whole image), and
the strongest peaks of the high-pass's power spectrum as (vertical, horizontal) frequency in cycles per
pixel with their share of the power. A peak at (0, 0.25) or (0.25, 0) is the lattice pattern the metrics
see; a peak elsewhere (0.25, 0.125 for a diagonal hatching) is a pattern they cannot see, because it
does not repeat on the 4x4 lattice. ``--blur-lr`` low-passes the LR ([1 4 6 4 1]^2 / 256, which removes
its period-2 content) before the models, to tell a pattern the generator draws by itself from one it
copies from the LR.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_crops import label, parse_image, sr_images, window

from srgan.evaluation.protocol import Sample, bicubic, make_sample
from srgan.modelfiles.loader import load_generator

PERIOD = 4


def high_pass(grey: np.ndarray) -> np.ndarray:
    padded = F.pad(torch.from_numpy(grey)[None, None], (2, 2, 2, 2), mode="reflect")
    return grey - F.avg_pool2d(padded, 5, stride=1)[0, 0].numpy()


def describe(image: np.ndarray, peaks: int) -> str:
    hp = high_pass(image.astype(np.float64).mean(axis=2) if image.ndim == 3 else image.astype(np.float64))
    n, m = hp.shape
    phases = hp[: n - n % PERIOD, : m - m % PERIOD].reshape(n // PERIOD, PERIOD, m // PERIOD, PERIOD)
    lattice = float(np.sqrt((phases.mean(axis=(0, 2)) ** 2).mean()))
    power = np.abs(np.fft.fft2(hp)) ** 2
    power[0, 0] = 0.0
    if power.sum() == 0:
        return f"high-pass {hp.std():.3f}  lattice {lattice:.3f}  peaks none (a flat window)"
    found = ", ".join(
        f"({_signed(i // m, n):+.3f}, {_signed(i % m, m):+.3f}) {100 * power.ravel()[i] / power.sum():.1f}%"
        for i in _strongest(power, peaks)
    )
    return f"high-pass {hp.std():.3f}  lattice {lattice:.3f}  peaks {found}"


def _strongest(power: np.ndarray, count: int) -> list[int]:
    """The flat indices of the ``count`` strongest frequencies, one of each +-f pair (a real image's
    spectrum is symmetric)."""
    n, m = power.shape
    chosen: list[int] = []
    for i in np.argsort(power.ravel(), kind="stable")[::-1]:
        mirror = ((-(i // m)) % n) * m + (-(i % m)) % m
        if mirror not in chosen:
            chosen.append(int(i))
        if len(chosen) == count:
            break
    return chosen


def _signed(index: int, length: int) -> float:
    return (index if index <= length // 2 else index - length) / length


def blurred(sample: Sample) -> Sample:
    taps = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=sample.lr.dtype)
    kernel = (taps[:, None] * taps[None, :] / 256.0).expand(3, 1, 5, 5)
    lr = F.conv2d(F.pad(sample.lr, (2, 2, 2, 2), mode="reflect"), kernel, groups=3)
    return Sample(sample.name, sample.hr, (lr * 255).round() / 255)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("image", help="PATH@X,Y (the window's top-left corner in HR pixels)")
    p.add_argument("--size", type=int, default=128, help="window side in HR pixels")
    p.add_argument("--models", nargs="+", required=True, help="bundled names or model files")
    p.add_argument("--blur-lr", action="store_true", help="low-pass the LR before the models")
    p.add_argument("--peaks", type=int, default=3)
    args = p.parse_args()
    path, corner = parse_image(args.image)
    sample = make_sample(path, 4, path.parent, None)
    if args.blur_lr:
        sample = blurred(sample)
    functions = {"bicubic": bicubic(4)}
    for model in args.models:
        g = load_generator(model)
        functions[label(model)] = lambda lr, g=g: g(lr.float())
    images = {**sr_images(sample, functions), "HR": sample.hr}
    for name, image in images.items():
        crop = window(image, corner, args.size) if corner is not None else image
        print(f"{name:28.28s} {describe(crop, args.peaks)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
