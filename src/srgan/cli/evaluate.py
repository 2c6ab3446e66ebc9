"""``srgan eval``: the standard SR evaluation protocol over folders of HR images."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from srgan.runtime import EVAL_SCALES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default="bicubic", help="'bicubic', a bundled model name, or a model/checkpoint file"
    )
    parser.add_argument("--scale", type=int, default=4, choices=EVAL_SCALES)
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR", help="folders of HR images")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--save-images", metavar="DIR", help="write each SR result and a bicubic|model|HR crop")
    parser.add_argument("--per-image", action="store_true", help="print a row per image")
    parser.add_argument("--no-niqe", action="store_true", help="skip NIQE (faster)")
    parser.add_argument(
        "--pipeline",
        choices=("rgb", "y"),
        default="rgb",
        help="rgb: the standard pipeline (default); y: the legacy Y-only bicubic pipeline (bicubic only)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps, or auto")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from srgan.cli import CommandError
    from srgan.evaluation.protocol import Sample, bicubic, evaluate_folder, protocol_line
    from srgan.evaluation.report import format_table
    from srgan.modelfiles.loader import ModelLoadError, load_generator
    from srgan.runtime import select_device

    if args.pipeline == "y" and args.model != "bicubic":
        raise CommandError("--pipeline y applies to bicubic only (a model sees RGB input)")
    folders = [Path(d) for d in args.data]
    for folder in folders:
        if not folder.is_dir():
            raise CommandError(f"data folder {folder} does not exist")
    device = select_device(args.device)
    upscale_bicubic = bicubic(args.scale)
    if args.model == "bicubic":
        model_fn = upscale_bicubic
    else:
        try:
            generator = load_generator(args.model, scale=args.scale).to(device)
        except ModelLoadError as exc:
            raise CommandError(str(exc)) from exc

        @torch.inference_mode()
        def model_fn(lr: torch.Tensor) -> torch.Tensor:
            return generator(lr.float().to(device)).cpu()

    with_niqe = not args.no_niqe
    reports = []
    for folder in folders:
        save = None
        if args.save_images:
            out_dir = Path(args.save_images) / folder.name

            def save(sample: Sample, sr_u8: np.ndarray, out_dir: Path = out_dir) -> None:
                _save_images(out_dir, sample, sr_u8, upscale_bicubic, args.model)

        reports.append(evaluate_folder(folder, model_fn, args.scale, with_niqe, args.pipeline, save, progress=True))
    print(format_table(reports, args.model, args.per_image))
    print(protocol_line(args.scale, args.pipeline, with_niqe))
    if args.json:
        from srgan.atomic import atomic_path

        payload = {
            "model": args.model,
            "scale": args.scale,
            "pipeline": args.pipeline,
            "protocol": protocol_line(args.scale, args.pipeline, with_niqe),
            "datasets": [r.to_dict() for r in reports],
        }
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


def _save_images(out_dir: Path, sample, sr_u8, upscale_bicubic, model_name: str) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from srgan.evaluation.report import comparison_strip, save_png
    from srgan.imageio import to_uint8

    stem = Path(sample.name).with_suffix("").as_posix().replace("/", "_")
    save_png(Image.fromarray(sr_u8), out_dir / f"{stem}_sr.png")
    bic = to_uint8(upscale_bicubic(sample.lr)[0].float()).permute(1, 2, 0).numpy()
    label = Path(model_name).stem if model_name != "bicubic" else "bicubic"
    strip = comparison_strip([("bicubic", bic), (label, sr_u8), ("HR", sample.hr)])
    save_png(strip, out_dir / f"{stem}_compare.png")
