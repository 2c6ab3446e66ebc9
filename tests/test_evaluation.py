from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan.cli import main
from srgan.evaluation.protocol import bicubic, iter_samples, score, score_legacy_y_bicubic
from srgan.models import Generator

from .conftest import shared_path

# Published bicubic baselines, PSNR-Y (dB) / SSIM-Y (e.g. Kim et al. VDSR, Lim et al. EDSR tables).
PUBLISHED = {
    (2, "Set5"): (33.66, 0.9299),
    (2, "Set14"): (30.24, 0.8688),
    (2, "BSD100"): (29.56, 0.8431),
    (3, "Set5"): (30.39, 0.8682),
    (3, "Set14"): (27.55, 0.7742),
    (3, "BSD100"): (27.21, 0.7385),
    (4, "Set5"): (28.42, 0.8104),
    (4, "Set14"): (26.00, 0.7027),
    (4, "BSD100"): (25.96, 0.6675),
}


# BSD100 at x2 and x3 (16-20 s each) run in the slow suite; x4 BSD100 and every Set5/Set14 case stay in the default one
@pytest.mark.parametrize(
    ("scale", "dataset"),
    [pytest.param(*key, marks=pytest.mark.slow) if key[1] == "BSD100" and key[0] != 4 else key for key in PUBLISHED],
)
def test_bicubic_reproduces_published_baselines(scale: int, dataset: str) -> None:
    folder = shared_path("data", "benchmark", dataset)
    upscale = bicubic(scale)
    rgb, legacy = [], []
    for sample in iter_samples(folder, scale):
        rgb.append(score(upscale(sample.lr), sample, scale, with_niqe=False)[0])
        legacy.append(score_legacy_y_bicubic(sample, scale))
    want_psnr, want_ssim = PUBLISHED[(scale, dataset)]
    assert np.mean([s.psnr_y for s in rgb]) == pytest.approx(want_psnr, abs=0.03)
    assert np.mean([s.ssim_y for s in rgb]) == pytest.approx(want_ssim, abs=0.001)
    assert np.mean([s.psnr_y for s in legacy]) == pytest.approx(want_psnr, abs=0.01)
    assert np.mean([s.ssim_y for s in legacy]) == pytest.approx(want_ssim, abs=0.001)


def make_hr_folder(folder: Path, n: int = 2, size: tuple[int, int] = (202, 130)) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        base = rng.integers(0, 256, (size[1] // 6, size[0] // 6, 3), dtype=np.uint8)
        Image.fromarray(base).resize(size, Image.BICUBIC).save(folder / f"im{i}.png")
    return folder


def test_eval_cli_bicubic_json_and_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = make_hr_folder(tmp_path / "mine", size=(203, 131))
    out = tmp_path / "report.json"
    code = main(
        [
            "eval",
            "--data",
            str(data),
            "--scale",
            "2",
            "--json",
            str(out),
            "--save-images",
            str(tmp_path / "pics"),
            "--per-image",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Protocol:" in printed and "im0.png" in printed
    report = json.loads(out.read_text())
    ds = report["datasets"][0]
    assert ds["num_images"] == 2 and ds["scale"] == 2
    assert 20 < ds["mean"]["psnr_y"] < 60 and ds["mean"]["niqe"] is not None
    assert 0 <= ds["mean"]["grid"] < 0.3  # bicubic draws no grid
    assert "Grid" in printed and "lattice_score" in report["protocol"]
    assert "Flat" in printed and "flat_lattice_score" in report["protocol"] and "flat" in ds["mean"]
    sr = Image.open(tmp_path / "pics" / "mine" / "im0_sr.png")
    assert sr.size == (202, 130)  # mod-cropped to x2
    assert (tmp_path / "pics" / "mine" / "im0_compare.png").is_file()


def test_flat_score_sees_a_mesh_drawn_in_the_smooth_part_of_an_image(tmp_path: Path) -> None:
    folder = tmp_path / "sky"
    folder.mkdir()
    hr = np.full((96, 128, 3), 120, dtype=np.uint8)
    hr[:, :, 2] = np.linspace(150, 190, 128).astype(np.uint8)  # a smooth blue ramp: a sky
    hr[:, 96:] = np.random.default_rng(0).integers(0, 256, (96, 32, 3))  # and a textured strip
    Image.fromarray(hr).save(folder / "sky.png")
    (sample,) = iter_samples(folder, 4)

    def meshed(lr: torch.Tensor) -> torch.Tensor:
        sr = bicubic(4)(lr).clone()
        sr[..., ::4, ::4] += 2 / 255  # a dot in every 4 x 4 cell
        return sr

    plain, _ = score(bicubic(4)(sample.lr), sample, 4, with_niqe=False)
    mesh, _ = score(meshed(sample.lr), sample, 4, with_niqe=False)
    assert plain.flat is not None and mesh.flat is not None
    assert plain.flat < 0.1 < 0.3 < mesh.flat


def test_eval_cli_loads_a_generator_state_dict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = make_hr_folder(tmp_path / "d", n=1, size=(64, 64))
    g = Generator(scale=2, num_blocks=1, channels=8).eval()
    torch.save(g.state_dict(), tmp_path / "g.pth")
    out = tmp_path / "r.json"
    assert (
        main(
            [
                "eval",
                "--model",
                str(tmp_path / "g.pth"),
                "--scale",
                "2",
                "--data",
                str(data),
                "--json",
                str(out),
                "--no-niqe",
            ]
        )
        == 0
    )
    # the CLI's number is the protocol applied to this generator's output
    (sample,) = iter_samples(data, 2)
    with torch.no_grad():
        expected = score(g(sample.lr.float()), sample, 2, with_niqe=False)[0].psnr_y
    assert json.loads(out.read_text())["datasets"][0]["mean"]["psnr_y"] == pytest.approx(expected)


def test_eval_cli_errors_are_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = make_hr_folder(tmp_path / "d", n=1, size=(64, 64))
    g = Generator(scale=2, num_blocks=1, channels=8)
    torch.save(g.state_dict(), tmp_path / "x2.pth")
    (tmp_path / "junk.pth").write_text("hello")
    cases = [
        (["--model", str(tmp_path / "x2.pth"), "--scale", "4"], "is an x2 model, but x4 was asked for"),
        (["--model", str(tmp_path / "junk.pth")], "junk.pth is not a PyTorch or safetensors model file"),
        (["--model", str(tmp_path / "missing.pth")], "is neither a file nor a bundled model"),
    ]
    for extra, message in cases:
        assert main(["eval", "--data", str(data), *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert main(["eval", "--data", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
