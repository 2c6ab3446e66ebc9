"""What a requested precision means for one model on one device, decided once.

``srgan.runtime.autocast_dtype`` is the package's rule (what ``auto`` means on this CPU or GPU;
fp16 only on CUDA, int8 only on CPUs). Inference refines it here, and nowhere else:
- the architecture decides what it allows (``ArchSpec.half_precision``, ``ArchSpec.int8``);
- the ONNX backend runs in fp32;
- the bf16 gate: ``auto`` picks bf16 only if the model's bf16 output is within ``BF16_MIN_PSNR`` of
  its fp32 output on a built-in image;
- the int8 gate: int8 needs the architecture's int8 form, a calibration carried by the model file,
  the int8 kernels that form runs on (``Int8Form.available``), and an int8 output within
  ``INT8_MIN_PSNR`` of fp32 on that image;
- the 16-bit rule: an image of more than 8 bits per channel runs in fp32 when the precision was
  ``auto`` (bf16 keeps about 8 significant bits).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from srgan.archs import ARCHITECTURES, AnySpec
from srgan.runtime import RuntimeChoiceError, autocast_dtype, precision_name

# auto picks bf16 only if its output is this close to fp32's on a calibration image (PSNR, dB)
BF16_MIN_PSNR = 45.0
# int8 is refused for a model whose int8 output is further than this from fp32 on the same image
INT8_MIN_PSNR = 40.0


@dataclass(frozen=True)
class Precision:
    """The resolved precision: ``dtype`` is the autocast dtype of 8-bit images (None = fp32); with
    ``int8`` it is the dtype of the parts that stay in floating point."""

    requested: str
    dtype: torch.dtype | None
    int8: bool = False

    @property
    def name(self) -> str:
        return "int8" if self.int8 else precision_name(self.dtype)

    def for_bits(self, bits: int) -> torch.dtype | None:
        """The 16-bit rule: more than 8 bits per channel keeps fp32 when the choice was automatic."""
        return None if bits > 8 and self.requested == "auto" else self.dtype


def resolve_precision(
    requested: str,
    device: torch.device,
    spec: AnySpec,
    *,
    onnx: bool = False,
    has_int8_calibration: bool = False,
    bf16_psnr: Callable[[], float],
    int8_psnr: Callable[[torch.dtype | None], float],
) -> Precision:
    """The precision ``requested`` (one of ``runtime.INFERENCE_PRECISIONS``) resolves to for a model
    of ``spec`` on ``device``, or a ``RuntimeChoiceError`` sentence saying why it cannot be had.
    ``bf16_psnr()`` measures the bf16 gate; ``int8_psnr(dtype)`` switches the model to its int8 form
    and measures the int8 gate (both PSNR in dB against fp32 on ``calibration_image``)."""
    # runtime's rule validates the string (the one place it is checked) and refuses fp16 on a CPU, int8 on a GPU
    dtype = autocast_dtype(requested, device)
    if onnx:
        if requested not in ("auto", "fp32"):
            raise RuntimeChoiceError("the ONNX backend runs in fp32")
        return Precision(requested, None)
    if requested in ("bf16", "fp16") and requested not in spec.precisions:
        raise RuntimeChoiceError(f"{spec.title} models run in fp32 only; use --precision fp32")
    if not spec.half_precision:
        dtype = None
    if requested == "int8":
        _check_int8(spec, has_int8_calibration)
        psnr = int8_psnr(dtype)
        if math.isnan(psnr):
            raise RuntimeChoiceError("this model's int8 output on the check image holds NaN; use bf16")
        if psnr < INT8_MIN_PSNR:
            raise RuntimeChoiceError(
                f"this model's int8 output is {psnr:.1f} dB from fp32 on the check image (int8 needs at least "
                f"{INT8_MIN_PSNR:g} dB); use bf16"
            )
        return Precision(requested, dtype, int8=True)
    if requested == "auto" and dtype == torch.bfloat16 and not bf16_psnr() >= BF16_MIN_PSNR:
        return Precision(requested, None)
    return Precision(requested, dtype)


def _check_int8(spec: AnySpec, has_calibration: bool) -> None:
    if spec.int8 is None:
        having = " or ".join(s.title for s in ARCHITECTURES if s.int8 is not None)
        raise RuntimeChoiceError(f"int8 is implemented for {having} models only; use bf16 for this {spec.title} model")
    if not has_calibration:
        raise RuntimeChoiceError(
            "this model file carries no int8 calibration; add one with srgan export --model MODEL "
            "--format safetensors --int8-calibration FOLDER_OF_PHOTOS -o FILE, then use FILE"
        )
    if not spec.int8.available():
        raise RuntimeChoiceError("int8 needs oneDNN's int8 kernels, which this torch build lacks; use bf16")


def calibration_image(size: int = 64) -> torch.Tensor:
    """A fixed natural-looking test image: smooth gradients, hard edges and fine texture."""
    g = torch.Generator().manual_seed(1234)
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    base = torch.stack([x, y, 1 - x * y])
    base[:, size // 4 : size // 2, size // 4 : 3 * size // 4] = torch.tensor([0.9, 0.2, 0.1]).view(3, 1, 1)
    texture = torch.nn.functional.interpolate(
        torch.rand(1, 3, size // 4, size // 4, generator=g), size=size, mode="bilinear"
    )[0]
    return (0.6 * base + 0.4 * texture).clamp(0, 1)


def psnr(reference: torch.Tensor, other: torch.Tensor) -> float:
    """PSNR (dB) of ``other`` against ``reference``, both clamped to [0, 1]; NaN when either holds
    a NaN (so that no gate passes it)."""
    mse = torch.mean((reference.clamp(0, 1) - other.clamp(0, 1)) ** 2).item()
    if math.isnan(mse):
        return math.nan
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)
