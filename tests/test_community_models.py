"""Community model files (ESRGAN / Real-ESRGAN RRDBNet and SRVGGNetCompact): detection from the
file alone in every layout they are published in, and every srgan feature working for them.
Parity with the real published weights is in test_community_parity.py."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from srgan.archs.compact import CompactConfig
from srgan.archs.compact.network import SRVGGNetCompact
from srgan.archs.rrdb import RRDBConfig
from srgan.archs.rrdb.network import RRDBNet
from srgan.cli import main
from srgan.inference.upscaler import Upscaler
from srgan.modelfiles.loader import ModelLoadError, open_blended, open_model

from .conftest import wait_done


def rrdb(seed: int = 0, **shape: int) -> RRDBNet:
    torch.manual_seed(seed)
    config = RRDBConfig(**{"num_blocks": 2, "features": 8, "growth": 4, **shape})
    return RRDBNet(config).eval()


def compact(seed: int = 0, **shape: int) -> SRVGGNetCompact:
    torch.manual_seed(seed)
    return SRVGGNetCompact(CompactConfig(**{"num_conv": 3, "features": 8, **shape})).eval()


def esrgan_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """BasicSR names -> the original ESRGAN repository's (the inverse of what the loader does)."""
    blocks = len({k.split(".")[1] for k in state if k.startswith("body.")})
    ups = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"conv_up(\d+)\.weight", k)))
    tail = {f"conv_up{u}": 3 * u for u in ups} | {"conv_hr": 3 * len(ups) + 2, "conv_last": 3 * len(ups) + 4}
    out = {}
    for key, value in state.items():
        name, kind = key.rsplit(".", 1)
        if name == "conv_first":
            out[f"model.0.{kind}"] = value
        elif m := re.fullmatch(r"body\.(\d+)\.rdb(\d)\.conv(\d)", name):
            out[f"model.1.sub.{m.group(1)}.RDB{m.group(2)}.conv{m.group(3)}.0.{kind}"] = value
        elif name == "conv_body":
            out[f"model.1.sub.{blocks}.{kind}"] = value
        else:
            out[f"model.{tail[name]}.{kind}"] = value
    return out


@pytest.mark.parametrize(
    ("shape", "scale", "unshuffle"),
    [
        ({"scale": 4}, 4, 1),
        ({"scale": 2, "unshuffle": 2}, 2, 2),
        ({"scale": 1, "unshuffle": 4}, 1, 4),
        ({"scale": 8}, 8, 1),
    ],
)
def test_rrdb_files_are_detected_in_every_layout(
    tmp_path: Path, shape: dict[str, int], scale: int, unshuffle: int
) -> None:
    net = rrdb(**shape)
    state = net.state_dict()
    files = {
        "basicsr.pth": {"params_ema": state, "params": {k: v + 1 for k, v in state.items()}},
        "params.pth": {"params": state},
        "dataparallel.pth": {f"module.{k}": v for k, v in state.items()},
        "plain.safetensors": state,
    }
    if unshuffle == 1:  # the original ESRGAN code had no pixel-unshuffle models
        files["esrgan.pth"] = esrgan_layout(state)
    x = torch.rand(1, 3, 8, 12)
    with torch.no_grad():
        expected = net(x)
    for name, content in files.items():
        if name.endswith(".safetensors"):
            save_file(content, str(tmp_path / name))
        else:
            torch.save(content, tmp_path / name)
        opened = open_model(tmp_path / name)
        assert opened.spec.arch == "rrdb" and opened.spec.config == net.config, name
        assert opened.spec.scale == scale and opened.spec.config.unshuffle == unshuffle
        assert opened.network is not None
        with torch.no_grad():
            assert torch.equal(opened.network(x), expected), f"{name}: the EMA weights, in the right places"


