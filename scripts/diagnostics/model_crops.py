"""The comparison crops in docs/models.md: bicubic | srresnet-x4 | srgan-x4 | HR on benchmark images.

Any model srgan loads can be a panel (bundled names, exports, checkpoints, community files such as a distillation's
teacher): each runs through ``Upscaler`` in fp32, as ``srgan upscale --precision fp32`` would.

    python scripts/diagnostics/model_crops.py ../shared/data/benchmark/Set14/baboon.png@300,40 ... --out docs/img

Each image is a path, optionally with @X,Y: the top-left corner of the window (in HR pixels); without
it, the window with the most detail is used. Crops are enlarged --zoom times with nearest-neighbour
so that pixel-level artifacts (grids, halos) stay visible. ``--stretch K`` multiplies each panel's
deviations from its median grey by K (written as ``..._stretchK.png``): a grid of 1-2 grey levels in a smooth
sky, invisible at normal contrast, shows at K = 8. ``--degradation PRESET`` damages the LR as
``srgan eval --degradation`` does (jpeg75, noise10, realistic; the HR stays the reference).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from srgan.evaluation.protocol import LR_PRESETS, Sample, SRFunction, bicubic, evaluate, make_sample
from srgan.evaluation.report import comparison_strip, save_png
from srgan.inference.upscaler import Upscaler
from srgan.modelfiles.bundled import bundled_path

MODELS = ("srresnet-x4", "srgan-x4")


def parse_image(arg: str) -> tuple[Path, tuple[int, int] | None]:
    path, _, corner = arg.partition("@")
    if not corner:
        return Path(path), None
    x, y = (int(v) for v in corner.split(","))
    return Path(path), (x, y)


def label(model: str) -> str:
    """A bundled name as it is; a file by its last folders, so two runs' checkpoints stay apart."""
    return model if bundled_path(model) is not None else "/".join(Path(model).parts[-3:])


def stretch(image: np.ndarray, factor: float) -> np.ndarray:
    """Grey, with deviations from the median enlarged ``factor`` times around mid-grey."""
    grey = image.astype(np.float64).mean(axis=2) if image.ndim == 3 else image.astype(np.float64)
    return np.clip((grey - np.median(grey)) * factor + 128, 0, 255).round().astype(np.uint8)


def window(image: np.ndarray, corner: tuple[int, int], size: int) -> np.ndarray:
    x, y = corner
    if y + size > image.shape[0] or x + size > image.shape[1]:
        raise SystemExit(
            f"error: the {size}px window at {x},{y} does not fit a {image.shape[1]}x{image.shape[0]} image"
        )
    return image[y : y + size, x : x + size]


@torch.inference_mode()
def sr_images(sample: Sample, functions: dict[str, SRFunction]) -> dict[str, np.ndarray]:
    """Each function's uint8 SR of the sample, as the evaluation protocol makes it."""
    outputs: dict[str, np.ndarray] = {}
    for name, fn in functions.items():
        evaluate([sample], fn, 4, with_niqe=False, on_image=lambda _s, sr, name=name: outputs.update({name: sr}))
    return outputs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("images", nargs="+", help="PATH or PATH@X,Y")
    p.add_argument("--out", type=Path, default=Path("docs/img"))
    p.add_argument("--crop", type=int, default=128, help="window side in HR pixels")
    p.add_argument("--zoom", type=int, default=2, help="nearest-neighbour enlargement of the crops")
    p.add_argument("--models", nargs="+", default=list(MODELS), help="bundled names or model/checkpoint files")
    p.add_argument("--stretch", type=float, help="also write a contrast-stretched copy (deviations x this)")
    p.add_argument("--degradation", choices=[*LR_PRESETS, "realistic"], help="damage the LR as srgan eval does")
    args = p.parse_args()
    upscalers = {label(model): Upscaler.from_pretrained(model, device="cpu", precision="fp32") for model in args.models}
    for arg in args.images:
        path, corner = parse_image(arg)
        sample = make_sample(path, 4, path.parent, args.degradation)
        functions = {
            "bicubic": bicubic(4),
            **{name: (lambda lr, u=u: u.upscale_tensor(lr[0].float())[None]) for name, u in upscalers.items()},
        }
        panels = list(sr_images(sample, functions).items())
        panels.append(("HR", sample.hr))
        if corner is not None:
            panels = [(title, window(image, corner, args.crop)) for title, image in panels]
        panels = [
            (
                title,
                np.asarray(
                    Image.fromarray(image).resize(
                        (image.shape[1] * args.zoom, image.shape[0] * args.zoom), Image.NEAREST
                    )
                ),
            )
            for title, image in panels
        ]
        suffix = f"_{args.degradation}" if args.degradation else ""
        target = args.out / f"compare_{path.parent.name}_{path.stem}{suffix}.png"
        save_png(comparison_strip(panels, crop=args.crop * args.zoom), target)
        print(target)
        if args.stretch:
            stretched = [(title, stretch(image, args.stretch)) for title, image in panels]
            target = target.with_name(f"{target.stem}_stretch{args.stretch:g}.png")
            save_png(comparison_strip(stretched, crop=args.crop * args.zoom), target)
            print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
