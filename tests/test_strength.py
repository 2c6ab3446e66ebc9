"""--strength: the model's parameters blended towards its fidelity base."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from srgan.cli import main
from srgan.evaluation.protocol import evaluate, make_sample
from srgan.inference.upscaler import Upscaler
from srgan.modelfiles.loader import ModelLoadError, open_blended
from srgan.modelfiles.safetensors import save_generator

from .conftest import trained_like

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "baboon.png"


def test_strength_0_is_the_base_and_1_the_model_exactly() -> None:
    x = torch.rand(3, 24, 20)
    for strength, reference in ((0.0, "srresnet-x4"), (1.0, "srgan-x4")):
        blended = Upscaler.from_pretrained("srgan-x4", device="cpu", precision="fp32", strength=strength)
        plain = Upscaler.from_pretrained(reference, device="cpu", precision="fp32")
        assert torch.equal(blended.upscale(x), plain.upscale(x)), strength
    explicit = open_blended("srgan-x4", 0.0, "srresnet-x4").network.state_dict()  # type: ignore[union-attr]
    base = open_blended("srresnet-x4").network.state_dict()  # type: ignore[union-attr]
    assert all(torch.equal(explicit[k], base[k]) for k in base)


def test_psnr_falls_monotonically_from_fidelity_to_texture() -> None:
    sample = make_sample(EXAMPLE, 4, EXAMPLE.parent)
    psnrs = []
    for strength in (0.0, 0.25, 0.5, 0.75, 1.0):
        net = open_blended("srgan-x4", strength).network
        assert net is not None
        with torch.inference_mode():
            (score,) = evaluate([sample], lambda lr, net=net: net(lr.float()), 4, with_niqe=False)
        psnrs.append(score.psnr_y)
    assert all(a > b for a, b in itertools.pairwise(psnrs)), psnrs


def test_incompatible_pairs_and_bad_strengths_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny = trained_like(scale=4, blocks=2, channels=16)
    save_generator(tmp_path / "tiny.safetensors", tiny.state_dict(), tiny.config)
    with pytest.raises(ModelLoadError, match="are not the same network, so they cannot be blended"):
        open_blended("srgan-x4", 0.5, tmp_path / "tiny.safetensors")
    with pytest.raises(ModelLoadError, match="names no fidelity base"):
        open_blended(tmp_path / "tiny.safetensors", 0.5)
    with pytest.raises(ModelLoadError, match="between 0 and 1"):
        open_blended("srgan-x4", 1.5)
    assert main(["upscale", str(EXAMPLE), "-o", str(tmp_path / "o.png"), "--strength", "2"]) == 2
    assert "--strength: takes a number from 0 to 1, got 2" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()
    data = str(EXAMPLE.parent)
    assert main(["eval", "--model", "srgan-x4", "--data", data, "--strength", "0,x"]) == 2
    assert "--strength: takes a number from 0 to 1, got 'x'" in capsys.readouterr().err


def test_eval_reports_each_point_of_the_curve_and_plots_it(tmp_path: Path) -> None:
    import json

    from PIL import Image

    folder = tmp_path / "one"
    folder.mkdir()
    Image.open(EXAMPLE).crop((0, 0, 96, 96)).save(folder / "a.png")
    code = main(
        [
            "eval",
            "--model",
            "srgan-x4",
            "--data",
            str(folder),
            "--strength",
            "0,1",
            "--json",
            str(tmp_path / "c.json"),
            "--plot",
            str(tmp_path / "c.png"),
            "--reference",
            "ref=25,6@one",
        ]
    )
    assert code == 0
    curve = json.loads((tmp_path / "c.json").read_text())["curve"]
    assert [p["strength"] for p in curve] == [0.0, 1.0]
    assert curve[0]["datasets"][0]["mean"]["psnr_y"] > curve[1]["datasets"][0]["mean"]["psnr_y"]
    assert Image.open(tmp_path / "c.png").size[0] > 300


def test_export_at_a_strength_is_the_blend_upscale_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "half.safetensors"
    argv = ["export", "--model", "srgan-x4", "--format", "safetensors", "--strength", "0.5"]
    assert main([*argv, "-o", str(out)]) == 0
    exported = open_blended(out).network
    blended = open_blended("srgan-x4", 0.5).network
    model = open_blended("srgan-x4").network
    assert exported is not None and blended is not None and model is not None
    exported_state, blended_state = exported.state_dict(), blended.state_dict()
    assert all(torch.equal(exported_state[k], blended_state[k]) for k in blended_state)
    assert not torch.equal(exported_state["head.0.weight"], model.state_dict()["head.0.weight"])
    # an explicit base: the same pair, the same file
    explicit = tmp_path / "explicit.safetensors"
    assert main([*argv, "-o", str(explicit), "--blend-with", "srresnet-x4"]) == 0
    explicit_network = open_blended(explicit).network
    assert explicit_network is not None
    explicit_state = explicit_network.state_dict()
    assert all(torch.equal(explicit_state[k], blended_state[k]) for k in blended_state)
    refused = tmp_path / "refused.safetensors"
    assert (
        main(["export", "--model", "srgan-x4", "--format", "safetensors", "-o", str(refused), "--strength", "2"]) == 2
    )
    assert "--strength: takes a number from 0 to 1, got 2" in capsys.readouterr().err
    assert not refused.exists()
