"""``srgan export``: a model (srgan's or a community ESRGAN / Real-ESRGAN file) to ONNX (for
onnxruntime, TensorRT, ...) or to srgan's safetensors export."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from srgan.archs import NetworkConfig
    from srgan.archs.base import Ranges

# int8 calibration: the top-left crop of this many images (sorted by path), this many pixels a side
CALIBRATION_IMAGES = 16
CALIBRATION_CROP = 96


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from srgan.cli import add_blend_arguments

    parser.add_argument(
        "--model", default="srgan-x4", help="bundled model name, export, training checkpoint or community model file"
    )
    add_blend_arguments(parser, "export")
    parser.add_argument("--format", choices=("onnx", "safetensors"), default="onnx")
    parser.add_argument("-o", "--output", required=True, metavar="FILE")
    parser.add_argument("--fp16", action="store_true", help="safetensors: store weights in float16")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--no-check", action="store_true", help="onnx: skip the onnxruntime parity check")
    parser.add_argument(
        "--int8-calibration",
        metavar="FOLDER",
        help=f"safetensors, SRResNet models: store int8 input ranges measured on {CALIBRATION_IMAGES} photos "
        "of FOLDER (training photos, not a benchmark set), for --precision int8",
    )


def calibration_images(folder: Path) -> list[torch.Tensor]:
    """The int8 calibration input: top-left crops of the first images of ``folder``, (1, 3, h, w) in [0, 1]."""
    from srgan.imageio import find_images, read_tensor, to_float, to_rgb

    paths = find_images([folder])[:CALIBRATION_IMAGES]
    return [to_rgb(to_float(read_tensor(p)[:, :CALIBRATION_CROP, :CALIBRATION_CROP]))[None] for p in paths]


def run(args: argparse.Namespace) -> int:
    import os

    import torch

    from srgan.cli import CommandError
    from srgan.modelfiles.loader import ModelLoadError, open_blended

    out = Path(args.output)
    if args.format == "onnx":
        import importlib.util

        missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
        if missing:
            raise CommandError(f"ONNX export needs {' and '.join(missing)}: pip install 'srgan[onnx]'")
    if out.is_dir():
        raise CommandError(f"-o {out} is a folder; give a file name")
    if os.path.lexists(out) and not args.overwrite:
        raise CommandError(f"{out} already exists (use --overwrite to replace it)")
    if args.int8_calibration and args.format != "safetensors":
        raise CommandError("--int8-calibration is stored in safetensors exports; add --format safetensors")
    if args.int8_calibration and not Path(args.int8_calibration).is_dir():
        what = "is a file, not a folder" if Path(args.int8_calibration).exists() else "does not exist"
        raise CommandError(f"int8 calibration folder {args.int8_calibration} {what}")
    try:
        opened = open_blended(args.model, args.strength, args.blend_with)
    except ModelLoadError as exc:
        raise CommandError(str(exc)) from exc
    network, config = opened.network, opened.spec.config
    if network is None:
        raise CommandError(f"{opened.path} is already an ONNX model; export from its PyTorch weights")
    if not opened.spec.architecture.exportable:
        raise CommandError(
            f"{opened.path} is a {opened.spec.architecture.title} model, which srgan runs from its own file; "
            "export covers srgan's native networks"
        )
    if args.format == "safetensors":
        from srgan.modelfiles.safetensors import save_generator

        ranges = (
            _calibrate(network, config, Path(args.int8_calibration)) if args.int8_calibration else opened.int8_ranges
        )
        dtype = torch.float16 if args.fp16 else torch.float32
        save_generator(out, network.state_dict(), config, dtype=dtype, int8_ranges=ranges)
        print(f"wrote {out}" + (" with int8 calibration" if ranges else ""))
        return 0
    try:
        from srgan.modelfiles.onnx import export_onnx, parity
    except ImportError as exc:
        raise CommandError("ONNX export needs the onnx extra: pip install 'srgan[onnx]'") from exc
    export_onnx(network, config, out)
    print(f"wrote {out} ({opened.spec.arch} x{config.scale}, dynamic batch/height/width)")
    if not args.no_check:
        diff = parity(network, out)
        print(f"parity vs PyTorch on two input sizes: max |diff| = {diff:.2e}")
        if not diff <= 1e-4:
            raise CommandError(f"ONNX output differs from PyTorch by {diff:.2e} (> 1e-4)")
    return 0


def _calibrate(network: torch.nn.Module, config: NetworkConfig, folder: Path) -> Ranges:
    from srgan.archs import spec_for
    from srgan.cli import CommandError
    from srgan.imageio import ImageReadError

    spec = spec_for(config)
    if spec.int8 is None or spec.fast is None:
        raise CommandError(f"--int8-calibration applies to models that run in int8; {spec.title} models do not")
    try:
        images = calibration_images(folder)
    except (FileNotFoundError, ImageReadError) as exc:
        raise CommandError(f"int8 calibration: {exc}") from exc
    try:
        return spec.int8.calibrate(spec.fast(network), images)
    except ValueError as exc:
        raise CommandError(f"int8 calibration on {folder}: {exc}") from exc
