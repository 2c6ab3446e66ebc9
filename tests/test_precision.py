"""What a precision resolves to (srgan.inference.precision): runtime's rule, the architecture's
allowance, the bf16 and int8 gates and the 16-bit rule, decided in one function, once per Upscaler."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import srgan.inference.precision as precision_module
from srgan.archs.compact import COMPACT, CompactConfig
from srgan.archs.compact.network import SRVGGNetCompact
from srgan.archs.srresnet import SRRESNET
from srgan.inference.precision import resolve_precision
from srgan.inference.upscaler import Upscaler
from srgan.runtime import RuntimeChoiceError

CPU = torch.device("cpu")


def never(*_: object) -> float:
    raise AssertionError("this gate must not be measured")


def test_auto_is_bf16_only_where_the_gate_passes_and_16_bit_images_keep_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("srgan.runtime.cpu_supports_bf16", lambda: True)
    passed = resolve_precision("auto", CPU, COMPACT, bf16_psnr=lambda: 50.0, int8_psnr=never)
    assert (passed.name, passed.for_bits(8), passed.for_bits(16)) == ("bf16", torch.bfloat16, None)
    assert resolve_precision("auto", CPU, COMPACT, bf16_psnr=lambda: 44.0, int8_psnr=never).name == "fp32"
    assert resolve_precision("auto", CPU, COMPACT, bf16_psnr=lambda: math.nan, int8_psnr=never).name == "fp32"
    asked = resolve_precision("bf16", CPU, COMPACT, bf16_psnr=never, int8_psnr=never)
    assert asked.for_bits(16) == torch.bfloat16, "an explicit bf16 is kept for 16-bit images"


def test_an_architecture_that_runs_in_fp32_only_says_so() -> None:
    fp32_only = dataclasses.replace(COMPACT, half_precision=False)
    with pytest.raises(RuntimeChoiceError, match="SRVGGNetCompact models run in fp32 only"):
        resolve_precision("bf16", CPU, fp32_only, bf16_psnr=never, int8_psnr=never)
    assert resolve_precision("auto", CPU, fp32_only, bf16_psnr=never, int8_psnr=never).name == "fp32"


def test_the_int8_gate_refuses_a_non_finite_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("srgan.archs.srresnet.quantized.int8_available", lambda: True)
    with pytest.raises(RuntimeChoiceError, match="int8 output on the check image holds NaN; use bf16"):
        resolve_precision(
            "int8", CPU, SRRESNET, has_int8_calibration=True, bf16_psnr=never, int8_psnr=lambda dtype: math.nan
        )
    with pytest.raises(RuntimeChoiceError, match="int8 is implemented for srgan SRResNet models only"):
        resolve_precision("int8", CPU, COMPACT, has_int8_calibration=True, bf16_psnr=never, int8_psnr=never)


def test_the_int8_gate_asks_the_architectures_int8_form_whether_its_kernels_exist() -> None:
    """precision.py asks the spec's ``Int8Form.available``, not one architecture's module."""
    assert SRRESNET.int8 is not None
    form = SRRESNET.int8
    without = dataclasses.replace(SRRESNET, int8=dataclasses.replace(form, available=lambda: False))
    with pytest.raises(RuntimeChoiceError, match=r"^int8 needs oneDNN's int8 kernels, which this torch build lacks"):
        resolve_precision("int8", CPU, without, has_int8_calibration=True, bf16_psnr=never, int8_psnr=never)
    # another architecture given an int8 form whose kernels exist passes the gate to the quality check
    compact = dataclasses.replace(COMPACT, int8=dataclasses.replace(form, available=lambda: True))
    got = resolve_precision("int8", CPU, compact, has_int8_calibration=True, bf16_psnr=never, int8_psnr=lambda d: 50.0)
    assert got.name == "int8"


def test_the_precision_string_is_validated_once_per_upscaler(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    rule = precision_module.autocast_dtype

    def counted(precision: str, device: torch.device) -> torch.dtype | None:
        calls.append(precision)
        return rule(precision, device)

    monkeypatch.setattr(precision_module, "autocast_dtype", counted)
    net = SRVGGNetCompact(CompactConfig(num_conv=1, features=4)).eval()
    Upscaler(net, net.config, device="cpu", precision="fp32")
    assert calls == ["fp32"]
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16, fp16, int8; got 'int4'"):
        Upscaler(net, net.config, device="cpu", precision="int4")
