"""The one image codec: policies, conversions, and 16 bits kept on every path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import png
import pytest
import torch
from PIL import Image

from srgan.imageio import (
    ImageData,
    ImageReadError,
    ReadPolicy,
    image_size,
    read_image,
    read_tensor,
    write_image,
)


def write_png16(path: Path, arr: np.ndarray) -> None:
    h, w, c = arr.shape
    with open(path, "wb") as f:
        png.Writer(width=w, height=h, bitdepth=16, greyscale=False, alpha=c == 4).write(f, arr.reshape(h, w * c))


@pytest.fixture
def png16(tmp_path: Path) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 65536, (40, 48, 3), dtype=np.uint16)
    arr[0, 0] = (257 * 100 + 77, 0, 65535)  # a value between two 8-bit levels
    write_png16(tmp_path / "c16.png", arr)
    return tmp_path / "c16.png", arr


def test_a_16bit_colour_png_keeps_16_bits_on_every_path(png16: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, arr = png16
    expected = torch.from_numpy(arr.astype(np.float32) / 65535).permute(2, 0, 1)
    # training / evaluation reader
    pixels = read_tensor(path)
    assert pixels.dtype == torch.float32
    torch.testing.assert_close(pixels, expected, atol=1e-7, rtol=0)
    # the training dataset (cached and not) hands out 16-bit precision patches
    from srgan.data.dataset import SRTrainDataset

    for cache in (False, True):
        hr = SRTrainDataset([tmp_path], 4, 16, augment=False, cache=cache)[0].hr
        levels = hr * 65535
        assert torch.allclose(levels, levels.round(), atol=0.02)
        assert not torch.allclose(hr * 255, (hr * 255).round(), atol=1e-3), "rounded to 8 bits"
    # upscaling reader and writer round-trip 16 bits
    data = read_image(path)
    assert data.bits == 16 and data.to_numpy().dtype == np.uint16
    np.testing.assert_array_equal(data.to_numpy(), arr)
    write_image(tmp_path / "out.png", data, "png")
    np.testing.assert_array_equal(read_image(tmp_path / "out.png").to_numpy(), arr)


def test_policies_drop_alpha_and_replicate_gray(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 10
    Image.fromarray(rgba).save(tmp_path / "a.png")
    Image.fromarray(np.full((8, 8), 90, np.uint8)).save(tmp_path / "g.png")
    kept = read_image(tmp_path / "a.png")
    assert kept.alpha is not None and kept.pixels.dtype == torch.uint8
    dropped = read_image(tmp_path / "a.png", ReadPolicy(alpha="drop"))
    assert dropped.alpha is None and int(dropped.pixels[0, 0, 0]) == 200, "colour kept as stored"
    gray = read_image(tmp_path / "g.png")
    assert gray.pixels.shape[0] == 1 and gray.gray and gray.rgb.shape[0] == 3
    replicated = read_image(tmp_path / "g.png", ReadPolicy(gray="replicate"))
    assert replicated.pixels.shape[0] == 3 and not replicated.gray


def test_one_decompression_bomb_policy_checked_on_the_header(tmp_path: Path) -> None:
    Image.new("RGB", (300, 200)).save(tmp_path / "x.png")
    with pytest.raises(ImageReadError, match=r"300x200 = 60,000 pixels exceeds the limit of 59,999"):
        read_image(tmp_path / "x.png", ReadPolicy(max_pixels=59_999))
    assert image_size(tmp_path / "x.png") == (300, 200)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_numpy_and_tensor_round_trips(channels: int, dtype: type) -> None:
    rng = np.random.default_rng(channels)
    peak = np.iinfo(dtype).max
    shape = (5, 6) if channels == 1 else (5, 6, channels)
    arr = rng.integers(0, peak + 1, shape, dtype=dtype)
    data = ImageData.from_numpy(arr)
    assert data.gray == (channels in (1, 2)) and (data.alpha is not None) == (channels in (2, 4))
    np.testing.assert_array_equal(data.to_numpy(), arr)
    t = torch.from_numpy(arr.astype(np.float32) / peak)
    t = t[None] if t.dim() == 2 else t.permute(2, 0, 1)
    np.testing.assert_array_equal(ImageData.from_tensor(t, 16 if dtype == np.uint16 else 8).to_numpy(), arr)


def test_pil_round_trip_keeps_icc_and_scales_dpi_once() -> None:
    im = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    im.info["dpi"] = (72.0, 96.0)
    data = ImageData.from_pil(im)
    bigger = data.scaled(data.rgb.repeat_interleave(2, 1).repeat_interleave(2, 2), None, 2, 2)
    assert bigger.info["dpi"] == (144.0, 192.0) and data.info["dpi"] == (72.0, 96.0)
    np.testing.assert_array_equal(np.asarray(data.to_pil()), np.asarray(im))
