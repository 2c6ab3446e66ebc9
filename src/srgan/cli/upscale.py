"""``srgan upscale``: upscale files, folders and globs; never overwrite an input; atomic outputs."""

from __future__ import annotations

import argparse
import glob
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from srgan.cli import media
from srgan.runtime import INFERENCE_PRECISIONS, MAX_OUTPUT_SIDE, MAX_OUTSCALE, SRGAN_SCALES

if TYPE_CHECKING:
    from srgan.inference.files import OutputSize
    from srgan.runtime import DistInfo

PIL_DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own decompression-bomb limit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from srgan.cli import add_blend_arguments
    from srgan.cli.options import Number, Renamed

    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="image, video or animation files, folders or glob patterns"
    )
    parser.add_argument("-o", "--output", metavar="OUT", help="output folder (or file, for a single input)")
    parser.add_argument(
        "--model",
        help="bundled model name (see `srgan models`) or a model file (.safetensors, checkpoint, .onnx)",
    )
    add_blend_arguments(parser, "run")
    parser.add_argument("--scale", type=Number(int), choices=SRGAN_SCALES, help="refuse a model of another scale")
    parser.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders of folder inputs")
    parser.add_argument(
        "--tile", type=Number(int, 1), metavar="N", help="tile size in input pixels (default: from free memory)"
    )
    parser.add_argument(
        "--tile-context",
        type=Number(int, 0),
        metavar="N",
        help="input pixels of context each tile gets from its neighbours (default: the network's receptive radius)",
    )
    parser.add_argument(
        "--tile-overlap",
        type=Number(int, 0),
        dest="tile_context",
        action=Renamed,
        new="--tile-context",
        metavar="N",
        help=argparse.SUPPRESS,
    )
    parser.add_argument(
        "--precision",
        choices=INFERENCE_PRECISIONS,
        default="auto",
        help="auto: bf16 where the CPU/GPU has it and it matches fp32, else fp32; int8: x86 CPUs, SRResNet models "
        "with an int8 calibration (the bundled ones have it)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--threads", type=Number(int, 1), metavar="N", help="CPU threads")
    parser.add_argument(
        "--format", choices=("png", "jpg", "webp", "tif"), help="output format (default: png, or the -o file's)"
    )
    parser.add_argument("--quality", type=Number(int, 1, 100), default=95, help="JPEG/WebP quality")
    parser.add_argument(
        "--outscale",
        type=Number(float, 0, MAX_OUTSCALE, above=True),
        metavar="F",
        help="final scale, any factor (the model's output resampled)",
    )
    side = Number(int, 1, MAX_OUTPUT_SIDE)
    parser.add_argument("--width", type=side, metavar="W", help="fit the output to this width (aspect kept)")
    parser.add_argument("--height", type=side, metavar="H", help="fit the output to this height (aspect kept)")
    parser.add_argument(
        "--skip-existing",
        action="store_true",
        help="skip inputs whose output already exists and is complete (continue an interrupted run)",
    )
    parser.add_argument("--suffix", help="added to output names (default: _x<scale>, or _x<outscale>)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files (never inputs)")
    parser.add_argument(
        "--max-pixels",
        type=Number(int, 1),
        default=PIL_DEFAULT_MAX_PIXELS,
        help=f"refuse larger inputs (decompression bombs); default {PIL_DEFAULT_MAX_PIXELS:,}",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    media.add_arguments(parser)


@dataclass
class Job:
    source: Path
    target: Path


def expand_inputs(inputs: list[str], recursive: bool) -> tuple[list[tuple[Path, Path | None]], list[str]]:
    """(file, the folder it was found in or None) for every input; and the inputs that matched nothing."""
    from srgan.imageio import image_extensions
    from srgan.video import VIDEO_SUFFIXES

    exts = image_extensions() | VIDEO_SUFFIXES
    found: list[tuple[Path, Path | None]] = []
    missing = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.glob("*")
            files = sorted(p for p in pattern if p.is_file() and p.suffix.lower() in exts)
            if not files:
                missing.append(
                    f"{path}: no image files in this folder" + ("" if recursive else " (use -r for sub-folders)")
                )
            found += [(f, path) for f in files]
        elif path.exists():
            found.append((path, None))
        elif glob.has_magic(item):
            matches = sorted(Path(p) for p in glob.glob(item, recursive=recursive) if Path(p).is_file())
            if not matches:
                missing.append(f"{item}: no file matches this pattern")
            found += [(m, None) for m in matches]
        else:
            missing.append(f"{path}: no such file or folder")
    return found, missing


def output_kind(output: str | None, n_inputs: int) -> tuple[bool, str | None]:
    """(whether -o names one output file, the format its suffix asks for); a sentence (CommandError)
    for an -o that cannot work: a file name for several inputs, an unwritable format, an existing file
    given as a folder."""
    from srgan.cli import CommandError
    from srgan.imageio import WRITABLE_SUFFIXES, image_extensions

    if output is None:
        return False, None
    path = Path(output)
    suffix = path.suffix.lower()
    if suffix in WRITABLE_SUFFIXES or suffix in image_extensions():
        if suffix not in WRITABLE_SUFFIXES:
            raise CommandError(f"-o {output}: srgan cannot write {suffix} files; use .png, .jpg, .webp or .tif")
        if n_inputs > 1:
            raise CommandError(f"-o {output} names one file, but {n_inputs} images were given; give a folder")
        if path.is_dir():
            raise CommandError(f"-o {output} is an existing folder; give a file name or a folder without a suffix")
        return True, WRITABLE_SUFFIXES[suffix]
    if path.exists() and not path.is_dir():
        raise CommandError(f"-o {output} is an existing file, not a folder")
    return False, None


def plan_outputs(
    files: list[tuple[Path, Path | None]], output: str | None, fmt: str, suffix: str, single_file_target: bool = False
) -> tuple[list[Job], list[str]]:
    """Where every result goes; refuses any target that is an input or a duplicate."""
    inputs = {f.resolve() for f, _ in files}
    jobs, errors, taken = [], [], set()
    for source, folder in files:
        if single_file_target:
            target = Path(output)  # type: ignore[arg-type]
        else:
            name = f"{source.stem}{suffix}.{fmt}"
            if output is None:
                target = source.with_name(name)
            elif folder is not None:
                target = Path(output) / source.relative_to(folder).with_name(name)
            else:
                target = Path(output) / name
        resolved = target.resolve()
        if resolved in inputs:
            errors.append(f"{source}: the output {target} would overwrite an input; choose another -o or --suffix")
        elif resolved in taken:
            errors.append(
                f"{source}: the output {target} is already the output of another input; use -o folders or --suffix"
            )
        else:
            taken.add(resolved)
            jobs.append(Job(source, target))
    return jobs, errors


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from srgan.cli import CommandError, report_problems
    from srgan.inference.files import OutputSize

    check_options(args)
    files, errors = expand_inputs(args.inputs, args.recursive)
    found_media, files, media_errors = media.split_media(files)  # videos and animations: srgan.cli.media
    errors += media_errors
    n_inputs = len(files) + len(found_media)
    single_file, file_format = output_kind(args.output, n_inputs) if files or not found_media else (False, None)
    if args.format and file_format and args.format != file_format:
        raise CommandError(f"--format {args.format} contradicts -o {args.output}; give one of them")
    fmt = args.format or file_format or "png"

    try:
        size = OutputSize(args.outscale, args.width, args.height)
    except ValueError as exc:
        raise CommandError(f"{exc} (--outscale, --width, --height)") from exc
    shard = _join_launcher(args)
    upscaler, description = _load_upscaler(args)
    suffix = args.suffix if args.suffix is not None else f"_x{args.outscale or upscaler.scale:g}"
    jobs, plan_errors = plan_outputs(files, args.output, fmt, suffix, single_file)
    errors += plan_errors
    media_jobs, media_plan_errors = media.plan_media(
        found_media, args.output, suffix, {j.target.resolve() for j in jobs}
    )
    errors += media_plan_errors
    if shard.is_main:
        for error in errors:
            print(f"srgan upscale: error: {error}", file=sys.stderr)
    # Under torchrun each process takes every world_size-th input of the same sorted list: each input
    # is processed exactly once, by one process, whatever the number of machines.
    jobs = jobs[shard.rank :: shard.world_size]
    skipped = 0
    if args.skip_existing:
        remaining = [job for job in jobs if not _finished(job, upscaler.scale, size)]
        skipped, jobs = len(jobs) - len(remaining), remaining
    total = len(jobs)
    bar = tqdm(total=total, unit="img", disable=args.quiet or not jobs or not shard.is_main, file=sys.stderr)
    done, failures = 0, []
    for job in jobs:
        bar.set_description(job.source.name[:30])
        message = _upscale_one(upscaler, job, fmt, args, size)
        if message is None:
            done += 1
        else:
            failures.append(message)
            bar.write(f"srgan upscale: error: {message}", file=sys.stderr)
        bar.update(1)
    bar.close()
    media_summary = media.run_media(upscaler, media_jobs, args, size, shard)
    done, total, skipped, failures = _gather(shard, done, total, skipped, failures)
    errors += failures + media_summary.failures
    status = 0
    if shard.is_main:
        media.report(media_summary, media_jobs)
        if files or not media_jobs:
            if args.outscale:
                factor = f"x{args.outscale:g}"
            elif args.width or args.height:
                factor = f"to fit {args.width or 'any'} x {args.height or 'any'} px"
            else:
                factor = f"x{upscaler.scale}"
            processes = f" in {shard.world_size} processes" if shard.enabled else ""
            print(f"upscaled {done} of {total + len(plan_errors)} image(s) {factor} with {description}{processes}")
        if skipped:
            print(f"skipped {skipped} image(s) whose output was already complete")
        status = report_problems(errors, "problem(s)")
    _leave(shard)
    # Under torchrun only rank 0 reports the run's status: its summary counts every process's problems.
    # Another rank exiting 1 made the launcher kill rank 0, often before its summary was out.
    return status


def check_options(args: argparse.Namespace) -> None:
    """What argparse cannot check alone (each number's own range is checked as it is parsed: cli.options),
    before any model is loaded or file read."""
    from srgan.cli import CommandError
    from srgan.inference.tiling import min_tile, tile_too_small

    if args.suffix is not None and ("/" in args.suffix or "\\" in args.suffix or args.suffix in (".", "..")):
        raise CommandError(f"--suffix {args.suffix!r} contains a path separator; it is added to file names only")
    if args.tile is not None and args.tile_context is not None and args.tile < min_tile(args.tile_context):
        raise CommandError(tile_too_small(args.tile, args.tile_context))
    media.check_options(args)


def _join_launcher(args: argparse.Namespace) -> DistInfo:
    """The process's place under torchrun (one process otherwise); its device becomes --device."""
    from srgan.cli import CommandError
    from srgan.runtime import RuntimeChoiceError, init_distributed

    try:
        info, device = init_distributed(args.device)
    except RuntimeChoiceError as exc:
        raise CommandError(str(exc)) from exc
    if info.enabled:
        args.device = str(device)
    return info


def _gather(
    shard: DistInfo, done: int, total: int, skipped: int, failures: list[str]
) -> tuple[int, int, int, list[str]]:
    """Every process's counts and problems, summed on all of them (one summary at the end)."""
    if not shard.enabled:
        return done, total, skipped, failures
    import torch.distributed as dist

    parts: list[tuple[int, int, int, list[str]] | None] = [None] * shard.world_size
    dist.all_gather_object(parts, (done, total, skipped, failures))
    rows = [p for p in parts if p is not None]
    return (sum(r[0] for r in rows), sum(r[1] for r in rows), sum(r[2] for r in rows), [m for r in rows for m in r[3]])


def _leave(shard: DistInfo) -> None:
    """Leave the process group once rank 0's summary is printed: no process exits (and so no
    launcher stops the others) while it is being written."""
    if not shard.enabled:
        return
    import sys

    import torch.distributed as dist

    sys.stdout.flush()
    sys.stderr.flush()
    dist.barrier()
    dist.destroy_process_group()


def _load_upscaler(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The Upscaler the arguments ask for, and a one-line description of it."""
    from srgan.cli import CommandError
    from srgan.inference.tiling import min_tile, tile_too_small
    from srgan.inference.upscaler import Upscaler
    from srgan.modelfiles.bundled import default_model
    from srgan.modelfiles.loader import ModelLoadError

    model = args.model or default_model()
    if model is None:
        raise CommandError("no bundled model is installed; pass --model FILE")
    try:
        upscaler = Upscaler.from_pretrained(
            model,
            device=args.device,
            precision=args.precision,
            tile=args.tile,
            tile_context=args.tile_context,
            threads=args.threads,
            strength=args.strength,
            blend_with=args.blend_with,
        )
    except (ModelLoadError, ValueError, ImportError) as exc:
        raise CommandError(str(exc)) from exc
    if args.scale is not None and upscaler.scale != args.scale:
        raise CommandError(f"model {model} is x{upscaler.scale}, but --scale {args.scale} was asked for")
    if args.tile is not None and args.tile < min_tile(upscaler.margin):  # the model's own context
        raise CommandError(tile_too_small(args.tile, upscaler.margin))
    strength = f", strength {args.strength:g}" if args.strength != 1.0 else ""
    return upscaler, f"{model}{strength} ({upscaler.precision}, {upscaler.device}, tile {upscaler.auto_tile()})"


def _finished(job: Job, scale: int, size: OutputSize) -> bool:
    """Whether ``job``'s output is already complete. An unreadable input is not skipped: upscaling it
    reports the input's own problem, never its output's."""
    import os

    from srgan.imageio import ImageReadError
    from srgan.inference.files import is_complete, output_size_for

    if not os.path.lexists(job.target) or job.target.is_dir():
        return False
    try:
        return is_complete(job.target, output_size_for(job.source, scale, size))
    except ImageReadError:
        return False


def _upscale_one(upscaler, job: Job, fmt: str, args: argparse.Namespace, size: OutputSize) -> str | None:  # type: ignore[no-untyped-def]
    """None on success, else one sentence naming the file and the problem."""
    import os

    from srgan.imageio import ImageReadError, ReadPolicy, read_header
    from srgan.inference.files import upscale_file

    policy = ReadPolicy(max_pixels=args.max_pixels)
    blocked = _blocked_output(job.target)
    if blocked:
        return f"{job.source}: the output path {blocked}; choose another -o or --suffix"
    if os.path.lexists(job.target) and not args.overwrite:
        try:
            read_header(job.source, policy)  # an unreadable input is the input's problem, not its output's
        except ImageReadError as exc:
            return str(exc)
        if args.skip_existing:
            return f"{job.source}: {job.target} exists but is not a complete output (use --overwrite to replace it)"
        return f"{job.source}: {job.target} exists (use --overwrite to replace it)"
    try:
        upscale_file(upscaler, job.source, job.target, fmt, args.quality, policy, args.overwrite, size=size)
    except ImageReadError as exc:
        return str(exc)
    except FileExistsError:
        return f"{job.source}: {job.target} exists (use --overwrite to replace it)"
    except PermissionError as exc:
        return f"{job.source}: cannot write {job.target} ({exc.strerror})"
    except OSError as exc:
        return f"{job.source}: cannot write {job.target} ({exc.strerror or exc})"
    except (ValueError, MemoryError) as exc:
        return f"{job.source}: {exc}"
    return None


def _blocked_output(target: Path) -> str | None:
    """What stands where the output file or its folders must go, which --overwrite never replaces:
    a folder at the file's path, or a file where one of its folders should be."""
    if target.is_dir():
        return f"{target} is a folder"
    for parent in target.parents:
        if parent.exists() and not parent.is_dir():
            return f"{target} needs the folder {parent}, which is a file"
        if parent.is_dir():
            return None
    return None
