"""Training targets: an HR patch with the grain of its flat areas smoothed away.

Why: in smooth skies and walls a photograph carries film grain or sensor noise (BSD100 3096's sky: a 3 x 3
high-pass RMS of about 1 grey level). No SR can predict that grain from a 4x smaller image, but an adversarial
loss asks for it: the discriminator learns that real smooth areas are grainy, and a deterministic generator,
which cannot draw random grain, draws a regular pattern instead (srgan-x4-real's diagonal hatching of period
4 x 7-8 pixels, docs/models.md). With the grain smoothed out of the target's flat areas, "real" is smooth there
and the discriminator turns against any pattern. Textured areas (edges, foliage, fabric: high-pass RMS of many
grey levels) are left exactly as they are; between the two the target fades from smoothed to original.
The LR is made from the untouched HR: the input stays as real as before, only the target changes.
Piloted (docs/results/srgan_x4_real_ablation.md, seventh session): it took some texture out of skies but left the
hatching's share of it, so the pattern is not only the discriminator's answer to grain; off by default.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from srgan.data.degradations import blur_kernel, filter2d

# Below this local high-pass RMS (8-bit grey levels) a pixel's neighbourhood is flat and its target is
# fully smoothed; above twice it, untouched. Film grain in the benchmark's skies: about 1; texture: 3-20.
FLAT_TARGET_LEVEL = 1.5
# The side of the window over which the local high-pass RMS is taken: a few grain sizes, so the mask
# follows areas rather than single pixels and fades over about this many pixels.
ACTIVITY_WINDOW = 9


def local_activity(image: torch.Tensor) -> torch.Tensor:
    """The RMS over ``ACTIVITY_WINDOW`` x ``ACTIVITY_WINDOW`` pixels and the channels of the 3 x 3
    high-pass residual (image less its 3 x 3 mean) of a (3, H, W) image, as (H, W), in its units."""
    x = image[None].float()
    smooth = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    energy = (x - smooth).pow(2).mean(dim=1, keepdim=True)
    r = ACTIVITY_WINDOW // 2
    return F.avg_pool2d(F.pad(energy, (r, r, r, r), mode="replicate"), ACTIVITY_WINDOW, stride=1).sqrt()[0, 0]


def flat_weight(image: torch.Tensor, level: float = FLAT_TARGET_LEVEL / 255.0) -> torch.Tensor:
    """(H, W) weights in [0, 1]: 1 where ``local_activity`` is at most ``level``, 0 from twice it, linear
    between (a smooth fade, so the target has no seam where smoothing stops)."""
    return (2.0 - local_activity(image) / level).clamp(0.0, 1.0)


def smooth_flat_areas(hr: torch.Tensor, sigma: float) -> torch.Tensor:
    """``hr`` (3, H, W) in [0, 1] with its flat areas (``flat_weight``) replaced by a Gaussian blur of
    ``sigma`` pixels, faded in by the weight; ``sigma`` 0 returns ``hr`` itself. Deterministic: a
    function of the patch alone (the dataset's determinism contract holds)."""
    if sigma <= 0:
        return hr
    size = 2 * math.ceil(3 * sigma) + 1
    blurred = filter2d(hr.float(), blur_kernel("iso", size, sigma, sigma, 0.0, 2.0))
    weight = flat_weight(hr)
    return (hr + weight * (blurred - hr)).to(hr.dtype)
