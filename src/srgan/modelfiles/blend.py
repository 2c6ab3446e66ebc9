"""Strength: a network whose parameters lie between a model and its fidelity base.

For a GAN model fine-tuned from a PSNR-oriented one (srgan-x4 from srresnet-x4, as ESRGAN's network
interpolation assumes), ``(1 - s) * base + s * model`` over every trained parameter *and* every
BatchNorm statistic (running mean and variance) gives a path from fidelity (s = 0) to texture (s = 1).
The blend is of the trained networks; BatchNorm is folded into the convolutions afterwards, by the
inference code, exactly as for any other model. At s = 0 and s = 1 the result is the base or the
model to the bit: (1 - s) * a + s * b is exact there.
"""

from __future__ import annotations

import torch

from srgan.modelfiles.errors import ModelLoadError


def check_strength(strength: float) -> None:
    if not 0.0 <= strength <= 1.0:
        raise ModelLoadError(f"strength must be between 0 and 1, got {strength}")


def blend_states(
    base: dict[str, torch.Tensor], model: dict[str, torch.Tensor], strength: float, names: tuple[str, str]
) -> dict[str, torch.Tensor]:
    """The interpolated state_dict; one sentence naming both files when they are not the same network."""
    check_strength(strength)
    if base.keys() != model.keys():
        differing = sorted(base.keys() ^ model.keys())
        raise ModelLoadError(
            f"{names[0]} and {names[1]} are not the same network (e.g. {differing[0]!r} is in only one)"
        )
    out = {}
    for key, a in base.items():
        b = model[key]
        if a.shape != b.shape:
            raise ModelLoadError(
                f"{names[0]} and {names[1]} differ in shape at {key!r} ({tuple(a.shape)} vs {tuple(b.shape)})"
            )
        if a.is_floating_point():
            out[key] = (1.0 - strength) * a.float() + strength * b.float()
        else:  # counters such as BatchNorm's num_batches_tracked: the nearer end's
            out[key] = (b if strength >= 0.5 else a).clone()
    return out
