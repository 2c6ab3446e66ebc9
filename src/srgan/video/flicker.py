"""Temporal stability of an upscaled video: the flicker metric.

    flicker = mean over frames t >= 1 and pixels of | (SR_t - SR_{t-1}) - (B_t - B_{t-1}) |

on Y (MATLAB's rgb2ycbcr luma of 8-bit RGB, in 8-bit levels), where SR is the model's output and B the
bicubic upscale of the same LR frames. Bicubic scores 0 by definition; a model whose output changes from
frame to frame only as much as the picture does scores near the HR clip's own value (the HR's Y in place of
SR), and texture that crawls or shimmers while the picture stands still adds to it. Frames are streamed:
memory is two frames of each kind, whatever the clip's length."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from srgan.data.imresize import imresize
from srgan.metrics.full_reference import crop_border, psnr, rgb_to_y
from srgan.video import VideoError, require_av


class FlickerMeter:
    """Accumulates the flicker of one sequence of (SR, bicubic) uint8 (H, W, 3) frames."""

    def __init__(self) -> None:
        self._previous: tuple[torch.Tensor, torch.Tensor] | None = None
        self._total, self._count = 0.0, 0

    def add(self, sr: np.ndarray, bicubic: np.ndarray) -> None:
        frame = (rgb_to_y(sr, round_y=False), rgb_to_y(bicubic, round_y=False))
        if self._previous is not None:
            change = (frame[0] - self._previous[0]) - (frame[1] - self._previous[1])
            self._total += float(change.abs().sum())
            self._count += change.numel()
        self._previous = frame

    @property
    def value(self) -> float:
        return self._total / self._count if self._count else 0.0


@dataclass
class ClipScore:
    name: str
    frames: int
    psnr_y: float  # mean over frames, against the clip's own frames (the protocol's border crop)
    flicker: float  # the model's
    hr_flicker: float  # the HR clip's own: what the picture's real changes score


def clip_frames(path: Path, max_frames: int | None = None) -> Iterator[torch.Tensor]:
    """The clip's frames as (3, H, W) float RGB in [0, 1] on the 8-bit grid, in presentation order."""
    av = require_av(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: has no video stream")
            for i, frame in enumerate(container.decode(video=0)):
                if max_frames is not None and i >= max_frames:
                    return
                rgb = frame.to_ndarray(format="rgb24")
                yield torch.from_numpy(rgb).permute(2, 0, 1).double() / 255.0
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: not a readable video ({exc})") from exc


def _u8(image: torch.Tensor) -> np.ndarray:
    return (image.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()


def score_clip(
    path: Path, sr_fn: Callable[[torch.Tensor], torch.Tensor], scale: int, max_frames: int | None = None
) -> ClipScore:
    """The clip is the HR: each frame mod-cropped, downscaled by the protocol's bicubic to the LR, upscaled
    by ``sr_fn`` ((1, 3, h, w) -> (1, 3, sh, sw)) and by bicubic."""
    model, natural = FlickerMeter(), FlickerMeter()
    psnrs = []
    for hr in clip_frames(path, max_frames):
        h, w = hr.shape[-2:]
        hr = hr[:, : h - h % scale, : w - w % scale]
        lr = imresize(hr, 1.0 / scale).clamp(0, 1)
        lr = (lr * 255.0).round() / 255.0
        sr = _u8(sr_fn(lr[None].float())[0].double())
        bic = _u8(imresize(lr, float(scale)))
        hr8 = _u8(hr)
        model.add(sr, bic)
        natural.add(hr8, bic)
        sr_y, hr_y = rgb_to_y(sr), rgb_to_y(hr8)
        psnrs.append(psnr(crop_border(sr_y, scale), crop_border(hr_y, scale)))
    if not psnrs:
        raise VideoError(f"{path}: no frame can be decoded")
    return ClipScore(path.name, len(psnrs), float(np.mean(psnrs)), model.value, natural.value)
