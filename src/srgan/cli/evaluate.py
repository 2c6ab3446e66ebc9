"""``srgan eval``: the standard SR evaluation protocol over folders of HR images."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from srgan.runtime import EVAL_SCALES, INFERENCE_PRECISIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from srgan.cli.options import Number, number_list

    parser.add_argument(
        "--model", default="bicubic", help="'bicubic', a bundled model name, or a model/checkpoint file"
    )
    parser.add_argument("--scale", type=Number(int), default=4, choices=EVAL_SCALES)
    parser.add_argument(
        "--strength",
        type=number_list(Number(float, 0, 1)),
        default=[1.0],
        metavar="S[,S...]",
        help="the model blended towards its fidelity base; several comma-separated values give the "
        "perception-distortion curve (e.g. 0,0.25,0.5,0.75,1)",
    )
    parser.add_argument("--blend-with", metavar="MODEL", help="the fidelity base for --strength (default: the card's)")
    parser.add_argument(
        "--degradation",
        choices=("jpeg75", "noise10", "realistic"),
        help="real-world LR: the protocol's LR saved as JPEG q75 (4:2:0), or with Gaussian noise sigma 10/255, or "
        "one seeded draw of the realistic training pipeline (docs/evaluation.md); the HR stays the reference",
    )
    parser.add_argument(
        "--degradation-seed", type=Number(int, 0), default=0, metavar="N", help="seed of the noise preset"
    )
    parser.add_argument("--plot", metavar="PNG", help="draw the curve (NIQE against PSNR-Y), bicubic included")
    parser.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="LABEL=PSNR,NIQE[@DATASET]",
        help="an extra point for the plot (repeatable), e.g. 'public SRGAN=27.58,5.32@Set14'",
    )
    parser.add_argument("--data", nargs="+", metavar="DIR", help="folders of HR images")
    parser.add_argument(
        "--video",
        nargs="+",
        metavar="CLIP",
        help="videos as HR clips instead: PSNR-Y and the flicker metric (docs/evaluation.md; needs the video extra)",
    )
    parser.add_argument(
        "--max-frames",
        type=Number(int, 2),
        metavar="N",
        help="with --video: score the first N frames (at least 2: flicker compares consecutive frames)",
    )
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
    parser.add_argument(
        "--precision",
        choices=INFERENCE_PRECISIONS,
        default="fp32",
        help="fp32: the protocol (the model as trained); another precision scores what `srgan upscale "
        "--precision P` outputs (e.g. int8)",
    )


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from srgan.cli import CommandError, report_problems
    from srgan.evaluation.protocol import DatasetReport, Sample, bicubic, evaluate_folder, protocol_line
    from srgan.evaluation.report import format_table
    from srgan.modelfiles.loader import ModelLoadError, open_blended
    from srgan.runtime import RuntimeChoiceError, select_device

    if args.pipeline == "y" and args.model != "bicubic":
        raise CommandError("--pipeline y applies to bicubic only (a model sees RGB input)")
    if args.pipeline == "y" and args.degradation:
        raise CommandError("--degradation applies to the standard (rgb) pipeline, not --pipeline y")
    strengths: list[float] = args.strength
    if args.model == "bicubic" and (strengths != [1.0] or args.blend_with or args.precision != "fp32"):
        raise CommandError("--strength, --blend-with and --precision apply to models, not to bicubic")
    if bool(args.data) == bool(args.video):
        raise CommandError("give --data (folders of HR images) or --video (clips), one of them")
    folders = [Path(d) for d in args.data or []]
    for folder in folders:
        if not folder.is_dir():
            what = "is a file, not a folder of images" if folder.exists() else "does not exist"
            raise CommandError(f"data folder {folder} {what}")
        if not _has_images(folder):
            raise CommandError(f"data folder {folder} holds no image files")
    for target in (args.json, args.plot):
        if target:
            _check_writable(Path(target))
    if args.save_images and Path(args.save_images).exists() and not Path(args.save_images).is_dir():
        raise CommandError(f"--save-images {args.save_images} is a file; give a folder (made if missing)")
    try:
        device = select_device(args.device)
    except RuntimeChoiceError as exc:
        raise CommandError(str(exc)) from exc
    upscale_bicubic = bicubic(args.scale)
    with_niqe = not args.no_niqe

    def sr_function(strength: float):  # type: ignore[no-untyped-def]
        if args.model == "bicubic":
            return upscale_bicubic
        try:
            opened = open_blended(args.model, strength, args.blend_with, scale=args.scale)
        except ModelLoadError as exc:
            raise CommandError(str(exc)) from exc
        network = opened.network
        if network is None:
            raise CommandError(f"{args.model} is an ONNX file; srgan eval scores PyTorch model files")
        if args.precision != "fp32":
            return _upscaler_function(opened, device, args.precision)
        network = network.to(device)

        @torch.inference_mode()
        def model_fn(lr: torch.Tensor) -> torch.Tensor:
            return network(lr.float().to(device)).cpu()

        return model_fn

    if args.video:
        return _evaluate_videos(args, sr_function, strengths, upscale_bicubic)
    curve: list[tuple[float, list[DatasetReport]]] = []
    for strength in strengths:
        model_fn = sr_function(strength)
        label = args.model if len(strengths) == 1 and strength == 1.0 else f"{args.model} @ strength {strength:g}"
        reports = []
        for folder in folders:
            save = None
            if args.save_images:
                out_dir = Path(args.save_images) / (
                    folder.name if len(strengths) == 1 else f"{folder.name}_s{strength:g}"
                )

                def save(sample: Sample, sr_u8: np.ndarray, out_dir: Path = out_dir) -> None:
                    _save_images(out_dir, sample, sr_u8, upscale_bicubic, args.model)

            reports.append(
                evaluate_folder(
                    folder,
                    model_fn,
                    args.scale,
                    with_niqe,
                    args.pipeline,
                    save,
                    True,
                    args.degradation,
                    args.degradation_seed,
                )
            )
        print(format_table(reports, label, args.per_image))
        curve.append((strength, reports))
    print(protocol_line(args.scale, args.pipeline, with_niqe, args.degradation, args.degradation_seed))
    problems = [p for report in curve[0][1] for p in report.problems]
    if args.plot:
        _plot(args, curve, folders, with_niqe)
    if args.json:
        from srgan.atomic import atomic_path

        payload: dict[str, object] = {
            "model": args.model,
            "scale": args.scale,
            "pipeline": args.pipeline,
            "degradation": args.degradation,
            "degradation_seed": args.degradation_seed if args.degradation else None,
            "protocol": protocol_line(args.scale, args.pipeline, with_niqe, args.degradation, args.degradation_seed),
        }
        if len(curve) == 1:
            payload["strength"] = curve[0][0]
            payload["datasets"] = [r.to_dict() for r in curve[0][1]]
        else:
            payload["curve"] = [{"strength": s, "datasets": [r.to_dict() for r in reps]} for s, reps in curve]
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(payload, indent=2) + "\n")
    return report_problems(problems, "image(s) left out")


def _evaluate_videos(args: argparse.Namespace, sr_function, strengths: list[float], bicubic_fn) -> int:  # type: ignore[no-untyped-def]
    """PSNR-Y and flicker (srgan.video.flicker) of each clip, per strength, with bicubic's row for scale."""
    from srgan.cli import report_problems
    from srgan.video import VideoError
    from srgan.video.flicker import score_clip

    problems: list[str] = []
    rows = [("bicubic", bicubic_fn)] if args.model != "bicubic" else []
    rows += [(args.model if s == 1.0 else f"{args.model} @ {s:g}", sr_function(s)) for s in strengths]
    print(f"{'clip':24} {'model':28} {'frames':>6} {'PSNR-Y':>7} {'flicker':>8} {'HR flicker':>10}")
    results = []
    for clip in args.video:
        for label, fn in rows:
            try:
                score = score_clip(Path(clip), fn, args.scale, args.max_frames)
            except VideoError as exc:
                problems.append(str(exc))
                break
            results.append({"clip": clip, "model": label, **score.__dict__})
            print(
                f"{score.name[:24]:24} {label[:28]:28} {score.frames:6d} {score.psnr_y:7.2f} {score.flicker:8.3f} "
                f"{score.hr_flicker:10.3f}"
            )
    print(
        f"x{args.scale}: each frame's LR by the protocol's bicubic; flicker = mean |d/dt SR_Y - d/dt bicubic_Y| in "
        "8-bit levels (bicubic: 0; HR flicker: the clip's own frames in place of SR)"
    )
    if args.json:
        from srgan.atomic import atomic_path

        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps({"scale": args.scale, "clips": results}, indent=2) + "\n")
    return report_problems(problems, "clip(s) left out")


