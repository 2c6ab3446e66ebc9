"""Videos and animated images for ``srgan upscale``.

- ``probe``: what a file is (a video: a container whose video stream has more than one frame; an
  animation: a GIF/WebP/APNG with more than one frame; else a still image) and a video's properties.
- ``animation``: animated GIF/WebP/APNG through Pillow, frame timing, loop and transparency kept.
- ``encode``: the encoder choice (codec, pixel format, CRF, preset) for a video's bit depth.
- ``work``: the resumable work folder: manifest, atomic segment files and claims.
- ``pipeline``: decode -> ``Upscaler`` -> encode per segment, and the final mux with every other stream.
- ``flicker``: the temporal-stability metric.

PyAV (the ``video`` extra) is imported only inside functions, so ``import srgan`` stays light.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

# The Python API, resolved lazily (they import torch): upscale_video(upscaler, source, target, VideoSettings(...)),
# upscale_animation(upscaler, source, target)
_LAZY = {
    "upscale_video": "srgan.video.pipeline",
    "VideoSettings": "srgan.video.pipeline",
    "EncoderOptions": "srgan.video.encode",
    "upscale_animation": "srgan.video.animation",
}

INSTALL_HINT = 'pip install "srgan[video]"'
# Suffixes a folder scan looks at for videos (a file named on the command line is probed whatever its name).
VIDEO_SUFFIXES = frozenset(
    {".mkv", ".mp4", ".m4v", ".mov", ".webm", ".avi", ".ts", ".m2ts", ".mts", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv"}
)


class VideoError(ValueError):
    """A video or animation that cannot be upscaled as asked; the message is one sentence naming the file."""


def require_av(name: object) -> ModuleType:
    """PyAV, or a VideoError naming the install command."""
    try:
        import av
    except ImportError as exc:
        raise VideoError(f"{name}: videos need PyAV, which is not installed; run: {INSTALL_HINT}") from exc
    return av


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'srgan.video' has no attribute {name!r}")
