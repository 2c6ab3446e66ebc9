"""One video: decode -> ``Upscaler`` -> encode, one segment at a time, then the final mux.

Each segment is a run of frames encoded by a fresh encoder, so it starts with a keyframe and refers to no
frame outside itself (a closed GOP): segments joined packet for packet decode exactly as one encode
would. Memory is one decoded frame, one upscaled frame and the encoder's queue, whatever the length."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from srgan.atomic import atomic_path, remove_stale_temps
from srgan.inference.files import OutputSize
from srgan.inference.upscaler import Upscaler
from srgan.video import VideoError, require_av
from srgan.video.encode import Encoder, EncoderOptions, choose_encoder, even_size
from srgan.video.probe import BITMAP_SUBTITLES, VideoInfo, probe_video
from srgan.video.work import WorkFolder, file_fingerprint, read_segment, segment_extradata, write_segment

SEGMENT_SECONDS = 2.0  # the default segment: at most this much work is lost to an interruption

# FFmpeg's AVColorSpace -> swscale's coefficient table; unspecified follows FFmpeg's convention by size
_SWS_SPACE = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "ITU601", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}


@dataclass(frozen=True)
class VideoSettings:
    """How to upscale a video (every field but ``overwrite`` is recorded in the work folder's manifest).
    ``dedup_threshold``: a frame whose every sample is within this many 8-bit levels of the last frame
    that ran the network reuses that frame's output (0: only exact repeats)."""

    encoder: EncoderOptions = field(default_factory=EncoderOptions)
    size: OutputSize | None = None
    dedup_threshold: float = 0.0
    segment_frames: int | None = None
    allow_hdr: bool = False
    overwrite: bool = False


@dataclass
class VideoResult:
    frames: int = 0  # frames in the video
    upscaled: int = 0  # frames this process encoded
    network: int = 0  # of those, frames that ran the network (the others repeat the previous frame)
    muxed: bool = False  # this process wrote the final file
    finished: bool = False  # the final file exists


def upscale_video(
    upscaler: Upscaler,
    source: Path,
    target: Path,
    settings: VideoSettings = VideoSettings(),
    model: dict[str, Any] | None = None,
    progress: Callable[[int], object] | None = None,
    info: VideoInfo | None = None,
) -> VideoResult:
    """Upscale ``source`` into ``target`` (same container format as its suffix), every other stream copied.
    Resumes a run of the same command left in the work folder; with several processes (torchrun) each
    takes the segments no other has claimed, and the one that finds all segments done writes the file.
    ``model``: what identifies the model in the manifest (file hashes, strength). ``progress(n)``: n more
    frames are done. ``info``: the source's probe when the caller already has it (probing reads every packet).
    VideoError (a sentence) for a video that cannot be upscaled, OSError for the output."""
    av = require_av(source)
    if target.exists() and not settings.overwrite:
        raise FileExistsError(f"{target} already exists")
    remove_stale_temps(target)
    info = info or probe_video(source)
    if info.hdr and not settings.allow_hdr:
        raise VideoError(
            f"{source}: is HDR ({info.hdr}) and the models are trained on SDR pictures; pass --allow-hdr to "
            "upscale it anyway (the transfer and primaries tags are kept)"
        )
    encoder = choose_encoder(info, settings.encoder, source)
    check_container(source, target, info)
    size = (settings.size or OutputSize()).written(info.width, info.height, upscaler.scale)
    width, height = even_size(*size, encoder.pix_fmt)
    _check_encoder_opens(source, info, encoder, (width, height))
    segments = plan_segments(info, settings.segment_frames)
    manifest = {
        "input": {"name": source.name, **file_fingerprint(source)},
        "model": model or {},
        "options": {
            "encoder": asdict(encoder),
            "size": [width, height],
            "scale": upscaler.scale,
            "precision": upscaler.precision,
            "dedup_threshold": settings.dedup_threshold,
            "allow_hdr": settings.allow_hdr,
        },
        "segments": segments,
        "frames": info.frames,
        "av": av.__version__,
    }
    work = WorkFolder.open(target, manifest, source)
    if target.exists() and not settings.overwrite:  # another process finished it (and removed its work folder)
        work.remove()
        raise FileExistsError(f"{target} already exists")
    work.clear_dead_claims()
    result = VideoResult(frames=info.frames)
    if progress:
        progress(sum(stop - start for k, (start, stop) in enumerate(segments) if work.done(k)))
    try:
        for k, (start, stop) in enumerate(segments):
            name = f"segment-{k:05d}"
            if work.done(k) or not work.claim(name):
                continue
            try:
                if not work.done(k):  # another process may have finished it between the check and the claim
                    segment = _encode_segment(upscaler, source, info, encoder, (width, height), (start, stop), settings)
                    write_segment(work.segment_file(k), segment.extradata, segment.packets)
                    result.upscaled += stop - start
                    result.network += segment.network
                    if progress:
                        progress(stop - start)
            finally:
                work.release(name)
        if work.all_done() and work.claim("mux"):
            try:
                if not target.exists() or settings.overwrite:
                    try:
                        mux(source, target, info, encoder, (width, height), work, settings.overwrite)
                    except av.FFmpegError as exc:
                        raise VideoError(f"{source}: cannot write {target} ({exc}); the work folder is kept") from exc
                    result.muxed = True
            finally:
                work.release("mux")
            if target.exists():
                work.remove()
    except BaseException:
        work.release_mine()  # whatever ended the run, no claim of this process stays behind
        raise
    result.finished = target.exists()
    return result


def plan_segments(info: VideoInfo, segment_frames: int | None) -> list[tuple[int, int]]:
    n = segment_frames or max(1, math.ceil(SEGMENT_SECONDS * float(info.rate or 25)))
    return [(start, min(start + n, info.frames)) for start in range(0, info.frames, n)]


def check_container(source: Path, target: Path, info: VideoInfo) -> None:
    """Refuse, before any work, an output container that cannot hold the input's streams."""
    suffix = target.suffix.lower()
    bitmap = [c for c in info.subtitle_codecs if c in BITMAP_SUBTITLES]
    if suffix in (".mp4", ".m4v", ".mov") and bitmap:
        raise VideoError(
            f"{source}: has bitmap subtitles ({', '.join(bitmap)}), which {suffix} files cannot hold; "
            "write an .mkv instead (-o NAME.mkv)"
        )
    text = [c for c in info.subtitle_codecs if c not in BITMAP_SUBTITLES and c != "mov_text"]
    if suffix in (".mp4", ".m4v", ".mov") and text:
        raise VideoError(
            f"{source}: has subtitles ({', '.join(text)}) that {suffix} files cannot hold as they are; "
            "write an .mkv instead (-o NAME.mkv)"
        )


# ---- one segment ------------------------------------------------------------------------------


def _frames(source: Path, info: VideoInfo, start: int, stop: int) -> Iterator[Any]:
    """The decoded frames ``start`` to ``stop`` (presentation order), seeking near ``start`` first."""
    import av

    wanted = info.pts[start:stop]
    first, last = wanted[0], wanted[-1]
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for attempt in range(2):
            if start > 0 and attempt == 0:
                container.seek(first, stream=stream, backward=True)
            else:
                container.seek(0)  # the index sent us past the segment: decode from the start
            got = 0
            try:
                for frame in container.decode(stream):
                    if frame.pts is None or frame.pts < first:
                        continue
                    if got == 0 and frame.pts != first:
                        break
                    if frame.pts != wanted[got]:
                        raise VideoError(f"{source}: frame {start + got} is missing or corrupt (truncated file?)")
                    yield frame
                    got += 1
                    if frame.pts >= last:
                        return
            except av.FFmpegError as exc:
                raise VideoError(f"{source}: cannot decode frame {start + got} ({exc})") from exc
            if got:
                break
        raise VideoError(f"{source}: frames {start + got} to {stop - 1} cannot be decoded (truncated or corrupt)")


@dataclass
class EncodedSegment:
    packets: list[tuple[int, int, int, bool, bytes]]  # (pts, dts, duration, keyframe, data) in decode order
    extradata: bytes | None  # the encoder's parameter sets
    network: int  # frames that ran the network


def _encode_segment(
    upscaler: Upscaler,
    source: Path,
    info: VideoInfo,
    encoder: Encoder,
    size: tuple[int, int],
    span: tuple[int, int],
    settings: VideoSettings,
) -> EncodedSegment:
    import av

    codec: Any = av.CodecContext.create(encoder.codec, "w")
    _configure_context(codec, encoder, info, size)
    packets: list[tuple[int, int, int, bool, bytes]] = []
    start, stop = span  # the segment's frames carry exactly these pts
    durations = dict(zip(info.pts[start:stop], info.durations[start:stop], strict=True))
    previous: tuple[np.ndarray, np.ndarray] | None = None  # (input, output) of the last frame that ran the network
    ran = 0
    threshold = settings.dedup_threshold * (257 if info.bits > 8 else 1)

    def collect(frame: Any) -> None:
        for packet in codec.encode(frame):
            pts = packet.pts
            packets.append((pts, packet.dts, durations.get(pts, 0), packet.is_keyframe, bytes(packet)))

    for frame in _frames(source, info, *span):
        rgb = rgb_array(frame, info)
        if previous is not None and _same(rgb, previous[0], threshold):
            out = previous[1]
        else:
            out = _upscale_frame(upscaler, rgb, info.bits, size)
            previous, ran = (rgb, out), ran + 1
        collect(yuv_frame(out, frame.pts, encoder, info))
    collect(None)
    return EncodedSegment(packets, codec.extradata, ran)


def _check_encoder_opens(source: Path, info: VideoInfo, encoder: Encoder, size: tuple[int, int]) -> None:
    """FFmpeg checks some options only when the encoder opens: before any work folder or network time."""
    import av

    codec: Any = av.CodecContext.create(encoder.codec, "w")
    _configure_context(codec, encoder, info, size)
    try:
        codec.open()
    except (av.FFmpegError, ValueError, ArithmeticError) as exc:
        raise VideoError(f"{source}: the encoder {encoder.codec} refuses these settings ({exc})") from exc


def _configure_context(ctx: Any, encoder: Encoder, info: VideoInfo, size: tuple[int, int]) -> None:
    ctx.width, ctx.height = size
    ctx.pix_fmt = encoder.pix_fmt
    ctx.time_base = info.time_base
    if info.rate:
        ctx.framerate = info.rate
    ctx.color_primaries, ctx.color_trc = info.color_primaries, info.color_trc
    ctx.colorspace, ctx.color_range = info.colorspace, info.color_range
    if info.sample_aspect_ratio:
        ctx.sample_aspect_ratio = info.sample_aspect_ratio
    ctx.options = dict(encoder.options)
    ctx.thread_count = 1  # the network has the cores; one thread also makes the bitstream the same anywhere
    ctx.flags |= 1 << 22  # AV_CODEC_FLAG_GLOBAL_HEADER: parameter sets in extradata, as containers want


def _same(a: np.ndarray, b: np.ndarray, threshold: float) -> bool:
    if threshold <= 0:
        return bool(np.array_equal(a, b))
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max()) <= threshold


