"""``srgan distill targets``: a teacher's outputs on degraded crops of training photos, cached for a student.

    OMP_NUM_THREADS=1 nohup python -m srgan distill targets --teacher realesrgan-x4plus.safetensors \
        --photos photos/ --degradation realistic --seed 0 --out cache/ --max-items 5000 &

Then ``srgan train data.teacher_cache=cache/`` (stage srresnet) trains a student on it.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from srgan.cli.options import Number

    sub = parser.add_subparsers(dest="distill_command", metavar="STEP", required=True)
    t = sub.add_parser(
        "targets",
        help="cache a teacher's outputs on degraded crops of photos (resumable; torchrun shards it)",
        description="Cache a teacher's outputs on degraded crops of photos. Resumable (run it again); "
        "under torchrun rank r makes items i with i % world == r.",
    )
    t.add_argument("--teacher", required=True, type=Path, metavar="FILE", help="any model file srgan loads")
    t.add_argument("--photos", required=True, nargs="+", type=Path, metavar="DIR", help="training photo folders")
    t.add_argument("--out", required=True, type=Path, metavar="DIR", help="the cache folder (made or added to)")
    t.add_argument("--degradation", choices=("bicubic", "realistic"), default="realistic")
    t.add_argument(
        "--clean-prob", type=Number(float, 0, 1), default=0.0, metavar="P", help="realistic: share of clean bicubic LRs"
    )
    t.add_argument(
        "--light-prob", type=Number(float, 0, 1), default=0.0, metavar="P", help="realistic: share of bicubic + 1 JPEG"
    )
    t.add_argument("--seed", type=Number(int, 0), default=0)
    t.add_argument("--patch", type=Number(int, 1), default=96, metavar="PX", help="HR training patch side (default 96)")
    t.add_argument(
        "--crop",
        type=Number(int, 1),
        default=None,
        metavar="PX",
        help="LR side of each target's kept centre (default 96: a 384px target at x4)",
    )
    t.add_argument("--max-items", type=Number(int, 1), metavar="N", help="stop at this many items")
    t.add_argument(
        "--max-gb", type=Number(float, 0, above=True), metavar="GB", help="stop when the cache holds this much"
    )
    t.add_argument("--precision", choices=("fp32", "bf16", "auto"), default="fp32", help="the teacher's (default fp32)")
    t.add_argument("--log-every", type=Number(int, 1), default=10, metavar="N", help="items between progress lines")


def run(args: argparse.Namespace) -> int:
    from srgan.cli import CommandError
    from srgan.data.degradations import RealisticConfig
    from srgan.data.teacher_cache import CacheError
    from srgan.distill.targets import DEFAULT_CROP, TargetSettings, generate
    from srgan.modelfiles.errors import ModelLoadError

    if args.clean_prob + args.light_prob > 1:  # each is in 0..1 (cli.options checks it as it is parsed)
        raise CommandError("--clean-prob and --light-prob must be in 0..1 and add up to at most 1")
    if not args.teacher.is_file():
        raise CommandError(f"--teacher {args.teacher} is not a file")
    settings = TargetSettings(
        teacher=args.teacher,
        photos=tuple(args.photos),
        out=args.out,
        degradation=args.degradation,
        realistic=RealisticConfig(clean_prob=args.clean_prob, light_prob=args.light_prob),
        seed=args.seed,
        patch=args.patch,
        crop=args.crop or DEFAULT_CROP,
        max_items=args.max_items,
        max_bytes=None if args.max_gb is None else int(args.max_gb * 1e9),
        precision=args.precision,
        log_every=args.log_every,
    )
    try:
        generate(settings)
    except (CacheError, ModelLoadError, FileNotFoundError) as exc:
        raise CommandError(str(exc)) from exc
    return 0
