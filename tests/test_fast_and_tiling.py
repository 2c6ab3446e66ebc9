"""The folded fast generator, tiling and strip reconstruction: equal to the paper network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from srgan.archs.srresnet import receptive_radius
from srgan.archs.srresnet.fast import FastGenerator
from srgan.inference import budget
from srgan.inference.tiling import upscale_tiled, upscale_with_backoff
from srgan.inference.upscaler import Upscaler

from .conftest import trained_like

# ---- the fast generator and tiling ------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_fast_generator_equals_the_paper_network(scale: int) -> None:
    g = trained_like(scale=scale)
    x = torch.rand(2, 3, 17, 23)
    with torch.no_grad():
        torch.testing.assert_close(FastGenerator(g)(x), g(x), atol=1e-5, rtol=1e-5)


def test_fast_generator_has_no_batchnorm_and_no_full_resolution_64_channel_tensor() -> None:
    fast = FastGenerator(trained_like())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert fast.tail.out_channels == 12 and fast.tail.kernel_size == (5, 5)


def test_tiled_equals_untiled_within_one_level() -> None:
    g = trained_like(scale=4, blocks=3)
    fast = FastGenerator(g)
    x = torch.rand(3, 70, 101)
    with torch.no_grad():
        full = fast(x[None])[0]
        tiled = upscale_tiled(x, fast, 4, tile=64, margin=receptive_radius(g.config), blend=8, batch=2)
    assert (tiled - full).abs().max() <= 1 / 255
    assert (tiled - full).abs().max() < 1e-5  # with the full receptive margin it is exact


def test_upscaler_tiles_agree_with_a_single_pass(model_file: Path) -> None:
    image = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    whole = Upscaler.from_pretrained(model_file, precision="fp32", tile=512).upscale(image)
    tiled = Upscaler.from_pretrained(model_file, precision="fp32", tile=40).upscale(image)
    assert whole.shape == (180, 240, 3)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


def test_out_of_memory_shrinks_the_tile_and_retries() -> None:
    fast = FastGenerator(trained_like(scale=2))
    calls: list[int] = []

    def fussy(batch: torch.Tensor) -> torch.Tensor:
        calls.append(max(batch.shape[-2:]))
        if max(batch.shape[-2:]) > 40:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        with torch.no_grad():
            return fast(batch)

    retries: list[tuple[int, int]] = []
    x = torch.rand(3, 60, 70)
    out = upscale_with_backoff(x, fussy, 2, tile=128, margin=8, on_retry=lambda t, b: retries.append((t, b)))
    with torch.no_grad():
        torch.testing.assert_close(out, fast(x[None])[0], atol=1e-4, rtol=0)
    assert [t for t, _ in retries] == [64, 32]
    assert max(calls[-3:]) <= 40

    def always(batch: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("out of memory")

    with pytest.raises(MemoryError, match="out of memory even with"):
        upscale_with_backoff(x, always, 2, tile=64, margin=8)
    with pytest.raises(ValueError, match="unrelated"):  # other errors are not swallowed
        upscale_with_backoff(x, lambda b: (_ for _ in ()).throw(ValueError("unrelated")), 2, tile=64, margin=8)


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_strip_reconstruction_is_exact(scale: int, monkeypatch: pytest.MonkeyPatch) -> None:
    g = trained_like(scale=scale)
    up = Upscaler(g, g.config, device="cpu", precision="fp32", tile=4096)
    x = torch.rand(3, 45, 30)
    monkeypatch.setattr(budget, "strip_rows", lambda width, strips: 7)  # many strips, odd height
    strips = up.upscale_tensor(x)
    with torch.no_grad():
        whole = g(x[None])[0]
    torch.testing.assert_close(strips, whole, atol=2e-5, rtol=0)
