"""An inference-only form of the generator: same function, less work.

1. Every BatchNorm (eval mode) is folded into the convolution before it.
2. The tail is re-formulated at half resolution. In the paper network the last upsampler
   produces a 64-channel image at full output resolution (PixelShuffle, then PReLU), and a 9x9
   conv reduces it to 3 channels. CPUs run that 64->3 conv poorly and the PReLU and shuffle at
   full resolution are memory-bound (together about 45% of the time, see docs/benchmarks.md).
   Since PReLU is per-channel and PixelShuffle only moves values, PReLU(shuffle(y)) =
   shuffle(PReLU'(y)) with each slope repeated for its 4 sub-pixels; and a 9x9 conv on a
   shuffled image equals a 5x5 conv on the unshuffled one with 4x4 phase-split weights
   (12 = 3 channels x 4 phases out), followed by a 3-channel PixelShuffle. The result is
   equal to the original up to float rounding, and the 64-channel full-resolution tensor
   never exists.
3. ``features`` (the LR-resolution trunk, 64 channels) and ``reconstruct`` (upsamplers and
   tail, where 4x-channel tensors at up to half the output resolution live) are separate, so
   the memory-heavy reconstruction can run in row strips: an output row depends on feature rows
   at most ``RECONSTRUCT_HALO`` = 3 away, so strips with that halo reproduce the whole-image
   result exactly.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from srgan.archs.srresnet import GeneratorConfig
from srgan.archs.srresnet.network import Generator, ResidualBlock, UpsampleBlock


def fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A conv equal to bn(conv(x)) with the BN in eval mode."""
    assert bn.running_var is not None and bn.running_mean is not None
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    # A copy keeps kernel size, stride and padding; only the weights and the bias change.
    fused = copy.deepcopy(conv)
    if fused.bias is None:
        fused.bias = nn.Parameter(torch.zeros(conv.out_channels))
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    assert fused.bias is not None
    with torch.no_grad():
        fused.weight.copy_(conv.weight.detach() * scale[:, None, None, None])
        fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias.detach())
    return fused


def phase_split_tail(tail: nn.Conv2d) -> nn.Conv2d:
    """The 5x5 conv (C*4 -> out*4) on the pre-shuffle tensor equal to ``tail`` (9x9, C -> out)
    applied after PixelShuffle(2). Output channel o*4 + p*2 + q is output phase (p, q) of o."""
    w = tail.weight.detach()
    c_out, c_in, k, _ = w.shape
    r = k // 2  # 4 for the paper's 9x9
    lr_r = (r + 1) // 2  # reach in pre-shuffle pixels: offsets -2..2 for r = 4
    size = 2 * lr_r + 1
    weight = torch.zeros(c_out * 4, c_in * 4, size, size, dtype=w.dtype)
    for p in range(2):
        for q in range(2):
            for a in range(2):
                for b in range(2):
                    for ky in range(size):
                        dy = 2 * (ky - lr_r) + a - p
                        if not -r <= dy <= r:
                            continue
                        for kx in range(size):
                            dx = 2 * (kx - lr_r) + b - q
                            if not -r <= dx <= r:
                                continue
                            weight[p * 2 + q :: 4, a * 2 + b :: 4, ky, kx] = w[:, :, dy + r, dx + r]
    conv = nn.Conv2d(c_in * 4, c_out * 4, size, padding=lr_r, bias=True)
    assert conv.bias is not None
    with torch.no_grad():
        conv.weight.copy_(weight)
        conv.bias.copy_(tail.bias.detach().repeat_interleave(4) if tail.bias is not None else torch.zeros(c_out * 4))
    return conv


class FoldedBlock(nn.Module):
    """A residual block with its BatchNorms folded into the convolutions: x + conv2(act(conv1(x)))."""

    def __init__(self, conv1: nn.Conv2d, act: nn.PReLU, conv2: nn.Conv2d) -> None:
        super().__init__()
        self.conv1, self.act, self.conv2 = conv1, act, conv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class FastGenerator(nn.Module):
    """Equal to ``Generator.eval()`` (within float rounding), for inference and export only."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        g = generator
        self.config: GeneratorConfig = g.config
        self.head = g.head
        blocks = [b for b in g.body if isinstance(b, ResidualBlock)]
        self.body = nn.Sequential(
            *(FoldedBlock(fold_bn(b.conv1, b.bn1), b.act, fold_bn(b.conv2, b.bn2)) for b in blocks)
        )
        conv, bn = g.body_tail
        assert isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
        self.body_tail = fold_bn(conv, bn)
        ups = [u for u in g.upsample if isinstance(u, UpsampleBlock)]
        self.upsample = nn.Sequential(*ups[:-1])
        last = ups[-1]
        self.last_conv = last.conv
        slopes = last.act.weight.detach().repeat_interleave(4)
        self.last_act = nn.PReLU(slopes.numel())
        with torch.no_grad():
            self.last_act.weight.copy_(slopes)
        self.tail = phase_split_tail(g.tail)
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reconstruct(self.features(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk: LR image -> 64-channel LR features (head + residual blocks + long skip)."""
        head = self.head(x)
        return head + self.body_tail(self.body(head))

    def reconstruct(self, features: torch.Tensor) -> torch.Tensor:
        """Upsamplers and tail: features -> the SR image."""
        y = self.last_act(self.last_conv(self.upsample(features)))
        return F.pixel_shuffle(self.tail(y), 2)