@pytest.mark.parametrize("scale", [1, 2, 3, 4])
def test_compact_files_are_detected_with_their_shape(tmp_path: Path, scale: int) -> None:
    net = compact(scale=scale, num_conv=5, features=12)
    torch.save({"params": net.state_dict()}, tmp_path / "c.pth")
    opened = open_model(tmp_path / "c.pth")
    assert opened.spec.arch == "compact" and opened.spec.config == CompactConfig(scale, 5, 12)
    x = torch.rand(1, 3, 7, 9)
    assert opened.network is not None
    with torch.no_grad():
        assert torch.equal(opened.network(x), net(x))


def test_unreadable_community_files_get_one_sentence(tmp_path: Path) -> None:
    state = compact().state_dict()
    no_prelu = {k: v for k, v in state.items() if v.dim() != 1 or k.endswith(".bias")}
    relabelled = {}
    for i, key in enumerate(sorted(k for k in no_prelu if k.endswith("weight"))):
        relabelled[f"body.{2 * i}.weight"] = no_prelu[key]
    torch.save(relabelled, tmp_path / "relu.pth")
    with pytest.raises(ModelLoadError, match=r"relu\.pth: an SRVGGNetCompact without PReLU after every conv"):
        open_model(tmp_path / "relu.pth")
    broken = dict(rrdb().state_dict())
    del broken["conv_hr.weight"]
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(ModelLoadError, match=r"broken\.pth does not match an srgan rrdb network") as info:
        open_model(tmp_path / "broken.pth")
    assert "\n" not in str(info.value)
    torch.save({"params_ema": {"x": 1}}, tmp_path / "empty.pth")
    with pytest.raises(ModelLoadError, match="holds no model weights"):
        open_model(tmp_path / "empty.pth")


def test_upscaler_runs_them_with_odd_sizes_tiles_alpha_and_16_bit(tmp_path: Path) -> None:
    net = rrdb(scale=2, unshuffle=2)
    torch.save({"params_ema": net.state_dict()}, tmp_path / "x2.pth")
    up = Upscaler.from_pretrained(tmp_path / "x2.pth", precision="fp32")
    x = torch.rand(3, 13, 17)
    whole = up.upscale_tensor(x)
    assert whole.shape == (3, 26, 34), "odd sizes are padded for the unshuffle and cropped back"
    with torch.no_grad():
        even = net(x[None, :, :12, :16])[0]
        padded = net(torch.nn.functional.pad(x[None], (0, 1, 0, 1), mode="replicate"))[0, :, :26, :34]
    assert (up.upscale_tensor(x[:, :12, :16]) - even).abs().max() < 1e-5, "even sizes: the network itself"
    assert (whole - padded).abs().max() < 1e-5, "odd sizes: the edge row and column repeated, then cropped"
    tiled = Upscaler.from_pretrained(tmp_path / "x2.pth", precision="fp32", tile=24, tile_context=4)
    big = torch.rand(3, 41, 37)
    assert tiled.upscale_tensor(big).shape == (3, 82, 74), "tiles of odd sizes are padded one by one"
    rgba = (np.random.default_rng(0).random((9, 11, 4)) * 65535).astype(np.uint16)
    out = up.upscale(rgba)
    assert out.shape == (18, 22, 4) and out.dtype == np.uint16
    assert up.working_set_bytes() > 0 and up.precision == "fp32"


@pytest.mark.parametrize("shape", [{"scale": 4}, {"scale": 8}, {"scale": 1, "unshuffle": 4}])
def test_rrdb_reconstruction_in_row_strips_is_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shape: dict[str, int]
) -> None:
    import srgan.inference.budget as budget

    net = rrdb(**shape)
    torch.save(net.state_dict(), tmp_path / "r.pth")
    monkeypatch.setattr(budget, "STRIP_BYTES", 1)  # strips of the minimum 8 feature rows
    x = torch.rand(3, 84, 20)
    with torch.no_grad():
        expected = net(x[None])[0]
    got = Upscaler.from_pretrained(tmp_path / "r.pth", precision="fp32").upscale_tensor(x)
    assert (got - expected).abs().max() < 1e-5


