"""What a file is, and a video's properties, from its headers and packets (no frame is decoded)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

from srgan.video import VIDEO_SUFFIXES, VideoError, require_av

MediaKind = Literal["video", "animation", "image"]
# FFmpeg's AVColorTransferCharacteristic values of HDR transfers: SMPTE ST 2084 (PQ), ARIB STD-B67 (HLG)
HDR_TRANSFERS = {16: "PQ (SMPTE ST 2084)", 18: "HLG (ARIB STD-B67)"}
BITMAP_SUBTITLES = {"hdmv_pgs_subtitle", "dvd_subtitle", "dvb_subtitle", "xsub"}


def media_kind(path: Path) -> MediaKind:
    """ "video" for a container with a video stream of more than one frame, "animation" for a GIF,
    WebP or APNG of more than one frame, else "image" (left to the image reader, which names any
    problem). Files Pillow knows by their suffix are looked at by Pillow, the others by PyAV; a file
    with a video suffix that PyAV cannot read raises VideoError."""
    from srgan.imageio import image_extensions

    if path.suffix.lower() in image_extensions():
        return "animation" if _is_animation(path) else "image"
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        try:
            import av
        except ImportError:
            return "image"  # not a video by its name, and nothing to probe it with: the image reader reports it
    av = require_av(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                if path.suffix.lower() in VIDEO_SUFFIXES or container.streams.audio:
                    raise VideoError(f"{path}: has no video stream; srgan upscales videos and images")
                return "image"
            stream = container.streams.video[0]
            frames = 0
            for packet in container.demux(stream):
                frames += packet.size > 0
                if frames > 1:
                    return "video"
    except av.FFmpegError as exc:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            raise VideoError(f"{path}: not a readable video ({_reason(exc)})") from exc
        return "image"
    return "image"


def _is_animation(path: Path) -> bool:
    from PIL import Image

    from srgan.imageio import ANIMATED_FORMATS

    try:
        with Image.open(path) as im:
            return im.format in ANIMATED_FORMATS and int(getattr(im, "n_frames", 1)) > 1
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False  # the image reader names the problem (a bomb: from its header, with its own sentence)


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "strerror", None) or exc)


@dataclass(frozen=True)
class VideoInfo:
    """A video's first video stream, as decoded frames will be: size, pixel format and bit depth,
    colour tags (FFmpeg's enum values), sample aspect ratio, the display matrix (rotation) and every
    frame's timestamp and duration in the stream's time base, in presentation order."""

    width: int
    height: int
    pix_fmt: str
    bits: int
    codec: str
    time_base: Fraction
    rate: Fraction | None
    pts: tuple[int, ...]
    durations: tuple[int, ...]
    sample_aspect_ratio: Fraction | None
    color_primaries: int
    color_trc: int
    colorspace: int
    color_range: int
    display_matrix: tuple[int, ...] | None
    stream_index: int
    subtitle_codecs: tuple[str, ...]
    end: int  # the stream's end (presentation), in its time base: the last frame's pts plus its display time

    @property
    def frames(self) -> int:
        return len(self.pts)

    @property
    def hdr(self) -> str | None:
        return HDR_TRANSFERS.get(self.color_trc)


def probe_video(path: Path) -> VideoInfo:
    """A video's properties, read from its headers and every packet of its video stream (so a VFR
    timeline is exact); VideoError with a sentence for a file that is not a readable video."""
    av = require_av(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: has no video stream; srgan upscales videos and images")
            stream = container.streams.video[0]
            timeline: dict[int, int] = {}
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.pts is None:
                    raise VideoError(f"{path}: a video frame has no timestamp; remux it (e.g. to .mkv) first")
                timeline[packet.pts] = packet.duration or 0
            first = _first_frame(container, stream, path)
            ctx = stream.codec_context
            subtitles = tuple(s.codec_context.name for s in container.streams.subtitles if s.codec_context)
            info = VideoInfo(
                width=first.width,
                height=first.height,
                pix_fmt=first.format.name,
                bits=_bits(first.format),
                codec=ctx.name,
                time_base=stream.time_base or Fraction(1, 1000),
                rate=stream.average_rate or stream.guessed_rate,
                pts=tuple(sorted(timeline)),
                durations=tuple(timeline[p] for p in sorted(timeline)),
                sample_aspect_ratio=stream.sample_aspect_ratio,
                color_primaries=int(first.color_primaries),
                color_trc=int(first.color_trc),
                colorspace=int(first.colorspace),
                color_range=int(first.color_range),
                display_matrix=_display_matrix(first),
                stream_index=stream.index,
                subtitle_codecs=subtitles,
                end=_end(stream, timeline),
            )
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: not a readable video ({_reason(exc)})") from exc
    if info.frames < 1:
        raise VideoError(f"{path}: its video stream has no frames")
    return info


def _end(stream, timeline: dict[int, int]) -> int:  # type: ignore[no-untyped-def]
    if stream.duration:
        return int((stream.start_time or 0) + stream.duration)
    return max(p + d for p, d in timeline.items()) if timeline else 0


def _first_frame(container, stream, path: Path):  # type: ignore[no-untyped-def]
    container.seek(0)
    for frame in container.decode(stream):
        return frame
    raise VideoError(f"{path}: no frame of its video stream can be decoded (corrupt or truncated)")


def _bits(fmt) -> int:  # type: ignore[no-untyped-def]
    return max(c.bits for c in fmt.components)


def _display_matrix(frame) -> tuple[int, ...] | None:  # type: ignore[no-untyped-def]
    import struct

    for side in frame.side_data:
        if side.type.name == "DISPLAYMATRIX":
            return tuple(struct.unpack("<9i", bytes(side)))
    return None