def _upscaler_function(opened, device, precision: str):  # type: ignore[no-untyped-def]
    """What ``srgan upscale --precision`` computes, as an SR function of the protocol."""
    import torch

    from srgan.cli import CommandError
    from srgan.inference.upscaler import Upscaler
    from srgan.runtime import RuntimeChoiceError

    try:
        upscaler = Upscaler(
            opened.network,
            opened.spec.config,
            str(device),
            precision,
            int8_ranges=opened.int8_ranges,
            weights_checked=True,  # opened by the model-file loader, which refuses non-finite tensors
        )
    except RuntimeChoiceError as exc:
        raise CommandError(str(exc)) from exc

    def model_fn(lr: torch.Tensor) -> torch.Tensor:
        return upscaler.upscale_tensor(lr[0].float())[None]

    return model_fn


def _has_images(folder: Path) -> bool:
    from srgan.imageio import find_images

    try:
        return bool(find_images([folder]))
    except FileNotFoundError:
        return False


def _check_writable(target: Path) -> None:
    """Refuse an output file that cannot be written, before any work is done."""
    import os
    import tempfile

    from srgan.cli import CommandError

    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise CommandError(f"{target} is a folder; give a file name")
    if not parent.is_dir():
        raise CommandError(f"cannot write {target}: the folder {parent} does not exist")
    if target.exists() and not os.access(target, os.W_OK):
        raise CommandError(f"cannot write {target}: permission denied")
    try:  # the result is written through a temporary file beside it: try making one
        with tempfile.NamedTemporaryFile(dir=parent, prefix=f".{target.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise CommandError(f"cannot write {target} ({exc.strerror or exc})") from None


def _plot(args: argparse.Namespace, curve: list, folders: list[Path], with_niqe: bool) -> None:  # type: ignore[type-arg]
    from srgan.cli import CommandError
    from srgan.evaluation.protocol import evaluate_folder
    from srgan.evaluation.report import CurvePanel, curve_plot, save_png

    if not with_niqe:
        raise CommandError("--plot draws NIQE against PSNR-Y; leave out --no-niqe")
    references = [_parse_reference(text) for text in args.reference]
    panels = []
    for i, folder in enumerate(folders):
        bic = evaluate_folder(folder, None, args.scale, True, progress=True)
        points = [(s, reps[i].mean("psnr_y"), reps[i].mean("niqe")) for s, reps in curve]
        extra = [(label, p, n) for label, p, n, ds in references if ds in (None, folder.name)]
        panels.append(CurvePanel(folder.name, args.model, points, (bic.mean("psnr_y"), bic.mean("niqe")), extra))
    save_png(curve_plot(panels), Path(args.plot))
    print(f"curve written to {args.plot}")


def _parse_reference(text: str) -> tuple[str, float, float, str | None]:
    from srgan.cli import CommandError

    try:
        label, values = text.rsplit("=", 1)
        values, _, dataset = values.partition("@")
        psnr, niqe = (float(v) for v in values.split(","))
    except ValueError:
        raise CommandError(f"--reference takes LABEL=PSNR,NIQE[@DATASET], got {text!r}") from None
    return label, psnr, niqe, dataset or None


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