def test_compact_tiles_are_exact_at_its_receptive_radius(tmp_path: Path) -> None:
    torch.save(compact(scale=3).state_dict(), tmp_path / "c.pth")
    x = torch.rand(3, 40, 37)
    whole = Upscaler.from_pretrained(tmp_path / "c.pth", precision="fp32").upscale_tensor(x)
    tiled = Upscaler.from_pretrained(tmp_path / "c.pth", precision="fp32", tile=24).upscale_tensor(x)
    assert tiled.shape == (3, 120, 111)
    assert (tiled - whole).abs().max() < 1e-5


def test_strength_blends_two_files_of_one_architecture_only(tmp_path: Path) -> None:
    torch.save(compact(seed=1).state_dict(), tmp_path / "a.pth")
    torch.save(compact(seed=2).state_dict(), tmp_path / "b.pth")
    torch.save(rrdb().state_dict(), tmp_path / "r.pth")
    half = open_blended(tmp_path / "a.pth", 0.5, tmp_path / "b.pth")
    a, b = compact(seed=1).state_dict(), compact(seed=2).state_dict()
    assert half.network is not None
    got = half.network.state_dict()
    assert all(torch.allclose(got[k], (a[k] + b[k]) / 2) for k in a)
    with pytest.raises(ModelLoadError, match="are not the same network, so they cannot be blended"):
        open_blended(tmp_path / "a.pth", 0.5, tmp_path / "r.pth")


def test_cli_upscale_eval_and_export_take_a_community_file(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    torch.save({"params_ema": compact(scale=2).state_dict()}, tmp_path / "c.pth")
    torch.save({"params_ema": rrdb(scale=4).state_dict()}, tmp_path / "r.pth")
    data = tmp_path / "hr"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(data / f"{i}.png")
    assert (
        main(["upscale", str(data / "0.png"), "-o", str(tmp_path / "up.png"), "--model", str(tmp_path / "c.pth")]) == 0
    )
    assert Image.open(tmp_path / "up.png").size == (64, 48)
    out = tmp_path / "scores.json"
    assert (
        main(["eval", "--model", str(tmp_path / "c.pth"), "--scale", "2", "--data", str(data), "--json", str(out)]) == 0
    )
    assert out.is_file() and "psnr" in out.read_text().lower()
    for name in ("c", "r"):
        onnx_path = tmp_path / f"{name}.onnx"
        assert main(["export", "--model", str(tmp_path / f"{name}.pth"), "--format", "onnx", "-o", str(onnx_path)]) == 0
        from_onnx = Upscaler.from_pretrained(onnx_path)
        from_torch = Upscaler.from_pretrained(tmp_path / f"{name}.pth", precision="fp32")
        x = torch.rand(3, 10, 14)
        assert (from_onnx.upscale_tensor(x) - from_torch.upscale_tensor(x)).abs().max() < 1e-4
    st = tmp_path / "c.safetensors"
    assert main(["export", "--model", str(tmp_path / "c.pth"), "--format", "safetensors", "-o", str(st)]) == 0
    assert open_model(st).spec.arch == "compact" and open_model(st).spec.file_format == "safetensors"


def test_the_web_page_serves_a_community_file(tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="srgan serve needs the web extra")
    import io

    from fastapi.testclient import TestClient

    from srgan.web.app import ServeConfig, create_app

    torch.save({"params_ema": compact(scale=2).state_dict()}, tmp_path / "anime.pth")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)).save(buf, "PNG")
    app = create_app(ServeConfig([str(tmp_path / "anime.pth")], precision="fp32"))
    with TestClient(app) as client:
        assert client.get("/api/models").json()["models"] == ["anime.pth"]
        r = client.post("/api/upscale", files={"file": ("a.png", buf.getvalue(), "image/png")})
        assert r.status_code == 202, r.text
        job = wait_done(client, r.json()["id"])
        assert job["status"] == "done" and (job["width"], job["height"]) == (48, 32), job
