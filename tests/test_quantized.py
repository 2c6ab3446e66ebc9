"""The int8 path (``--precision int8``, srgan.archs.srresnet.quantized): the oneDNN kernels equal the
fake-quantised float network the module docstring derives; calibration, storage, refusals, the gate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from srgan.archs.srresnet.fast import FastGenerator
from srgan.archs.srresnet.quantized import (
    QuantizedConv,
    QuantizedGenerator,
    calibrate,
    conv_names,
    input_grid,
    int8_available,
    quantize_uint8,
    weight_grid,
)
from srgan.cli import main
from srgan.inference.precision import INT8_MIN_PSNR, calibration_image, psnr
from srgan.inference.upscaler import Upscaler
from srgan.modelfiles.loader import open_blended, open_model
from srgan.modelfiles.safetensors import save_generator
from srgan.runtime import RuntimeChoiceError, autocast_dtype

from .conftest import trained_like
from .errors import fails_with_one_sentence

pytestmark = pytest.mark.skipif(not int8_available(), reason="this torch build has no oneDNN int8 convolution")


def channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


def fake_quantised(conv: nn.Conv2d, lo: float, hi: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """The float function the int8 conv must equal: input and weights replaced by their grid values."""
    scale, zero = input_grid(lo, hi)
    w_scale, w_q = weight_grid(conv.weight)

    def run(x: torch.Tensor) -> torch.Tensor:
        x_grid = (torch.clamp(torch.round(x / scale) + zero, 0, 255) - zero) * scale
        return F.conv2d(x_grid, w_q.float() * w_scale[:, None, None, None], conv.bias, padding=conv.padding)

    return run


def test_quantize_uint8_is_the_rounding_formula_in_either_layout() -> None:
    x = torch.randn(1, 8, 9, 7) * 3
    expected = torch.clamp(torch.round(x / 0.02) + 100, 0, 255).to(torch.uint8)
    for t in (x, channels_last(x)):
        q = quantize_uint8(t, 0.02, 100)
        assert q.dtype == torch.uint8 and q.stride() == t.stride()
        assert torch.equal(q, expected)


@pytest.mark.parametrize(("lo", "hi"), [(-0.5, 2.0), (0.3, 2.0), (-3.0, -1.0)])
def test_the_input_grid_holds_zero_exactly_and_covers_the_range(lo: float, hi: float) -> None:
    scale, zero = input_grid(lo, hi)
    assert 0 <= zero <= 255
    assert (0 - zero) * scale <= min(lo, 0.0) + scale / 2 and (255 - zero) * scale >= max(hi, 0.0) - scale / 2


def test_weights_are_symmetric_per_output_channel() -> None:
    w = torch.randn(6, 4, 3, 3) * torch.arange(1, 7).view(6, 1, 1, 1)
    scales, q = weight_grid(w)
    assert q.dtype == torch.int8 and int(q.abs().max()) == 127
    assert torch.equal(q.abs().flatten(1).amax(1), torch.full((6,), 127, dtype=torch.int8))
    assert (q.float() * scales[:, None, None, None] - w).abs().max() <= scales.max() / 2 + 1e-6


@pytest.mark.parametrize("kernel", [3, 5])
def test_an_int8_conv_equals_its_fake_quantised_float_form_borders_included(kernel: int) -> None:
    conv = nn.Conv2d(16, 12, kernel, padding=kernel // 2)
    x = channels_last(torch.rand(1, 16, 13, 11) * 2.5 - 0.4)
    lo, hi = x.min().item(), x.max().item()
    q = QuantizedConv(conv, lo, hi)
    with torch.no_grad():
        expected = fake_quantised(conv, lo, hi)(x)
        assert (q(x) - expected).abs().max() < 1e-4
        accumulator = channels_last(torch.randn(1, 12, 13, 11))
        total = accumulator + expected
        assert (q(x, accumulate=accumulator.clone()) - total).abs().max() < 1e-4


def test_the_quantized_generator_equals_the_fake_quantised_fast_generator() -> None:
    fast = FastGenerator(trained_like(scale=4, blocks=2, channels=16))
    images = [torch.rand(1, 3, 24, 24) for _ in range(3)]
    ranges = calibrate(fast, images)
    reference = FastGenerator(trained_like(scale=4, blocks=2, channels=16))
    modules = dict(reference.named_modules())
    for name in conv_names(reference):
        modules[name].forward = fake_quantised(modules[name], *ranges[name])  # type: ignore[method-assign]
    quantized = QuantizedGenerator(fast, ranges)
    x = channels_last(torch.rand(1, 3, 20, 18))
    with torch.no_grad():
        expected, got = reference(x), quantized(x)
        plain = fast(x)
    assert got.shape == expected.shape == (1, 3, 80, 72)
    # equal up to float rounding (which can move a value across a rounding boundary of the next input)
    assert (got - expected).abs().mean() < 1e-5 and (got - expected).abs().max() < 1e-3
    # and it is not trivially the float network: quantisation moves the output measurably
    assert (plain - expected).abs().max() > 1e-4


def test_calibration_records_each_quantised_input_range_and_missing_ones_are_refused() -> None:
    fast = FastGenerator(trained_like(scale=2, blocks=1, channels=8))
    seen: dict[str, tuple[float, float]] = {}
    modules = dict(fast.named_modules())
    images = [torch.rand(1, 3, 12, 12), torch.rand(1, 3, 10, 14) * 0.5]
    for name in conv_names(fast):
        modules[name].register_forward_pre_hook(
            lambda _m, inputs, name=name: seen.__setitem__(
                name,
                (
                    min(seen.get(name, (9e9, 0))[0], inputs[0].min().item()),
                    max(seen.get(name, (0, -9e9))[1], inputs[0].max().item()),
                ),
            )
        )
    ranges = calibrate(fast, images)
    for image in images:
        fast(image)
    assert ranges == seen and "head.0" not in ranges and set(ranges) == set(conv_names(fast))
    with pytest.raises(ValueError, match="no calibrated input range for body_tail"):
        QuantizedGenerator(fast, {k: v for k, v in ranges.items() if k != "body_tail"})


# ---- the Upscaler, the files, the commands ------------------------------------------------------


def test_the_bundled_models_run_in_int8_close_to_fp32_and_tiles_match_the_whole() -> None:
    int8 = Upscaler.from_pretrained("srresnet-x4", precision="int8", device="cpu")
    assert int8.precision == "int8"
    fp32 = Upscaler.from_pretrained("srresnet-x4", precision="fp32", device="cpu")
    x = calibration_image(120)
    whole = int8.upscale_tensor(x)
    assert psnr(fp32.upscale_tensor(x), whole) > INT8_MIN_PSNR
    tiled = Upscaler.from_pretrained("srresnet-x4", precision="int8", device="cpu", tile=100).upscale_tensor(x)
    assert (tiled - whole).abs().max() < 1e-4


def test_int8_runs_only_on_cpus(model_file: Path) -> None:
    with pytest.raises(RuntimeChoiceError, match="int8 is for CPUs"):
        autocast_dtype("int8", torch.device("cuda"))


def test_a_file_without_calibration_gets_one_sentence_naming_the_export_option(model_file: Path) -> None:
    with pytest.raises(RuntimeChoiceError, match="carries no int8 calibration; add one with srgan export"):
        Upscaler.from_pretrained(model_file, precision="int8", device="cpu")


def test_a_community_model_is_told_int8_is_for_srresnet_not_to_add_a_calibration(tmp_path: Path) -> None:
    from srgan.archs.rrdb import RRDBConfig
    from srgan.archs.rrdb.network import RRDBNet

    path = tmp_path / "rrdb.pth"
    torch.save(RRDBNet(RRDBConfig(num_blocks=1, features=8, growth=4)).state_dict(), path)
    with pytest.raises(
        RuntimeChoiceError,
        match="int8 is implemented for srgan SRResNet models only; use bf16 for this ESRGAN / Real-ESRGAN RRDBNet model",
    ):
        Upscaler.from_pretrained(path, precision="int8", device="cpu")


def test_the_gate_refuses_a_calibration_far_from_fp32(tmp_path: Path) -> None:
    g = trained_like(scale=2, blocks=1, channels=8)
    narrow = {name: (0.0, 1e-3) for name in conv_names(FastGenerator(g))}
    path = tmp_path / "narrow.safetensors"
    save_generator(path, g.state_dict(), g.config, int8_ranges=narrow)
    with pytest.raises(RuntimeChoiceError, match=r"int8 output is .* dB from fp32 on the check image"):
        Upscaler.from_pretrained(path, precision="int8", device="cpu")


def test_export_stores_a_calibration_that_loads_back_and_blends_cover_both_ends(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(photos / f"{i}.png")
    Image.fromarray(rng.integers(0, 256, (30, 30), dtype=np.uint8)).save(photos / "gray.png")
    out = tmp_path / "calibrated.safetensors"
    argv = ["export", "--model", "srresnet-x4", "--format", "safetensors", "--fp16", "-o", str(out)]
    assert main([*argv, "--int8-calibration", str(photos)]) == 0
    opened = open_model(out)
    assert opened.int8_ranges is not None and set(opened.int8_ranges) == set(conv_names(FastGenerator(opened.network)))
    # an export without the option keeps the calibration the source carries (the bundled one here)
    kept = tmp_path / "kept.safetensors"
    assert main(["export", "--model", "srresnet-x4", "--format", "safetensors", "-o", str(kept)]) == 0
    assert open_model(kept).int8_ranges == open_model("srresnet-x4").int8_ranges
    blended = open_blended("srgan-x4", 0.5)
    gan, base = open_model("srgan-x4").int8_ranges, open_model("srresnet-x4").int8_ranges
    assert blended.int8_ranges is not None and gan is not None and base is not None
    for name, (lo, hi) in blended.int8_ranges.items():
        assert lo == min(gan[name][0], base[name][0]) and hi == max(gan[name][1], base[name][1])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "onnx", "--int8-calibration", "{dir}"], "--int8-calibration is stored in safetensors exports"),
        (
            ["--format", "safetensors", "--int8-calibration", "{dir}/nothing"],
            "calibration folder {dir}/nothing does not",
        ),
        (["--format", "safetensors", "--int8-calibration", "{dir}/empty"], "int8 calibration: no image files found in"),
    ],
)
def test_bad_calibration_options_get_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    argv = ["export", "--model", "srresnet-x4", "-o", str(tmp_path / "out.safetensors")]
    fails_with_one_sentence(capsys, [*argv, *(e.format(dir=tmp_path) for e in extra)], message.format(dir=tmp_path))


def test_upscale_and_eval_take_int8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (24, 28, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    out = tmp_path / "out"
    assert (
        main(["upscale", str(tmp_path / "a.png"), "-o", str(out), "--model", "srresnet-x4", "--precision", "int8"]) == 0
    )
    assert Image.open(out / "a_x4.png").size == (112, 96)
    assert "srresnet-x4 (int8, cpu" in capsys.readouterr().out
    hr = tmp_path / "hr"
    hr.mkdir()
    Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(hr / "h.png")
    assert main(["eval", "--model", "srresnet-x4", "--precision", "int8", "--no-niqe", "--data", str(hr)]) == 0
    fails_with_one_sentence(
        capsys, ["eval", "--precision", "int8", "--data", str(hr)], "apply to models, not to bicubic"
    )


def test_serve_runs_int8_and_refuses_an_uncalibrated_model_at_start_up(model_file: Path) -> None:
    pytest.importorskip("fastapi")
    import io

    from fastapi.testclient import TestClient

    from srgan.web.app import ServeConfig, create_app

    from .test_web import png_bytes, wait_done

    config = ServeConfig(["srresnet-x4"], max_pixels=50_000, max_upload_mb=1, max_queue=2, precision="int8")
    with TestClient(create_app(config)) as client:
        r = client.post("/api/upscale", files={"file": ("a.png", png_bytes(), "image/png")})
        assert r.status_code == 202, r.text
        job = wait_done(client, r.json()["id"])
        assert job["status"] == "done"
        assert Image.open(io.BytesIO(client.get(str(job["result"])).content)).size == (96, 64)
    with pytest.raises(ValueError, match="carries no int8 calibration"):
        create_app(ServeConfig([str(model_file)], precision="int8"))
