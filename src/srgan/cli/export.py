"""``srgan export``: a generator to ONNX (for onnxruntime, TensorRT, ...) or safetensors."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="srgan-x4", help="bundled model name, export, or training checkpoint")
    parser.add_argument("--format", choices=("onnx", "safetensors"), default="onnx")
    parser.add_argument("-o", "--output", required=True, metavar="FILE")
    parser.add_argument("--fp16", action="store_true", help="safetensors: store weights in float16")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--no-check", action="store_true", help="onnx: skip the onnxruntime parity check")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from srgan.cli import CommandError
    from srgan.modelfiles.loader import ModelLoadError, load_generator

    out = Path(args.output)
    if args.format == "onnx":
        import importlib.util

        missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
        if missing:
            raise CommandError(f"ONNX export needs {' and '.join(missing)}: pip install 'srgan[onnx]'")
    if out.exists() and not args.overwrite:
        raise CommandError(f"{out} already exists (use --overwrite to replace it)")
    try:
        generator = load_generator(args.model)
    except ModelLoadError as exc:
        raise CommandError(str(exc)) from exc
    if args.format == "safetensors":
        from srgan.modelfiles.safetensors import save_generator

        save_generator(
            out, generator.state_dict(), generator.config, dtype=torch.float16 if args.fp16 else torch.float32
        )
        print(f"wrote {out}")
        return 0
    try:
        from srgan.modelfiles.onnx import export_onnx, parity
    except ImportError as exc:
        raise CommandError("ONNX export needs the onnx extra: pip install 'srgan[onnx]'") from exc
    export_onnx(generator, out)
    print(f"wrote {out} (x{generator.config.scale}, dynamic batch/height/width, BatchNorm folded)")
    if not args.no_check:
        diff = parity(generator, out)
        print(f"parity vs PyTorch on two input sizes: max |diff| = {diff:.2e}")
        if diff > 1e-4:
            raise CommandError(f"ONNX output differs from PyTorch by {diff:.2e} (> 1e-4)")
    return 0
