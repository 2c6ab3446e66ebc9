"""Upscaler: precision choice, the Python API, thread safety."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan.imageio import read_image
from srgan.inference.upscaler import Upscaler

# ---- precision ----------------------------------------------------------------------------


def test_auto_precision_never_picks_fp16_on_cpu_and_fp16_is_refused(model_file: Path) -> None:
    up = Upscaler.from_pretrained(model_file, device="cpu", precision="auto")
    assert up.precision in ("fp32", "bf16")
    with pytest.raises(ValueError, match="fp16 is for CUDA GPUs"):
        Upscaler.from_pretrained(model_file, device="cpu", precision="fp16")


def test_auto_picks_bf16_only_when_it_is_visually_identical(model_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import srgan.runtime as mod

    monkeypatch.setattr(mod, "cpu_supports_bf16", lambda: True)
    monkeypatch.setattr(Upscaler, "bf16_psnr", lambda self: 44.0)
    assert Upscaler.from_pretrained(model_file, device="cpu").precision == "fp32"
    monkeypatch.setattr(Upscaler, "bf16_psnr", lambda self: 50.0)
    assert Upscaler.from_pretrained(model_file, device="cpu").precision == "bf16"
    monkeypatch.setattr(mod, "cpu_supports_bf16", lambda: False)
    assert Upscaler.from_pretrained(model_file, device="cpu").precision == "fp32"


# ---- non-finite weights ---------------------------------------------------------------------


def _poisoned_copy(source: Path, target: Path) -> str:
    """``source`` with one weight set to NaN, saved as ``target`` with the same metadata; the tensor's name."""
    from safetensors.torch import save_file

    from srgan.modelfiles.safetensors import read_safetensors

    state, meta = read_safetensors(source)
    key = next(k for k, v in state.items() if v.is_floating_point() and k.endswith("weight"))
    state[key].view(-1)[0] = float("nan")
    save_file(state, str(target), metadata=meta)
    return key


