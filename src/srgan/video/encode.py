"""The video encoder: which codec and pixel format keep the source's bit depth, and its options."""

from __future__ import annotations

from dataclasses import dataclass

from srgan.video import VideoError
from srgan.video.probe import VideoInfo

DEFAULT_CRF = 18  # visually lossless for x264/x265 at this scale of detail
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


@dataclass(frozen=True)
class RateControl:
    """How ``--crf`` and ``--preset`` reach one encoder: the FFmpeg option each sets, the CRFs that mean what they
    say (outside them an encoder refuses only when it opens, or clips or ignores the value without a word), the
    presets it knows and the one srgan uses when none is asked for (None: the encoder's own)."""

    crf: tuple[int, int]
    preset_option: str | None
    presets: tuple[str, ...]
    default_preset: str | None = None
    crf_option: str = "crf"

    def presets_text(self) -> str:
        if all(p.lstrip("-").isdigit() for p in self.presets):
            return f"a whole number from {self.presets[0]} to {self.presets[-1]}"
        return f"one of {', '.join(self.presets)}"


def _numbers(low: int, high: int) -> tuple[str, ...]:
    return tuple(str(n) for n in range(low, high + 1))


# The one home of the encoders' rate-control rules (checked by srgan upscale before any file is read, and by
# choose_encoder). The CRF ranges are the same at 8 and 10 bits: x264 and x265 also take CRFs down to -12 for
# 10-bit sources, which --crf (from 0, already near-lossless) does not offer; x264 clips a CRF over 51 to 51
# silently, x265 refuses it; FFmpeg's libsvtav1 reads CRF 0 as "not set" (SVT-AV1's default, 35, is used).
# An encoder not listed here (ffv1, hardware encoders, ...) has no CRF srgan sets.
RATE_CONTROL = {
    "libx264": RateControl((0, 51), "preset", X26X_PRESETS, "medium"),
    "libx265": RateControl((0, 51), "preset", X26X_PRESETS, "medium"),
    "libsvtav1": RateControl((1, 63), "preset", _numbers(-1, 13), "8"),
    "libvpx-vp9": RateControl((0, 63), "deadline", ("best", "good", "realtime")),
    "libaom-av1": RateControl((0, 63), "cpu-used", _numbers(0, 8)),
}
DEFAULT_CODECS = ("libx264", "libx265")  # for 8-bit and for deeper sources; their rules are the same


def rate_problem(codec: str | None, crf: int | None, preset: str | None) -> str | None:
    """Why ``--crf`` or ``--preset`` does not suit ``--codec`` (None: the default, libx264 or libx265 by the
    source's depth), or None."""
    name = codec or DEFAULT_CODECS[0]
    rule = RATE_CONTROL.get(name)
    label = codec or f"the default encoders ({' and '.join(DEFAULT_CODECS)})"
    if crf is not None:
        if rule is None:
            known = ", ".join(RATE_CONTROL)
            return f"--crf does not apply to {name}: srgan sets a constant rate factor for {known} only"
        low, high = rule.crf
        if not low <= crf <= high:
            return f"--crf for {label} takes a whole number from {low} to {high}, got {crf}"
    if preset is not None:
        if rule is None or rule.preset_option is None:
            return f"--preset does not apply to {name}"
        if preset not in rule.presets:
            return f"--preset for {label} takes {rule.presets_text()}, got {preset!r}"
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
    problem = rate_problem(codec, wanted.crf, wanted.preset)
    if problem:
        raise VideoError(f"{name}: {problem}")
    options: dict[str, str] = {}
    rule = RATE_CONTROL.get(codec)
    if rule is not None:
        options[rule.crf_option] = str(wanted.crf if wanted.crf is not None else DEFAULT_CRF)
        preset = wanted.preset or rule.default_preset
        if rule.preset_option and preset is not None:
            options[rule.preset_option] = preset
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
