"""SPAN, the Swift Parameter-free Attention Network (Wan et al., "Swift Parameter-free Attention
Network for Efficient Super-Resolution", CVPRW 2024; NTIRE 2024 efficient-SR winner).

Every convolution of SPAN is trained as a *Conv3XC*: a 1x1 skip plus a 1x1 -> 3x3 -> 1x1 chain
(the middle one twice as wide). The chain is linear, so at inference it collapses into one 3x3
convolution (``eval_conv``). Published files carry both the trained branches and ``eval_conv``;
like the reference code, srgan recomputes ``eval_conv`` from the branches (on every
``load_state_dict``, so a ``--strength`` blend of two files blends the trained parameters and then
folds; on every switch to eval mode and every ``state_dict``, so a trained network's files and
validation see its branches), and in eval mode the forward pass runs only the folded 3x3
convolutions. In training mode it runs the branches (the 1x1 chain on the zero-padded input, which
is exactly the folded convolution's zero padding) and ``eval_conv`` takes no gradient.

The trunk: a Conv3XC from RGB to ``features``, six SPABs, a Conv3XC, a 1x1 fusion of four maps
(the first features, the last block's output after that Conv3XC, the first block's output and the
sixth block's first activation), then a 3x3 conv to 3 x scale^2 channels and PixelShuffle. A SPAB
is three Conv3XC with SiLU between them and a parameter-free attention: (out + x) * (sigmoid(out)
- 1/2). The input is centred on DIV2K's mean and multiplied by 255 (unless the file says
``no_norm``); the output is used as it comes.

Module names follow the published files (``conv_1.sk``, ``block_1.c1_r.conv.0``, ...).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from srgan.archs.span import SPAN_BLOCKS, SPAN_SCALES, SPANConfig

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


class Conv3XC(nn.Module):
    """A 3x3 convolution trained as 1x1 skip + (1x1 -> 3x3 -> 1x1); runs as its folded ``eval_conv``."""

    def __init__(self, c_in: int, c_out: int, gain: int = 2) -> None:
        super().__init__()
        self.sk = nn.Conv2d(c_in, c_out, 1)
        self.conv = nn.Sequential(
            nn.Conv2d(c_in, c_in * gain, 1), nn.Conv2d(c_in * gain, c_out * gain, 3), nn.Conv2d(c_out * gain, c_out, 1)
        )
        self.eval_conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.eval_conv.requires_grad_(False)  # derived from the branches (``fold``), never trained itself

    @torch.no_grad()
    def fold(self) -> None:
        """eval_conv := the single 3x3 convolution equal to sk + conv (composition of linear maps)."""
        convs: list[nn.Conv2d] = list(self.conv)  # type: ignore[arg-type]
        first, middle, last = (c.weight.double() for c in convs)
        b1, b2, b3 = (_bias(c) for c in convs)
        # 1x1 then 3x3: mix the input channels first, then the 3x3 taps
        w = torch.einsum("omhw,mi->oihw", middle, first[:, :, 0, 0])
        b = b2 + torch.einsum("omhw,m->o", middle, b1)
        # then the last 1x1
        w = torch.einsum("po,oihw->pihw", last[:, :, 0, 0], w)
        b = b3 + last[:, :, 0, 0] @ b
        w = w + F.pad(self.sk.weight.double(), (1, 1, 1, 1))
        b = b + _bias(self.sk)
        self.eval_conv.weight.copy_(w)
        assert self.eval_conv.bias is not None
        self.eval_conv.bias.copy_(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.conv(F.pad(x, (1, 1, 1, 1))) + self.sk(x)
        return self.eval_conv(x)


class SPAB(nn.Module):
    """Three Conv3XC with SiLU, then the parameter-free attention."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.c1_r = Conv3XC(features, features)
        self.c2_r = Conv3XC(features, features)
        self.c3_r = Conv3XC(features, features)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the block's output, its first activation)."""
        first = F.silu(self.c1_r(x))
        out = self.c3_r(F.silu(self.c2_r(first)))
        return (out + x) * (torch.sigmoid(out) - 0.5), first


class SPAN(nn.Module):
    def __init__(self, config: SPANConfig) -> None:
        super().__init__()
        if config.scale not in SPAN_SCALES:
            raise ValueError(f"scale must be one of {SPAN_SCALES}, got {config.scale}")
        self.config = config
        f = config.features
        if not config.norm:
            self.register_buffer("no_norm", torch.zeros(1))  # the published files' marker
        self.mean: torch.Tensor
        # one value per channel, 1-d: a (1, 3, 1, 1) buffer placed channels_last gets strides DDP's buffer
        # broadcast cannot copy back into when it is a network's only buffer
        self.register_buffer("mean", torch.tensor(DIV2K_MEAN), persistent=False)
        self.conv_1 = Conv3XC(config.in_channels, f)
        for i in range(1, SPAN_BLOCKS + 1):
            self.add_module(f"block_{i}", SPAB(f))
        self.conv_cat = nn.Conv2d(4 * f, f, 1)
        self.conv_2 = Conv3XC(f, f)
        self.upsampler = nn.Sequential(
            nn.Conv2d(f, config.out_channels * config.scale**2, 3, padding=1), nn.PixelShuffle(config.scale)
        )
        self.fold()  # a new network is consistent too, not only a loaded one
        self.register_load_state_dict_post_hook(_refold)
        self.register_state_dict_pre_hook(_fold_before_saving)

    @property
    def scale(self) -> int:
        return self.config.scale

    def train(self, mode: bool = True) -> SPAN:
        """Eval mode runs ``eval_conv``: fold the (possibly just trained) branches into it."""
        super().train(mode)
        if not mode:
            self.fold()
        return self

    def fold(self) -> None:
        for module in self.modules():
            if isinstance(module, Conv3XC):
                module.fold()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.norm:
            x = (x - self.mean.to(x.dtype).view(1, -1, 1, 1)) * 255.0
        first = self.conv_1(x)
        out = first
        early = last_first = first
        for i in range(1, SPAN_BLOCKS + 1):
            out, act = getattr(self, f"block_{i}")(out)
            if i == 1:
                early = out
            last_first = act
        out = self.conv_2(out)
        return self.upsampler(self.conv_cat(torch.cat([first, out, early, last_first], 1)))


def _bias(conv: nn.Conv2d) -> torch.Tensor:
    assert conv.bias is not None
    return conv.bias.double()


def _refold(module: nn.Module, _incompatible: Any) -> None:
    assert isinstance(module, SPAN)
    module.fold()


def _fold_before_saving(module: nn.Module, _prefix: str, _keep_vars: bool) -> None:
    assert isinstance(module, SPAN)
    module.fold()
