"""How close a copy of a teacher must be to keep the teacher's NIQE.

    srgan eval --model TEACHER --data ../shared/data/benchmark/Set14 --degradation realistic --save-images t/
    srgan eval --model STUDENT --data ... --degradation realistic --save-images s/ --no-niqe
    python scripts/diagnostics/niqe_vs_copy.py t/Set14 s/Set14 [more student folders]

Prints, over the images of the teacher's folder (``NAME_sr.png``), the mean PSNR-Y to the teacher's output and
the mean NIQE (both as `srgan eval` measures them: BT.601 Y, 4-px border cropped) of the teacher's output
blurred by Gaussians of growing sigma, then of each student's output. A distillation's students sit on a
PSNR axis whose NIQE the blurred rows calibrate: a student whose error were a blur would need the PSNR-Y of the
row with the NIQE it is asked for.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from srgan.imageio import read_image, to_rgb
from srgan.metrics.full_reference import crop_border, gaussian_1d, psnr_y, rgb_to_y
from srgan.metrics.niqe import niqe

SIGMAS = (0.0, 0.5, 0.6, 0.8, 1.0, 1.3)
BORDER = 4  # x4's border, as the evaluation protocol crops it


def load(path: Path) -> torch.Tensor:
    """An 8-bit image (srgan eval's output) as float RGB (3, H, W) in grey levels."""
    return to_rgb(read_image(path).pixels).float()


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """``image`` (3, H, W) blurred by a separable Gaussian (reflected edges), rounded to grey levels."""
    if sigma == 0:
        return image
    radius = int(3 * sigma + 0.5)
    kernel = gaussian_1d(2 * radius + 1, sigma).float().repeat(3, 1, 1, 1)
    x = F.pad(image[None], (radius,) * 4, mode="reflect")
    x = F.conv2d(x, kernel.view(3, 1, 1, -1), groups=3)
    x = F.conv2d(x, kernel.view(3, 1, -1, 1), groups=3)
    return x[0].round().clamp(0, 255)


def hwc(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).numpy().astype(np.uint8)


def score(outputs: list[torch.Tensor], teachers: list[torch.Tensor]) -> tuple[float, float]:
    """Mean PSNR-Y to the teachers' outputs and mean NIQE of ``outputs``, as srgan eval's protocol scores them."""
    pairs = [(hwc(o), hwc(t)) for o, t in zip(outputs, teachers, strict=True)]
    psnrs = [psnr_y(o, t, BORDER) for o, t in pairs]
    return float(np.mean(psnrs)), float(np.mean([niqe(crop_border(rgb_to_y(o), BORDER)) for o, _ in pairs]))


def rows(
    teacher_dir: Path, student_dirs: list[Path], sigmas: tuple[float, ...] = SIGMAS
) -> list[tuple[str, float, float]]:
    names = sorted(p.name.removesuffix("_sr.png") for p in teacher_dir.glob("*_sr.png"))
    if not names:
        raise SystemExit(f"{teacher_dir} has no NAME_sr.png images (srgan eval --save-images writes them)")
    teachers = [load(teacher_dir / f"{n}_sr.png") for n in names]
    table = [
        (f"teacher blurred, sigma {s:g}", *score([gaussian_blur(t, s) for t in teachers], teachers)) for s in sigmas
    ]
    for folder in student_dirs:
        missing = [n for n in names if not (folder / f"{n}_sr.png").is_file()]
        if missing:
            raise SystemExit(f"{folder} has no {missing[0]}_sr.png for the teacher's image of that name")
        table.append((str(folder), *score([load(folder / f"{n}_sr.png") for n in names], teachers)))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("teacher", type=Path, help="the teacher's --save-images folder (NAME_sr.png)")
    parser.add_argument("students", type=Path, nargs="*", help="students' folders with the same names")
    args = parser.parse_args()
    print("| output | PSNR-Y to the teacher (dB) | NIQE |\n| --- | ---: | ---: |")
    for label, p, n in rows(args.teacher, args.students):
        print(f"| {label} | {p:.2f} | {n:.3f} |")


if __name__ == "__main__":
    main()
