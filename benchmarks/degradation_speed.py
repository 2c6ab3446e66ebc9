"""Can the data workers keep up with the trainer when LR patches come from the realistic pipeline?

Prints patches per second per worker process for the bicubic and the realistic pipeline (the dataset's own
__getitem__, decoded images cached), and what the trainer consumes (batch 16 per step at the measured step
time given on the command line).

    python benchmarks/degradation_speed.py --step-seconds 1.9
    python benchmarks/degradation_speed.py --smoke    # two small images, four patches: checks the script runs
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from _common import machine_line, table
from srgan.data.dataset import SRTrainDataset
from srgan.data.degradations import RealisticConfig


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--patches", type=int, default=200)
    p.add_argument("--step-seconds", type=float, default=1.9, help="the trainer's seconds per step (stage srgan)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--smoke", action="store_true", help="two 128x128 images, four patches")
    args = p.parse_args()
    images, side = (2, 128) if args.smoke else (8, 480)
    if args.smoke:
        args.patches = 4
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        for i in range(images):
            Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(Path(tmp) / f"{i}.png")
        rows = []
        need = args.batch / args.step_seconds
        for name, degradation in (("bicubic", None), ("realistic", RealisticConfig())):
            ds = SRTrainDataset([tmp], 4, 96, cache=True, degradation=degradation)
            ds[0]
            t0 = time.perf_counter()
            for i in range(args.patches):
                ds[i % len(ds)]
            rate = args.patches / (time.perf_counter() - t0)
            rows.append([name, f"{1000 / rate:.1f}", f"{rate:.0f}", f"{need:.1f}", f"{rate / need:.1f}x"])
    print(machine_line())
    print(table(["LR pipeline", "ms/patch", "patches/s (1 worker)", "trainer needs/s", "headroom"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
