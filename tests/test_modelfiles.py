"""srgan.modelfiles: one loader that inspects a file and refuses a wrong one with one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from srgan.archs.srresnet.network import Generator
from srgan.modelfiles import checkpoint
from srgan.modelfiles.loader import ModelLoadError, load_generator, open_model
from srgan.modelfiles.safetensors import save_generator


def tiny() -> Generator:
    torch.manual_seed(0)
    return Generator(scale=2, num_blocks=1, channels=8).eval()


def test_open_model_reports_what_it_opened(tmp_path: Path) -> None:
    g = tiny()
    save_generator(tmp_path / "g.safetensors", g.state_dict(), g.config)
    torch.save(g.state_dict(), tmp_path / "g.pth")
    save_file(g.state_dict(), str(tmp_path / "plain.safetensors"))
    for name, kind in (
        ("g.safetensors", "safetensors"),
        ("g.pth", "state_dict"),
        ("plain.safetensors", "state_dict"),
    ):
        opened = open_model(tmp_path / name)
        assert (opened.spec.arch, opened.spec.scale, opened.spec.file_format) == ("srresnet", 2, kind)
        assert opened.spec.config == g.config
        for k, v in g.state_dict().items():
            assert torch.equal(opened.network.state_dict()[k], v)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"scale": 4, "num_blocks": 200_000, "channels": 64, "in_channels": 3},
            "200000 residual blocks is outside 1..256",
        ),
        (
            {"scale": 4, "num_blocks": 16, "channels": 64, "in_channels": 3, "evil": 1},
            "unknown srresnet setting(s) evil",
        ),
        ({"scale": 3, "num_blocks": 16, "channels": 64, "in_channels": 3}, "scale 3 is not one of (2, 4, 8)"),
        ({"scale": 4, "num_blocks": "16", "channels": 64, "in_channels": 3}, "must be integers"),
    ],
)
def test_a_stored_config_is_validated_before_anything_is_allocated(tmp_path: Path, config: dict, message: str) -> None:
    path = tmp_path / "claim.safetensors"
    meta = {"format": "srgan-generator", "generator_config": json.dumps(config)}
    save_file({"head.0.weight": torch.zeros(1)}, str(path), metadata=meta)
    with pytest.raises(ModelLoadError, match="^" + str(path).replace(".", r"\.") + ": ") as info:
        open_model(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_the_format_tag_is_checked_on_read(tmp_path: Path) -> None:
    g = tiny()
    path = tmp_path / "x.safetensors"
    save_file(g.state_dict(), str(path), metadata={"format": "something-else"})
    with pytest.raises(ModelLoadError, match=r"another kind .*format 'something-else'"):
        open_model(path)
    save_file(g.state_dict(), str(path), metadata={"generator_config": json.dumps(g.config.to_dict())})
    with pytest.raises(ModelLoadError, match="no format tag"):
        open_model(path)


def test_unknown_layouts_and_non_models_get_one_sentence(tmp_path: Path) -> None:
    torch.save({"encoder.weight": torch.zeros(4, 3, 3, 3)}, tmp_path / "other.pth")
    known = r"holds no network srgan knows \(it reads srgan SRResNet, ESRGAN / Real-ESRGAN RRDBNet, Real-ESRGAN SRVGG"
    with pytest.raises(ModelLoadError, match=known):
        open_model(tmp_path / "other.pth")
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(ModelLoadError, match="is not a PyTorch or safetensors model file"):
        open_model(tmp_path / "text.pth")
    with pytest.raises(ModelLoadError, match="is an x2 model, but x4 was asked for"):
        save_generator(tmp_path / "g.safetensors", tiny().state_dict(), tiny().config)
        load_generator(tmp_path / "g.safetensors", scale=4)


def test_a_checkpoint_opens_as_its_ema_weights_and_old_checkpoints_are_upgraded(tmp_path: Path) -> None:
    g = tiny()
    ema = {k: v + 1 if v.is_floating_point() else v for k, v in g.state_dict().items()}
    state = {"iteration": 5, "generator": g.state_dict(), "generator_config": g.config.to_dict()}
    checkpoint.save(tmp_path / "new.pt", {**state, "ema": checkpoint.ema_record(ema, 5)})
    checkpoint.save(tmp_path / "old.pt", {**state, "generator_ema": {**ema, "_ema_updates": torch.tensor(5)}})
    for name in ("new.pt", "old.pt"):
        loaded = load_generator(tmp_path / name).state_dict()
        assert all(torch.equal(loaded[k], ema[k].float()) for k in ema)
        assert checkpoint.load(tmp_path / name)["ema"]["updates"] == 5
