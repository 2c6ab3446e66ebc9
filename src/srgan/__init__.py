"""srgan: SRGAN super-resolution (Ledig et al., CVPR 2017).

Importing the package is cheap: nothing heavy (torch, Pillow) is imported until a
name that needs it is used. ``srgan.Upscaler`` and ``srgan.imresize`` are resolved lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Upscaler", "__version__", "imresize"]

if TYPE_CHECKING:
    from srgan.data.imresize import imresize
    from srgan.inference.upscaler import Upscaler


def __getattr__(name: str) -> Any:
    if name == "Upscaler":
        from srgan.inference.upscaler import Upscaler

        return Upscaler
    if name == "imresize":
        from srgan.data.imresize import imresize

        return imresize
    raise AttributeError(f"module 'srgan' has no attribute {name!r}")
