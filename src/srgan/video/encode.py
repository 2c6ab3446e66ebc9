"""The video encoder: which codec and pixel format keep the source's bit depth, and its options."""

from __future__ import annotations

from dataclasses import dataclass

from srgan.video import VideoError
from srgan.video.probe import VideoInfo

DEFAULT_CRF = 18  # visually lossless for x264/x265 at this scale of detail
DEFAULT_PRESET = "medium"
# codec -> the option names its FFmpeg wrapper takes for --crf and --preset
RATE_OPTIONS = {
    "libx264": ("crf", "preset"),
    "libx265": ("crf", "preset"),
    "libsvtav1": ("crf", "preset"),
    "libvpx-vp9": ("crf", None),
}
X26X_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)
SVTAV1_PRESETS = range(-1, 14)  # FFmpeg's libsvtav1 takes -1 (its default) to 13


def preset_problem(codec: str | None, preset: str) -> str | None:
    """Why ``--preset`` does not suit ``--codec`` (None: the default, libx264 or libx265), or None. Checked
    before any file is read: FFmpeg only says so when the first segment's encoder opens."""
    codec = codec or "libx264"  # the default's two codecs share x264's preset names
    if codec in ("libx264", "libx265"):
        if preset not in X26X_PRESETS:
            return f"--preset for {codec} takes one of {', '.join(X26X_PRESETS)}, got {preset!r}"
    elif codec == "libsvtav1":
        if not (preset.lstrip("-").isdigit() and int(preset) in SVTAV1_PRESETS):
            low, high = SVTAV1_PRESETS[0], SVTAV1_PRESETS[-1]
            return f"--preset for libsvtav1 takes a whole number from {low} to {high}, got {preset!r}"
    elif RATE_OPTIONS.get(codec, (None, None))[1] is None:
        return f"--preset does not apply to {codec}"  # as choose_encoder says later, but before any work
    return None


@dataclass(frozen=True)
class EncoderOptions:
    """What the user asked for (None: the default for the source)."""

    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None


@dataclass(frozen=True)
class Encoder:
    """The encoder chosen for one video: everything that decides its bitstream."""

    codec: str
    pix_fmt: str
    options: tuple[tuple[str, str], ...]


def choose_encoder(info: VideoInfo, wanted: EncoderOptions, name: object) -> Encoder:
    """H.264 (libx264) for 8-bit sources, HEVC (libx265) for deeper ones, or ``wanted.codec``; the source's
    pixel format where the encoder takes it (so 10-bit stays 10-bit), else the closest one of the same depth."""
    import av

    deep = info.bits > 8
    codec = wanted.codec or ("libx265" if deep else "libx264")
    if codec not in av.codecs_available:
        hint = " (this PyAV build has no HEVC encoder; pass --codec ffv1 for a lossless 10-bit file)" if deep else ""
        raise VideoError(f"{name}: the encoder {codec} is not available in this PyAV build{hint}")
    try:
        desc = av.Codec(codec, "w")
    except (av.FFmpegError, ValueError) as exc:
        raise VideoError(f"{name}: {codec} is not a video encoder ({exc})") from exc
    if desc.type != "video":
        raise VideoError(f"{name}: {codec} is not a video encoder")
    formats = [f.name for f in (desc.video_formats or [])]
    pix_fmt = wanted.pix_fmt or _closest_format(info, formats)
    if formats and pix_fmt not in formats:
        raise VideoError(f"{name}: {codec} cannot encode --pix-fmt {pix_fmt}; it takes {', '.join(formats)}")
    if wanted.pix_fmt is None and _depth(pix_fmt) < info.bits:
        raise VideoError(
            f"{name}: the source is {info.bits}-bit but {codec} cannot keep that depth; use --codec libx265 or ffv1"
        )
    names = RATE_OPTIONS.get(codec, (None, None))
    options: dict[str, str] = {}
    for value, key, flag in ((wanted.crf, names[0], "--crf"), (wanted.preset, names[1], "--preset")):
        if value is not None and key is None:
            raise VideoError(f"{name}: {flag} does not apply to {codec}")
    if names[0]:
        options[names[0]] = str(wanted.crf if wanted.crf is not None else DEFAULT_CRF)
    if names[1]:
        options[names[1]] = wanted.preset or (DEFAULT_PRESET if codec != "libsvtav1" else "8")
    if codec == "libx265":
        options["x265-params"] = "log-level=error"
    if codec == "ffv1":
        options.update(level="3", slicecrc="1")
    return Encoder(codec, pix_fmt, tuple(sorted(options.items())))


def _depth(pix_fmt: str) -> int:
    import av

    return max(c.bits for c in av.VideoFormat(pix_fmt).components)


def _closest_format(info: VideoInfo, formats: list[str]) -> str:
    if not formats or info.pix_fmt in formats:
        return info.pix_fmt
    same_depth = [f for f in formats if _depth(f) >= info.bits and not f.startswith(("gray", "bgr0", "rgb"))]
    preferred = ["yuv420p", "yuv420p10le", "yuv420p12le", "yuv444p", "yuv444p10le", "yuv444p16le"]
    for f in preferred:
        if f in same_depth:
            return f
    return same_depth[0] if same_depth else formats[0]


def even_size(width: int, height: int, pix_fmt: str) -> tuple[int, int]:
    """The output size rounded down to the pixel format's chroma grid (4:2:0 needs even sides)."""
    import av

    planes = av.VideoFormat(pix_fmt, 16, 16).components
    step_w = 2 if any(c.width != 16 for c in planes) else 1
    step_h = 2 if any(c.height != 16 for c in planes) else 1
    return max(step_w, width // step_w * step_w), max(step_h, height // step_h * step_h)
