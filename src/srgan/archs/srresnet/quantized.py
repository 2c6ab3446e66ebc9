"""An int8 inference form of the generator for x86 CPUs (``--precision int8``), built from its fast
form (``FastGenerator``) and calibrated input ranges.

The scheme, and why (measured in issue 17; ``scripts/experiments/int8_simulation.py`` reproduces the numbers):

1. Every 3x3 convolution (trunk, upsamplers) and the phase-split 5x5 tail runs as a
   oneDNN int8 convolution (VNNI on CPUs that have it). Its weights are symmetric per output channel,
   ``w ~ s_w[o] * w_q`` with ``s_w[o] = max|w[o]| / 127`` and ``w_q = round(w / s_w[o])`` in -127..127.
   Its input is rounded to a per-tensor asymmetric 8-bit grid, ``x ~ s_x * (x_q - z)`` with
   ``x_q = clamp(round(x / s_x) + z, 0, 255)``, ``s_x = (hi - lo) / 255``, ``z = round(-lo / s_x)``,
   where [lo, hi] is the calibrated range of that input widened to contain 0 (so that 0, the value of
   the convolution's zero padding, is exactly on the grid).
2. oneDNN sums ``(x_q - z) * w_q`` exactly in int32 and writes ``s_x * s_w[o] * sum + b[o]`` in float.
   The result is therefore the float network whose convolutions see ``s_x * (x_q - z)`` and
   ``s_w * w_q`` instead of ``x`` and ``w`` (the "fake-quantised" network), up to float rounding of
   the last multiply; ``tests/test_quantized.py`` checks exactly that equality.
3. Everything else stays in float: the head (3 input channels: int8 gains little there; it follows
   the caller's autocast), the residual stream and the long skip (quantising them per tensor costs
   about 7 dB, because each block adds a small correction to a large signal), PReLU and PixelShuffle.
   The residual add is fused into the second convolution of each block (oneDNN's ``sum`` post-op:
   one copy of the accumulator instead of a separate add's two reads and a write).
4. The tail in int8 too: in bf16 it took 22% of the time. Quantised, it moves PSNR-Y by less than
   0.005 dB more but raises the Grid score of srresnet-x4 from 0.07 to 0.10 (still below natural
   photographs' 0.12-0.14): on flat areas its input's rounding error is the same at every pixel and
   reaches each output phase through different weights. Rounding weights to keep each kernel
   slice's sum (the other suspect) made it worse (0.14).
5. Why per-tensor asymmetric inputs: the oneDNN kernel takes one scale and zero point per input
   tensor; PReLU outputs are far from symmetric around 0 (most slopes are 0.1 to 0.3), so a
   symmetric int8 grid wastes half its codes (it doubled the PSNR loss in the simulation).

Calibration (``calibrate``) records each convolution's input range over a few images in fp32; the
ranges travel in the model file. ``Upscaler`` refuses a model whose int8 output strays too far from fp32
on its built-in check image (``INT8_MIN_PSNR``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from srgan.archs.base import Ranges
from srgan.archs.srresnet.fast import FastGenerator, FoldedBlock
from srgan.archs.srresnet.network import UpsampleBlock

# torch 2.13 marks its quantised-tensor constructors deprecated (pytorch#184982); quantize_uint8
# uses one only for its fused rounding kernel and returns a plain uint8 tensor, so the warning would
# only confuse users. The filter names that one message.
warnings.filterwarnings(
    "ignore", message=r"torch\.quantize_per_tensor, torch\.quantize_per_channel", category=UserWarning
)


def int8_available() -> bool:
    """True when this torch build has oneDNN's int8 convolution (x86 CPU builds do)."""
    return bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.onednn, "qconv2d_pointwise")


