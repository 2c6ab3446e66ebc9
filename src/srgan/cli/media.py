"""The videos and animated images of ``srgan upscale`` (``srgan.video``): found among the inputs, planned
beside the images, and run. Still images never come here.

Under torchrun every process goes through the same list of videos and takes the segments no other process
has claimed; the one that finds a video's segments all done writes its file. Animations (one unit each)
are shared like images: every N-th to each process."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from srgan.inference.files import OutputSize
    from srgan.runtime import DistInfo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from srgan.cli.options import Number  # every range is checked as argparse parses (exit 2, one sentence)

    group = parser.add_argument_group('videos and animated images (needs the video extra: pip install "srgan[video]")')
    group.add_argument("--codec", help="video encoder (default: libx264 for 8-bit sources, libx265 for deeper)")
    group.add_argument(
        "--crf",
        type=Number(int, 0, 63),
        help="encoder quality, lower is better (default 18): 0-51 for libx264/libx265, 0-63 for libvpx-vp9 and "
        "libaom-av1, 1-63 for libsvtav1",
    )
    group.add_argument(
        "--preset",
        help="encoder speed preset: medium (default), slow, ... for x264/x265; -1 to 13 for libsvtav1; good, best, "
        "realtime for libvpx-vp9; 0 to 8 for libaom-av1",
    )
    group.add_argument("--pix-fmt", help="output pixel format (default: the source's, so 10-bit stays 10-bit)")
    group.add_argument(
        "--dedup-threshold",
        type=Number(float, 0, 255),
        default=0.0,
        metavar="L",
        help="a frame within L 8-bit levels (every sample) of the last upscaled one reuses its output (default 0: "
        "exact repeats only)",
    )
    group.add_argument(
        "--segment-frames", type=Number(int, 1), metavar="N", help="frames per resumable segment (default: 2 s)"
    )
    group.add_argument("--allow-hdr", action="store_true", help="upscale HDR (PQ/HLG) videos too (models are SDR)")


def check_options(args: argparse.Namespace) -> None:
    """--crf and --preset against --codec, before any file is read (each encoder's ranges: video.encode)."""
    from srgan.cli import CommandError
    from srgan.video.encode import rate_problem

    problem = rate_problem(args.codec, args.crf, args.preset)
    if problem:
        raise CommandError(problem)


@dataclass
class MediaJob:
    source: Path
    target: Path
    kind: str  # "video" or "animation"


@dataclass
class MediaSummary:
    videos: int = 0
    animations: int = 0
    frames: int = 0
    network: int = 0
    failures: list[str] = field(default_factory=list)


def split_media(
    files: list[tuple[Path, Path | None]],
) -> tuple[list[tuple[Path, Path | None, str]], list[tuple[Path, Path | None]], list[str]]:
    """(videos and animations, still images, sentences for files that look like videos but cannot be read)."""
    from srgan.video import VideoError
    from srgan.video.probe import media_kind

    media: list[tuple[Path, Path | None, str]] = []
    images: list[tuple[Path, Path | None]] = []
    errors: list[str] = []
    for path, folder in files:
        try:
            kind = media_kind(path)
        except VideoError as exc:
            errors.append(str(exc))
            continue
        if kind == "image":
            images.append((path, folder))
        else:
            media.append((path, folder, kind))
    return media, images, errors


def plan_media(
    media: list[tuple[Path, Path | None, str]], output: str | None, suffix: str, taken: set[Path]
) -> tuple[list[MediaJob], list[str]]:
    """Targets: the input's own container/format, named like images' (``clip_x4.mkv``); ``-o NAME.mkv``
    (any video suffix) for one video."""
    from srgan.video import VIDEO_SUFFIXES
    from srgan.video.animation import animation_suffix

    jobs: list[MediaJob] = []
    errors: list[str] = []
    inputs = {p.resolve() for p, _, _ in media}
    one_file = output is not None and Path(output).suffix.lower() in (VIDEO_SUFFIXES | {".gif", ".webp", ".png"})
    if one_file and len(media) > 1:
        return [], [f"-o {output} names one file, but {len(media)} videos or animations were given; give a folder"]
    for source, folder, kind in media:
        ext = animation_suffix(source) if kind == "animation" else source.suffix.lower()
        name = f"{source.stem}{suffix}{ext}"
        out = Path(output) if output else None
        if out is not None and one_file:
            target = out
        elif out is None:
            target = source.with_name(name)
        elif folder is not None:
            target = out / source.relative_to(folder).with_name(name)
        else:
            target = out / name
        resolved = target.resolve()
        if resolved in inputs or resolved in taken:
            errors.append(
                f"{source}: the output {target} would overwrite an input or another output; use -o or --suffix"
            )
            continue
        taken.add(resolved)
        jobs.append(MediaJob(source, target, kind))
    return jobs, errors


def run_media(
    upscaler: Any, jobs: list[MediaJob], args: argparse.Namespace, size: OutputSize, shard: DistInfo
) -> MediaSummary:
    summary = MediaSummary()
    # Outputs there before this run: every process must see the same set, before any of them writes one
    existing = {j.target for j in jobs if j.target.exists()}
    if shard.enabled:
        import torch.distributed as dist

        dist.barrier()
    animations = [j for j in jobs if j.kind == "animation"][shard.rank :: shard.world_size]
    for job in animations:
        _run_one(summary, job, args, existing, lambda j=job: _animation(upscaler, j, args, size, summary))
    for job in (j for j in jobs if j.kind == "video"):
        _run_one(summary, job, args, existing, lambda j=job: _video(upscaler, j, args, size, shard, summary))
    return _gather(shard, summary)


def _run_one(summary: MediaSummary, job: MediaJob, args: argparse.Namespace, existing: set[Path], work: Any) -> None:
    from srgan.video import VideoError

    if job.target not in existing and job.target.exists() and not args.overwrite:
        return  # written in this run by another process (the one that finished the video's last segment)
    if job.target.exists() and not args.overwrite:
        if args.skip_existing:
            return  # written whole and renamed into place: an existing output is a finished one
        summary.failures.append(f"{job.source}: {job.target} exists (use --overwrite to replace it)")
        return
    try:
        work()
    except VideoError as exc:
        summary.failures.append(str(exc))
    except FileExistsError:
        summary.failures.append(f"{job.source}: {job.target} exists (use --overwrite to replace it)")
    except OSError as exc:
        from srgan.video.work import work_folder

        kept = work_folder(job.target)
        resume = f"; the finished segments stay in {kept}: re-run the same command to continue" if kept.exists() else ""
        summary.failures.append(f"{job.source}: cannot write {job.target} ({exc.strerror or exc}){resume}")
    except (ValueError, MemoryError) as exc:
        summary.failures.append(f"{job.source}: {exc}")


def _animation(upscaler: Any, job: MediaJob, args: argparse.Namespace, size: OutputSize, summary: MediaSummary) -> None:
    from srgan.imageio import ReadPolicy
    from srgan.video.animation import upscale_animation

    policy = ReadPolicy(max_pixels=args.max_pixels)
    result = upscale_animation(upscaler, job.source, job.target, size, args.overwrite, args.quality, policy=policy)
    summary.animations += 1
    summary.frames += result.frames
    summary.network += result.network


def _video(
    upscaler: Any, job: MediaJob, args: argparse.Namespace, size: OutputSize, shard: DistInfo, summary: MediaSummary
) -> None:
    from tqdm import tqdm

    from srgan.modelfiles.bundled import default_model
    from srgan.video.encode import EncoderOptions
    from srgan.video.pipeline import VideoSettings, upscale_video
    from srgan.video.probe import probe_video
    from srgan.video.work import model_fingerprint

    settings = VideoSettings(
        encoder=EncoderOptions(args.codec, args.crf, args.preset, args.pix_fmt),
        size=size,
        dedup_threshold=args.dedup_threshold,
        segment_frames=args.segment_frames,
        allow_hdr=args.allow_hdr,
        overwrite=args.overwrite,
    )
    model = {
        "model": model_fingerprint(args.model or default_model()),
        "blend_with": model_fingerprint(args.blend_with),
        "strength": args.strength,
        "tile": args.tile,
        "tile_context": args.tile_context,
    }
    info = probe_video(job.source)
    bar = tqdm(
        total=info.frames,
        unit="frame",
        disable=args.quiet or not shard.is_main,
        file=sys.stderr,
        desc=job.source.name[:30],
    )
    try:
        result = upscale_video(
            upscaler, job.source, job.target, settings, model, progress=lambda n: bar.update(n), info=info
        )
    except FileExistsError:
        if job.target.exists() and shard.enabled:
            return  # another process of this run finished it meanwhile
        raise
    finally:
        bar.close()
    summary.frames += result.upscaled
    summary.network += result.network
    if result.muxed:
        summary.videos += 1
    elif not result.finished and shard.world_size == 1:
        summary.failures.append(
            f"{job.source}: some segments are being upscaled by another process; re-run the command when it ends"
        )


def _gather(shard: DistInfo, summary: MediaSummary) -> MediaSummary:
    if not shard.enabled:
        return summary
    import torch.distributed as dist

    parts: list[MediaSummary | None] = [None] * shard.world_size
    dist.all_gather_object(parts, summary)
    rows = [p for p in parts if p is not None]
    return MediaSummary(
        sum(r.videos for r in rows),
        sum(r.animations for r in rows),
        sum(r.frames for r in rows),
        sum(r.network for r in rows),
        list(dict.fromkeys(m for r in rows for m in r.failures)),  # a video's problem is seen by every process
    )


def report(summary: MediaSummary, jobs: list[MediaJob]) -> None:
    """The summary lines of the videos and animations (rank 0 prints them)."""
    if not jobs:
        return
    videos = sum(j.kind == "video" for j in jobs)
    animations = len(jobs) - videos
    parts = []
    if videos:
        parts.append(f"{summary.videos} of {videos} video(s)")
    if animations:
        parts.append(f"{summary.animations} of {animations} animation(s)")
    print(
        f"upscaled {' and '.join(parts)}: {summary.frames} frame(s), of which {summary.network} ran the network "
        f"({summary.frames - summary.network} repeated a previous frame)"
    )