def test_a_nan_model_file_is_refused_through_every_entry_path(
    tmp_path: Path, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader's check refuses it, whether named as a file, a blend partner or a bundled model."""
    import hashlib
    import json
    import shutil

    from srgan.modelfiles import bundled
    from srgan.modelfiles.loader import ModelLoadError

    nan_file = tmp_path / "nan.safetensors"
    key = _poisoned_copy(model_file, nan_file)
    refused = rf"nan\.safetensors: tensor {key} holds NaN or infinite values; the model file is damaged"
    for model, base in ((nan_file, None), (model_file, nan_file), (nan_file, model_file)):
        with pytest.raises(ModelLoadError, match=refused):
            Upscaler.from_pretrained(model, precision="fp32", strength=1.0 if base is None else 0.5, blend_with=base)
    # a bundled base whose file matches its card's sha256 but holds a NaN: refused when srgan-x4 blends with it
    weights = tmp_path / "weights"
    weights.mkdir()
    for name in ("srgan-x4", "srresnet-x4"):
        shutil.copy(bundled._weights_dir() / f"{name}.json", weights)
    shutil.copy(bundled.bundled_path("srgan-x4"), weights)  # type: ignore[arg-type]
    damaged = weights / "srresnet-x4.safetensors"
    key = _poisoned_copy(bundled.bundled_path("srresnet-x4"), damaged)  # type: ignore[arg-type]
    card = json.loads((weights / "srresnet-x4.json").read_text())
    card["sha256"] = hashlib.sha256(damaged.read_bytes()).hexdigest()
    (weights / "srresnet-x4.json").write_text(json.dumps(card))
    monkeypatch.setattr(bundled, "_weights_dir", lambda: weights)
    refused = rf"srresnet-x4\.safetensors: tensor {key} holds NaN or infinite values"
    with pytest.raises(ModelLoadError, match=refused):
        Upscaler.from_pretrained("srresnet-x4", precision="fp32")
    with pytest.raises(ModelLoadError, match=refused):
        Upscaler.from_pretrained("srgan-x4", precision="fp32", strength=0.5)


def test_each_weight_file_is_checked_for_nan_once(model_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader refuses non-finite tensors; the Upscaler it hands a network to does not read them again."""
    import srgan.inference.upscaler as upscaler_module
    import srgan.modelfiles.loader as loader_module
    from srgan.archs.base import first_non_finite
    from srgan.archs.compact import CompactConfig
    from srgan.archs.compact.network import SRVGGNetCompact

    checked: list[int] = []

    def counted(state: object) -> str | None:
        checked.append(1)
        return first_non_finite(state)  # type: ignore[arg-type]

    monkeypatch.setattr(loader_module, "first_non_finite", counted)
    monkeypatch.setattr(upscaler_module, "first_non_finite", counted)
    Upscaler.from_pretrained(model_file, precision="fp32")
    assert len(checked) == 1
    Upscaler.from_pretrained(model_file, precision="fp32", strength=0.5, blend_with=model_file)
    assert len(checked) == 3, "one check per file of the blend"
    net = SRVGGNetCompact(CompactConfig(num_conv=1, features=4)).eval()
    Upscaler(net, net.config, device="cpu", precision="fp32")
    assert len(checked) == 4, "a network handed in directly is checked by the Upscaler"


# ---- Python API ---------------------------------------------------------------------------


def test_api_returns_the_kind_it_was_given(model_file: Path) -> None:
    up = Upscaler.from_pretrained(model_file, precision="fp32")
    rng = np.random.default_rng(1)
    rgb8 = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out8 = up.upscale(rgb8)
    assert out8.dtype == np.uint8 and out8.shape == (40, 60, 3)
    out16 = up.upscale(rgb8.astype(np.uint16) * 257)
    assert out16.dtype == np.uint16 and np.abs(out16.astype(int) // 257 - out8.astype(int)).max() <= 1
    outf = up.upscale(rgb8.astype(np.float32) / 255)
    assert outf.dtype == np.float32 and np.abs(outf * 255 - out8).max() <= 1
    gray = up.upscale(rng.integers(0, 256, (20, 30), dtype=np.uint8))
    assert gray.shape == (40, 60)
    pil = up.upscale(Image.fromarray(rgb8))
    assert isinstance(pil, Image.Image) and pil.size == (60, 40) and pil.mode == "RGB"
    assert np.array_equal(np.asarray(pil), out8)
    t = up.upscale(torch.from_numpy(rgb8).permute(2, 0, 1).float() / 255)
    assert isinstance(t, torch.Tensor) and t.shape == (3, 40, 60)
    tb = up.upscale(torch.rand(2, 3, 10, 12))
    assert tb.shape == (2, 3, 20, 24)
    with pytest.raises(TypeError):
        up.upscale("photo.png")  # type: ignore[arg-type]


def test_upscale_is_thread_safe(model_file: Path) -> None:
    up = Upscaler.from_pretrained(model_file, precision="fp32", tile=48)
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, (50 + i, 60, 3), dtype=np.uint8) for i in range(4)]
    expected = [up.upscale(im) for im in images]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        results[i] = up.upscale(images[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, e in enumerate(expected):
        assert np.array_equal(results[i], e)


@pytest.mark.slow
def test_bf16_is_visually_identical_on_the_benchmark_images() -> None:
    """With the bundled model, bf16 output is >= 45 dB PSNR from fp32 on Set5/Set14 (the rule
    precision=auto follows)."""
    from srgan.modelfiles.bundled import default_model

    from .conftest import shared_path

    name = default_model()
    if name is None:
        pytest.skip("no bundled model in this checkout")
    fp32 = Upscaler.from_pretrained(name, precision="fp32")
    bf16 = Upscaler.from_pretrained(name, precision="bf16")
    for folder in ("Set5", "Set14"):
        for path in sorted(shared_path("data", "benchmark", folder).glob("*.png")):
            image = read_image(path).rgb
            a, b = fp32.upscale_tensor(image).clamp(0, 1), bf16.upscale_tensor(image).clamp(0, 1)
            a, b = (a * 255).round(), (b * 255).round()
            psnr = 10 * np.log10(255**2 / max(torch.mean((a - b) ** 2).item(), 1e-12))
            assert psnr >= 45, f"{path.name}: {psnr:.1f} dB"
