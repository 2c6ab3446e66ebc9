"""The ``srgan`` command line. Each sub-command lives in its own module and imports its
heavy dependencies only when it runs, so ``srgan --help`` stays instant."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Sequence

from srgan import __version__

# sub-command -> module in srgan.cli defining ``add_arguments(parser)`` and ``run(args) -> int``
COMMANDS = {
    "upscale": ("upscale", "upscale images (files, folders, globs)"),
    "train": ("train", "train SRResNet (stage 1) or SRGAN (stage 2)"),
    "eval": ("evaluate", "evaluate a model with the standard SR protocol (PSNR-Y, SSIM-Y, NIQE)"),
    "export": ("export", "export a generator to ONNX or safetensors"),
    "models": ("models", "list the bundled models and their metrics"),
    "serve": ("serve", "serve a web page and JSON API for upscaling"),
    "distill": ("distill", "distil a slow teacher into a fast student: cache the teacher's targets"),
    "info": ("info", "show the networks' structure and parameter counts"),
}


class CommandError(Exception):
    """A user-facing failure: printed as one sentence, exit status 2."""


def report_problems(problems: list[str], what: str) -> int:
    """Print the problems of a run that went on past them; the exit status: 1 if there were any."""
    if not problems:
        return 0
    print(f"{len(problems)} {what}:", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 1


def add_blend_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``--strength S`` and ``--blend-with MODEL``, as ``upscale`` and ``export`` take them (``what``: what
    they do with the blend)."""
    from srgan.cli.options import Number

    parser.add_argument(
        "--strength",
        type=Number(float, 0, 1),
        default=1.0,
        metavar="S",
        help=f"0..1: {what} the model's parameters blended towards its fidelity base (0 = srresnet-x4 for "
        "srgan-x4, 1 = the model itself; default 1)",
    )
    parser.add_argument("--blend-with", metavar="MODEL", help="the fidelity base for --strength (default: the card's)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srgan", description="SRGAN super-resolution.")
    parser.add_argument("--version", action="version", version=f"srgan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(f"srgan.cli.{module}").add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def _interrupt_on_sigterm(signum: int, _frame: object) -> None:
    # SIGTERM would end the process without unwinding; as KeyboardInterrupt every `finally` runs,
    # so no temporary file is left behind.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad option: argparse has printed the sentence
        return exc.code if isinstance(exc.code, int) else 2
    module = importlib.import_module(f"srgan.cli.{args._module}")
    # train saves a checkpoint on SIGTERM itself; serve shuts its server down cleanly
    previous = None
    if args.command not in ("train", "serve") and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    try:
        return _run(module, args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(module: object, args: argparse.Namespace) -> int:
    try:
        return int(module.run(args) or 0)  # type: ignore[attr-defined]
    except CommandError as exc:
        print(f"srgan {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"srgan {args.command}: interrupted", file=sys.stderr)
        return 130