def quantize_uint8(x: torch.Tensor, scale: float, zero: int) -> torch.Tensor:
    """``clamp(round(x / scale) + zero, 0, 255)`` as a plain uint8 tensor of x's shape and layout.

    One fused pass: ``torch.quantize_per_tensor`` rounds in a vectorised kernel (0.2 ms for a 64 x 256
    x 256 map here); its result is read as uint8 through the same storage, because ``int_repr`` would
    copy it (1.1 ms, five times the rounding itself)."""
    q = torch.quantize_per_tensor(x.float(), scale, zero, torch.quint8)
    out = torch.empty((0,), dtype=torch.uint8, device=x.device)
    return out.set_(q.untyped_storage(), q.storage_offset(), q.shape, q.stride())


def input_grid(lo: float, hi: float) -> tuple[float, int]:
    """(scale, zero point) of the uint8 grid for inputs calibrated to [lo, hi] (item 1 above)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max(hi - lo, 1e-8) / 255
    return scale, round(-lo / scale)


def weight_grid(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-output-channel scales, int8 weights) of a conv weight (item 1 above)."""
    w = weight.detach().float().contiguous()  # oneDNN prepacks from the plain (OIHW) layout
    scales = (w.abs().amax(dim=(1, 2, 3)) / 127).clamp_min(1e-12)
    return scales, torch.round(w / scales[:, None, None, None]).clamp(-127, 127).to(torch.int8)


class QuantizedConv(nn.Module):
    """A stride-1 conv as oneDNN int8: uint8 input on a calibrated grid, per-channel int8 weights,
    float output (fp32, or added into a float accumulator in place)."""

    def __init__(self, conv: nn.Conv2d, lo: float, hi: float) -> None:
        super().__init__()
        if conv.stride != (1, 1) or conv.dilation != (1, 1) or conv.groups != 1:
            raise ValueError("QuantizedConv takes stride-1, undilated, ungrouped convolutions")
        self.x_scale, self.x_zero = input_grid(lo, hi)
        w_scale, w_q = weight_grid(conv.weight)
        self.padding = [int(p) for p in conv.padding]  # type: ignore[union-attr]
        self.register_buffer("w_scale", w_scale)
        self.register_buffer("w_zero", torch.zeros(conv.out_channels, dtype=torch.long))
        bias = conv.bias.detach().float() if conv.bias is not None else torch.zeros(conv.out_channels)
        self.register_buffer("bias", bias)
        self.packed = torch.ops.onednn.qconv_prepack(
            w_q, w_scale, self.x_scale, self.x_zero, [1, 1], self.padding, [1, 1], 1, None
        )

    def forward(self, x: torch.Tensor, accumulate: torch.Tensor | None = None) -> torch.Tensor:
        """conv(x), or ``accumulate + conv(x)`` when an fp32 channels-last map to add to is given. The
        add is oneDNN's ``sum`` post-op, which may write into ``accumulate``: pass a map nobody reads
        afterwards, and use the returned tensor."""
        q = quantize_uint8(x, self.x_scale, self.x_zero)
        geometry = ([1, 1], self.padding, [1, 1], 1)
        if accumulate is None:
            return torch.ops.onednn.qconv2d_pointwise(
                q,
                self.x_scale,
                self.x_zero,
                self.packed,
                self.w_scale,
                self.w_zero,
                self.bias,
                *geometry,
                1.0,
                0,
                torch.float32,
                "none",
                [],
                "",
            )
        return torch.ops.onednn.qconv2d_pointwise.binary(
            q,
            self.x_scale,
            self.x_zero,
            self.packed,
            self.w_scale,
            self.w_zero,
            accumulate,
            self.bias,
            *geometry,
            1.0,
            0,
            torch.float32,
            1.0,
            0,
            "sum",
            1.0,
            "none",
            [],
            "",
        )


