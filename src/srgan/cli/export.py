"""``srgan export``: a model (srgan's or a community ESRGAN / Real-ESRGAN file) to ONNX (for
onnxruntime, TensorRT, ...) or to srgan's safetensors export."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default="srgan-x4", help="bundled model name, export, training checkpoint or community model file"
    )
    parser.add_argument("--format", choices=("onnx", "safetensors"), default="onnx")
    parser.add_argument("-o", "--output", required=True, metavar="FILE")
    parser.add_argument("--fp16", action="store_true", help="safetensors: store weights in float16")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--no-check", action="store_true", help="onnx: skip the onnxruntime parity check")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from srgan.cli import CommandError
    from srgan.modelfiles.loader import ModelLoadError, open_model

    out = Path(args.output)
    if args.format == "onnx":
        import importlib.util

        missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
        if missing:
            raise CommandError(f"ONNX export needs {' and '.join(missing)}: pip install 'srgan[onnx]'")
    if out.exists() and not args.overwrite:
        raise CommandError(f"{out} already exists (use --overwrite to replace it)")
    try:
        opened = open_model(args.model)
    except ModelLoadError as exc:
        raise CommandError(str(exc)) from exc
    network, config = opened.network, opened.spec.config
    if network is None:
        raise CommandError(f"{opened.path} is already an ONNX model; export from its PyTorch weights")
    if args.format == "safetensors":
        from srgan.modelfiles.safetensors import save_generator

        save_generator(out, network.state_dict(), config, dtype=torch.float16 if args.fp16 else torch.float32)
        print(f"wrote {out}")
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
        if diff > 1e-4:
            raise CommandError(f"ONNX output differs from PyTorch by {diff:.2e} (> 1e-4)")
    return 0
