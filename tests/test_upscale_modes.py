"""Every image mode through `srgan upscale`: round trips, metadata, alpha without halos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srgan.cli import main
from srgan.inference.upscaler import Upscaler

from .conftest import blur_generator

# ---- image modes through the CLI ------------------------------------------------------------


def write_16bit_png(path: Path, arr: np.ndarray) -> None:
    import png

    h, w, c = arr.shape
    with open(path, "wb") as f:
        png.Writer(width=w, height=h, bitdepth=16, greyscale=c in (1, 2), alpha=c in (2, 4)).write(
            f, arr.reshape(h, w * c)
        )


def read_png_depth(path: Path) -> tuple[int, int]:
    import png

    _, _, _, meta = png.Reader(filename=str(path)).read()
    return meta["bitdepth"], meta["planes"]


@pytest.fixture()
def mode_images(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(3)
    rgb = Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    rgb.save(folder / "rgb.png")
    rgb.convert("RGBA").save(folder / "rgba.png")
    rgb.convert("LA").save(folder / "la.png")
    rgb.convert("L").save(folder / "gray.png")
    rgb.convert("P").save(folder / "palette.png")
    rgb.convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(rng.integers(0, 65536, (24, 32), dtype=np.uint16)).save(folder / "gray16.png")
    write_16bit_png(folder / "rgb48.png", rng.integers(0, 65536, (24, 32, 3), dtype=np.uint16))
    write_16bit_png(folder / "rgba64.png", rng.integers(0, 65536, (24, 32, 4), dtype=np.uint16))
    return folder


EXPECTED_MODES = {
    "rgb": ("RGB", 8, 3),
    "rgba": ("RGBA", 8, 4),
    "la": ("LA", 8, 2),
    "gray": ("L", 8, 1),
    "palette": ("RGB", 8, 3),
    "cmyk": ("RGB", 8, 3),
    "gray16": ("I;16", 16, 1),
    "rgb48": (None, 16, 3),
    "rgba64": (None, 16, 4),
}


def test_every_mode_round_trips(mode_images: Path, model_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["upscale", str(mode_images), "-o", str(out), "--model", str(model_file), "-q"]) == 0
    for stem, (mode, depth, planes) in EXPECTED_MODES.items():
        path = out / f"{stem}_x2.png"
        with Image.open(path) as im:
            assert im.size == (64, 48), stem
            if mode is not None:
                assert im.mode in (mode, "I") if mode == "I;16" else im.mode == mode, (stem, im.mode)
        assert read_png_depth(path) == (depth, planes), stem
    # 16-bit precision survives: far more than 256 distinct levels
    import png

    _, _, rows, _ = png.Reader(filename=str(out / "rgb48_x2.png")).asDirect()
    assert len(np.unique(np.vstack(list(rows)))) > 1000


def test_exif_orientation_icc_and_dpi(model_file: Path, tmp_path: Path) -> None:
    im = Image.fromarray(np.random.default_rng(4).integers(0, 256, (20, 30, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    icc = b"\x00" * 128 + b"fake-icc"
    src = tmp_path / "phone.jpg"
    im.save(src, exif=exif.tobytes(), icc_profile=icc, dpi=(72, 72), quality=95)
    assert main(["upscale", str(src), "--model", str(model_file), "-q"]) == 0
    with Image.open(tmp_path / "phone_x2.png") as out:
        assert out.size == (40, 60)  # orientation applied: 30x20 displayed as 20x30
        assert out.info.get("icc_profile") == icc
        assert tuple(round(v) for v in out.info["dpi"]) == (144, 144)
        assert out.getexif().get(0x0112, 1) == 1


def test_alpha_edges_have_no_dark_halo(tmp_path: Path) -> None:
    """A red disk on fully transparent *black*: straight-alpha upscaling mixes the black into
    the visible edge; premultiplied colour keeps it red."""
    g = blur_generator()
    up = Upscaler(g, g.config, device="cpu", precision="fp32")
    yy, xx = np.mgrid[0:40, 0:40]
    alpha = ((yy - 20) ** 2 + (xx - 20) ** 2 < 12**2).astype(np.float32)
    rgba = np.zeros((40, 40, 4), np.float32)
    rgba[..., 0] = alpha  # red where opaque, black (0, 0, 0) where transparent
    rgba[..., 3] = alpha
    out = up.upscale(rgba)
    visible = out[..., 3] > 0.3
    assert visible.sum() > 1000
    premult_red = out[..., 0][visible]
    straight = up.upscale(rgba[..., :3].copy())[..., 0][visible]  # what a straight-alpha tool does
    assert straight.min() < 0.7  # the test can see a halo ...
    assert premult_red.min() > 0.9  # ... and srgan has none
    assert np.abs(out[..., 1:3][visible]).max() < 1e-6  # no hue shift either
