"""The pretrained models shipped in the package: present, intact, loadable, and as good as their
cards say (Set5 by the standard protocol, to 0.05 dB), so a regression in the code or the
weights cannot land silently."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from srgan import Upscaler
from srgan.evaluation.protocol import iter_samples, score
from srgan.modelfiles import bundled
from srgan.modelfiles.loader import ModelLoadError, load_generator

from .conftest import shared_path, wait_done

# Measured by `srgan eval --model NAME --scale 4 --data ../shared/data/benchmark/Set5` when the
# models were bundled (docs/results/NAME.eval.json); PSNR-Y in dB, SSIM-Y.
EXPECTED_SET5 = {
    "srresnet-x4": (30.9565, 0.8744),
    "srgan-x4": (29.7978, 0.8499),
    "srgan-x4-v1": (29.5526, 0.8519),
    "srresnet-x4-real": (30.4826, 0.8637),
    "srgan-x4-real": (29.4932, 0.8422),
}


@pytest.mark.parametrize("name", list(bundled.BUNDLED))
def test_bundled_model_is_shipped_with_a_matching_card(name: str) -> None:
    path = bundled.bundled_path(name)
    assert path is not None, f"{name} is missing from src/srgan/weights"
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert card["name"] == name and card["scale"] == 4
    assert {"Set5", "Set14", "BSD100"} <= set(card["metrics"])
    assert bundled.verify_bundled(name) is None
    assert load_generator(name).config.scale == 4


def test_default_model_is_srgan_x4() -> None:
    assert bundled.default_model() == "srgan-x4"


def test_damaged_bundled_file_is_refused_with_a_sentence(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    weights = tmp_path / "weights"
    shutil.copytree(bundled._weights_dir(), weights)
    damaged = weights / bundled.BUNDLED["srgan-x4"]
    data = bytearray(damaged.read_bytes())
    data[-1] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(bundled, "_weights_dir", lambda: weights)
    with pytest.raises(ModelLoadError, match=r"damaged.*reinstall"):
        load_generator("srgan-x4")
    assert load_generator("srresnet-x4") is not None


def test_models_command_lists_every_model_with_metrics_in_aligned_columns() -> None:
    out = subprocess.run([sys.executable, "-m", "srgan", "models"], capture_output=True, text=True, check=True).stdout
    rows = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    for name in bundled.BUNDLED:
        card = json.loads((bundled._weights_dir() / f"{name}.json").read_text())
        line = rows[name]
        assert f"{card['metrics']['Set5']['psnr_y']:.2f}" in line
        assert f"{card['metrics']['BSD100']['psnr_y']:.2f}" in line
    assert len({line.index(" x4 ") for name, line in rows.items() if name in bundled.BUNDLED}) == 1, out
    assert "--strength S blends it with its fidelity base srresnet-x4" in out, "the card's base is shown"


@pytest.mark.parametrize("name", list(bundled.BUNDLED))
def test_bundled_model_scores_its_set5_numbers(name: str) -> None:
    folder = shared_path("data", "benchmark", "Set5")
    g = load_generator(name)
    with torch.inference_mode():
        scores = [score(g(s.lr.float()), s, 4, with_niqe=False)[0] for s in iter_samples(folder, 4)]
    psnr, ssim = float(np.mean([s.psnr_y for s in scores])), float(np.mean([s.ssim_y for s in scores]))
    expected_psnr, expected_ssim = EXPECTED_SET5[name]
    assert abs(psnr - expected_psnr) < 0.05, f"{name}: Set5 PSNR-Y {psnr:.3f}, expected {expected_psnr}"
    assert abs(ssim - expected_ssim) < 0.002
    card = json.loads((bundled._weights_dir() / f"{name}.json").read_text())
    assert abs(card["metrics"]["Set5"]["psnr_y"] - expected_psnr) < 0.005, "card and test disagree"


def test_upscaler_default_runs_the_bundled_srgan() -> None:
    image = (np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)
    out = Upscaler.from_pretrained().upscale(image)
    assert out.shape == (80, 96, 3) and out.dtype == np.uint8


def test_upscale_command_uses_srgan_x4_by_default(tmp_path: Path) -> None:
    from PIL import Image

    src = tmp_path / "small.png"
    Image.fromarray((np.random.default_rng(1).random((16, 20, 3)) * 255).astype(np.uint8)).save(src)
    run = subprocess.run(
        [sys.executable, "-m", "srgan", "upscale", str(src)], capture_output=True, text=True, check=True
    )
    assert "srgan-x4" in run.stdout
    with Image.open(tmp_path / "small_x4.png") as out:
        assert out.size == (80, 64)


def test_the_real_photo_gan_is_usable_by_name_from_python_the_cli_and_the_web_page(tmp_path: Path) -> None:
    """srgan-x4-real (issue 15) by its name alone, blendable towards its PSNR sibling srresnet-x4-real."""
    from PIL import Image

    image = (np.random.default_rng(2).random((16, 20, 3)) * 255).astype(np.uint8)
    full = Upscaler.from_pretrained("srgan-x4-real", precision="fp32").upscale(image)
    calm = Upscaler.from_pretrained("srgan-x4-real", precision="fp32", strength=0.0).upscale(image)
    base = Upscaler.from_pretrained("srresnet-x4-real", precision="fp32").upscale(image)
    assert full.shape == (64, 80, 3) and np.array_equal(calm, base), "strength 0 is the fidelity base itself"
    assert not np.array_equal(full, base)

    src = tmp_path / "photo.png"
    Image.fromarray(image).save(src)
    cmd = [sys.executable, "-m", "srgan", "upscale", str(src), "--model", "srgan-x4-real", "--precision", "fp32"]
    subprocess.run(cmd, capture_output=True, text=True, check=True)
    with Image.open(tmp_path / "photo_x4.png") as out:
        assert out.size == (80, 64)

    pytest.importorskip("fastapi", reason="the web page needs the web extra")
    from fastapi.testclient import TestClient

    from srgan.web.app import ServeConfig, create_app

    with TestClient(create_app(ServeConfig(bundled.bundled_names(), precision="fp32"))) as client:
        info = client.get("/api/models").json()
        assert "srgan-x4-real" in info["models"] and info["blendable"]["srgan-x4-real"] == "srresnet-x4-real"
        with (tmp_path / "photo.png").open("rb") as f:
            r = client.post("/api/upscale", files={"file": ("p.png", f, "image/png")}, data={"model": "srgan-x4-real"})
        assert r.status_code == 202, r.text
        job = wait_done(client, r.json()["id"])
        assert job["status"] == "done" and (job["width"], job["height"]) == (80, 64), job