class _QuantizedBlock(nn.Module):
    def __init__(self, conv1: QuantizedConv, act: nn.PReLU, conv2: QuantizedConv) -> None:
        super().__init__()
        self.conv1, self.act, self.conv2 = conv1, act, conv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + conv2(act(conv1(x))); x is consumed (the sum may be written into it)."""
        return self.conv2(self.act(self.conv1(x)), accumulate=x)


class _QuantizedUpsample(nn.Module):
    def __init__(self, conv: QuantizedConv, act: nn.PReLU) -> None:
        super().__init__()
        self.conv, self.act = conv, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(F.pixel_shuffle(self.conv(x), 2))


class QuantizedGenerator(nn.Module):
    """``FastGenerator`` with int8 convolutions (see the module docstring); CPU inference only."""

    def __init__(self, fast: FastGenerator, ranges: Ranges) -> None:
        super().__init__()
        missing = [name for name in conv_names(fast) if name not in ranges]
        if missing:
            raise ValueError(f"no calibrated input range for {', '.join(missing)}")

        def q(conv: nn.Conv2d, name: str) -> QuantizedConv:
            return QuantizedConv(conv, *ranges[name])

        self.config = fast.config
        self.head = fast.head
        self.body = nn.ModuleList(
            _QuantizedBlock(q(b.conv1, f"body.{i}.conv1"), b.act, q(b.conv2, f"body.{i}.conv2"))
            for i, b in enumerate(fast.body)
            if isinstance(b, FoldedBlock)
        )
        self.body_tail = q(fast.body_tail, "body_tail")
        self.upsample = nn.ModuleList(
            _QuantizedUpsample(q(u.conv, f"upsample.{i}.conv"), u.act)
            for i, u in enumerate(fast.upsample)
            if isinstance(u, UpsampleBlock)
        )
        self.last_conv = q(fast.last_conv, "last_conv")
        self.last_act = fast.last_act
        self.tail = q(fast.tail, "tail")
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reconstruct(self.features(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """head + body_tail(body(head)), the residual stream in fp32. The head follows the caller's
        autocast (bf16 on CPUs with native bf16); the rest is int8 with fp32 between, and autocast
        would only add casts (PReLU to bf16 and back before every quantisation)."""
        # oneDNN's int8 kernels and its sum post-op work on channels-last maps
        head = self.head(x.contiguous(memory_format=torch.channels_last)).float()
        with torch.autocast("cpu", enabled=False):
            y = head.clone()  # the blocks consume their input; head is still needed for the long skip
            for block in self.body:
                y = block(y)
            return self.body_tail(y, accumulate=head)

    def reconstruct(self, features: torch.Tensor) -> torch.Tensor:
        """Upsamplers and tail, as FastGenerator.reconstruct."""
        with torch.autocast("cpu", enabled=False):
            y = features.float()
            for block in self.upsample:
                y = block(y)
            return F.pixel_shuffle(self.tail(self.last_act(self.last_conv(y))), 2)


def conv_names(fast: FastGenerator) -> list[str]:
    """The names (in ``fast.named_modules()``) of the convolutions a QuantizedGenerator quantises."""
    return [n for n, m in fast.named_modules() if isinstance(m, nn.Conv2d) and n != "head.0"]


@torch.no_grad()
def calibrate(fast: FastGenerator, images: Iterable[torch.Tensor]) -> dict[str, tuple[float, float]]:
    """(min, max) of every quantised convolution's input over ``images`` ((1, 3, H, W) in [0, 1]),
    run in fp32; a ValueError naming the convolution whose input is not finite."""
    ranges: dict[str, tuple[float, float]] = {}

    def record(name: str) -> Callable[[nn.Module, tuple[torch.Tensor, ...]], None]:
        def hook(_: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            lo, hi = inputs[0].min().item(), inputs[0].max().item()
            if not (math.isfinite(lo) and math.isfinite(hi)):  # min/max propagate NaN
                raise ValueError(f"the input of {name} is not finite (NaN or infinity) on a calibration image")
            old = ranges.get(name, (lo, hi))
            ranges[name] = (min(old[0], lo), max(old[1], hi))

        return hook

    modules = dict(fast.named_modules())
    handles = [modules[name].register_forward_pre_hook(record(name)) for name in conv_names(fast)]
    try:
        for image in images:
            fast(image.float())
    finally:
        for handle in handles:
            handle.remove()
    return ranges