def _sws_space(info: VideoInfo) -> str:
    return _SWS_SPACE.get(info.colorspace, "ITU709" if info.height >= 720 else "ITU601")


def rgb_array(frame: Any, info: VideoInfo) -> np.ndarray:
    """A decoded frame as (H, W, 3) RGB: uint8 for 8-bit video, uint16 for deeper, by the frame's own matrix
    and range."""
    fmt = "rgb48le" if info.bits > 8 else "rgb24"
    rgb = frame.reformat(format=fmt, src_colorspace=_sws_space(info), src_color_range=2 if info.color_range == 2 else 1)
    return rgb.to_ndarray()


def _upscale_frame(upscaler: Upscaler, rgb: np.ndarray, bits: int, size: tuple[int, int]) -> np.ndarray:
    from srgan.data.imresize import imresize

    peak = 65535.0 if bits > 8 else 255.0
    x = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1).div_(peak)
    y = upscaler.upscale_tensor(x, bits=bits).clamp_(0, 1)
    if (y.shape[-1], y.shape[-2]) != size:
        y = imresize(y, size=(size[1], size[0])).clamp_(0, 1)
    out = y.mul_(peak).round_().permute(1, 2, 0).numpy()
    return np.ascontiguousarray(out.astype(np.uint16 if bits > 8 else np.uint8))


