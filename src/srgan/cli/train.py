"""``srgan train``: stage 1 (SRResNet) or stage 2 (SRGAN) training; resumable; torchrun-ready."""

from __future__ import annotations

import argparse
import shutil
import sys
import warnings
from pathlib import Path

from srgan.runtime import SRGAN_SCALES
from srgan.training.config import PRESETS, STAGES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from srgan.cli.options import Number

    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="config overrides, e.g. train.batch_size=8 data.hr_dirs=[photos/]",
    )
    parser.add_argument("--config", metavar="FILE", help="YAML config (see configs/)")
    parser.add_argument("--preset", choices=PRESETS, help="built-in settings to start from (default: paper)")
    parser.add_argument("--stage", choices=STAGES, help="srresnet: pixel loss; srgan: adversarial")
    parser.add_argument("--hr-dir", action="append", metavar="DIR", help="training HR folder (repeatable)")
    parser.add_argument("--val-dir", action="append", metavar="DIR", help="validation HR folder (repeatable)")
    parser.add_argument("--scale", type=Number(int), choices=SRGAN_SCALES)
    parser.add_argument("--run-dir", metavar="DIR", help="where checkpoints and logs go; an existing run resumes")
    parser.add_argument(
        "--init-from",
        metavar="FILE",
        help="generator checkpoint or export to start from (stage srgan: the stage-1 result; stage srresnet: fine-tune)",
    )
    parser.add_argument("--resume", metavar="CKPT", help="resume from this checkpoint (default: the run's latest)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def check_run_dir(run_dir: Path) -> None:
    """The run folder must be a folder this process can write in (made if it does not exist)."""
    import os

    from srgan.training.config import ConfigError

    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"run folder {run_dir} is an existing file; give a folder (--run-dir)")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot make the run folder {run_dir} ({exc.strerror or exc})") from None
    if not os.access(run_dir, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write in the run folder {run_dir} (permission denied)")


def run(args: argparse.Namespace) -> int:
    from srgan.cli import CommandError
    from srgan.training.config import ConfigError, ConfigWarning, build_config, to_yaml

    # The flags' values are set as they are, not written into YAML and parsed again (a backslash stays one).
    flags = {
        "data.hr_dirs": args.hr_dir,
        "data.val_dirs": args.val_dir,
        "model.scale": args.scale,
        "run.run_dir": args.run_dir,
        "train.init_from": args.init_from,
    }
    values = {key: value for key, value in flags.items() if value is not None}
    try:
        with warnings.catch_warnings(record=True) as notes:
            warnings.simplefilter("always", ConfigWarning)
            cfg = build_config(args.preset, args.stage, args.config, args.overrides, values)
        for message in dict.fromkeys(str(n.message) for n in notes if issubclass(n.category, ConfigWarning)):
            print(f"srgan train: note: {message}", file=sys.stderr)
        if args.print_config:
            print(to_yaml(cfg), end="")
            return 0
        cfg.validate()
        run_dir = Path(cfg.run.run_dir)
        made = not run_dir.exists()
        check_run_dir(run_dir)
        from srgan.training.trainer import Trainer, TrainingError

        try:
            trainer = Trainer(cfg, resume=args.resume)
        except BaseException:
            if made and not any(p.is_file() for p in run_dir.rglob("*")):
                shutil.rmtree(run_dir, ignore_errors=True)  # a run that never started leaves no folder behind
            raise
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    try:
        result = trainer.train()
    except TrainingError as exc:
        raise CommandError(str(exc)) from exc
    return 0 if result.status == "finished" else 130