def yuv_frame(rgb: np.ndarray, pts: int, encoder: Encoder, info: VideoInfo) -> Any:
    import av

    frame = av.VideoFrame.from_ndarray(rgb, format="rgb48le" if rgb.dtype == np.uint16 else "rgb24")
    out = frame.reformat(
        format=encoder.pix_fmt, dst_colorspace=_sws_space(info), dst_color_range=2 if info.color_range == 2 else 1
    )
    out.pts = pts
    out.time_base = info.time_base
    out.color_primaries, out.color_trc = info.color_primaries, info.color_trc
    out.colorspace, out.color_range = info.colorspace, info.color_range
    return out


# ---- the final file ---------------------------------------------------------------------------


def mux(
    source: Path,
    target: Path,
    info: VideoInfo,
    encoder: Encoder,
    size: tuple[int, int],
    work: WorkFolder,
    overwrite: bool,
) -> None:
    """The segments' video packets and every other stream of ``source`` copied packet for packet, with
    the container's metadata and chapters, into ``target`` (a temp name, renamed when complete)."""
    import av

    with (
        av.open(str(source)) as inp,
        atomic_path(target, overwrite=overwrite) as tmp,
        av.open(str(tmp), "w", format=_muxer_for(target)) as out,
    ):
        out.metadata.update(_clean(inp.metadata))
        in_video = inp.streams.video[0]
        copied, video = {}, None
        for stream in inp.streams:  # in the input's order, so the stream list is the same
            if stream.index == in_video.index:
                video = out.add_stream(encoder.codec, rate=info.rate or None)
                _configure_context(video.codec_context, encoder, info, size)
                video.codec_context.extradata = _extradata(work)
                if info.display_matrix is not None:
                    video.set_display_matrix(info.display_matrix)
                video.time_base = info.time_base
                _copy_stream_tags(stream, video)
            elif stream.type == "attachment":
                name = stream.metadata.get("filename", f"attachment-{stream.index}")
                mimetype = stream.mimetype or "application/octet-stream"
                _copy_stream_tags(stream, out.add_attachment(name, mimetype, bytes(stream.data)))
            else:
                copied[stream.index] = out.add_stream_from_template(stream)
                _copy_stream_tags(stream, copied[stream.index])
        chapters = inp.chapters()
        if chapters:
            out.set_chapters(chapters)
        for packet in _interleave(
            _video_packets(work, info, video, _muxer_for(target) in ("matroska", "webm")), _copied_packets(inp, copied)
        ):
            out.mux(packet)


def _muxer_for(target: Path) -> str | None:
    return {".mkv": "matroska", ".webm": "webm", ".mp4": "mp4", ".m4v": "mp4", ".mov": "mov"}.get(target.suffix.lower())


def _clean(metadata: dict[str, str]) -> dict[str, str]:
    # written by the muxer itself (a copied DURATION would be the old stream's)
    return {k: v for k, v in metadata.items() if k.upper() not in ("DURATION", "ENCODER", "_STATISTICS_TAGS")}


def _copy_stream_tags(src: Any, dst: Any) -> None:
    dst.metadata.update(_clean(dict(src.metadata)))
    dst.disposition = src.disposition


def _extradata(work: WorkFolder) -> bytes | None:
    return segment_extradata(work.segment_file(0)) or None


def _video_packets(work: WorkFolder, info: VideoInfo, stream: Any, matroska: bool) -> Iterator[tuple[Fraction, Any]]:
    import av

    first_dts: int | None = None
    last_dts: int | None = None
    pending: Any = None
    for k in range(len(work.segments)):
        for pts, dts, duration, key, data in read_segment(work.segment_file(k)):
            # A fresh encoder starts its decode timestamps before its first frame's pts (B-frame delay);
            # at a join they must still rise: never below the previous packet's, never above the frame's pts.
            if last_dts is not None and dts <= last_dts:
                dts = min(last_dts + 1, pts)
            last_dts = dts
            first_dts = dts if first_dts is None else first_dts
            packet = av.Packet(data)
            packet.pts, packet.dts = pts, dts
            if duration and not matroska:
                # Matroska reports durations cut to whole ms; its track's default duration (from the frame
                # rate) is the exact one, as in the input
                packet.duration = duration
            packet.time_base = info.time_base
            packet.stream = stream
            if key:
                packet.is_keyframe = True
            if pending is not None:
                yield pending
            pending = (Fraction(dts) * info.time_base, packet)
    if pending is not None:
        if not matroska and last_dts is not None and first_dts is not None:
            # mp4/mov: the stream lasts as long as its packets' durations add up to (the dts span plus the
            # last packet's): make it the input's length
            pending[1].duration = max(1, info.end - info.pts[0] - (last_dts - first_dts))
        yield pending


def _copied_packets(inp: Any, copied: dict[int, Any]) -> Iterator[tuple[Fraction, Any]]:
    if not copied:
        return
    for packet in inp.demux([s for s in inp.streams if s.index in copied]):
        if packet.size == 0 and packet.dts is None:
            continue  # the demuxer's end-of-stream marker
        stamp = packet.dts if packet.dts is not None else packet.pts
        packet.stream = copied[packet.stream.index]
        yield (Fraction(stamp or 0) * packet.time_base if packet.time_base else Fraction(0)), packet


def _interleave(*sources: Iterator[tuple[Fraction, Any]]) -> Iterator[Any]:
    """The packets of every source in timestamp order (each source is in order already)."""
    for _stamp, _n, packet in heapq.merge(
        *(((s, i, p) for s, p in src) for i, src in enumerate(sources)), key=lambda t: (t[0], t[1])
    ):
        yield packet
