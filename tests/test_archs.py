"""The architecture registry (srgan.archs): every registered ArchSpec keeps the contract the rest of
the package relies on. A new architecture adds one line to TINY and is checked here with the others."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from srgan import archs
from srgan.archs.base import ArchError, ArchSpec
from srgan.archs.compact import CompactConfig
from srgan.archs.realplksr import RealPLKSRConfig
from srgan.archs.rrdb import RRDBConfig
from srgan.archs.span import SPANConfig
from srgan.archs.srresnet import GeneratorConfig
from srgan.inference.upscaler import Upscaler
from srgan.modelfiles.loader import open_model
from srgan.modelfiles.safetensors import save_generator

# A small config of every registered architecture (the tests build and run each one).
TINY: dict[str, Any] = {
    "srresnet": GeneratorConfig(scale=2, num_blocks=2, channels=8),
    "rrdb": RRDBConfig(scale=2, num_blocks=1, features=8, growth=4),
    "compact": CompactConfig(scale=3, num_conv=2, features=8),
    "span": SPANConfig(scale=2, features=8),
    "realplksr": RealPLKSRConfig(scale=2, dim=8, blocks=2, kernel=5, partial=2, layer_norm=0, dysample=1),
}
# a spec that opens files through a third-party loader (``load``: the zoo extra) has no config to build
# from; tests/test_zoo.py checks it
SPECS = {spec.name: spec for spec in archs.ARCHITECTURES if spec.load is None}


def tiny(name: str) -> tuple[ArchSpec[Any], Any, torch.nn.Module]:
    spec, config = SPECS[name], TINY[name]
    torch.manual_seed(0)
    network = spec.build(config, {}).eval()
    with torch.no_grad():  # BatchNorm statistics that are not the identity, so folding is exercised
        for key, value in network.state_dict().items():
            if key.endswith(("running_mean", "running_var")):
                value.uniform_(0.5, 1.5)
    return spec, config, network


def test_every_registered_architecture_has_a_tiny_config_here() -> None:
    assert sorted(TINY) == sorted(SPECS), "add the new architecture's small config to TINY"
    assert len({spec.config_type for spec in archs.ARCHITECTURES}) == len(archs.ARCHITECTURES), "one config class each"


def test_importing_the_registry_loads_no_torch() -> None:
    code = "import sys, srgan.archs; print('torch' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


@pytest.mark.parametrize("name", sorted(TINY))
def test_a_plain_state_dict_is_recognised_in_detection_order(name: str, tmp_path: Path) -> None:
    spec, config, network = tiny(name)
    state = network.state_dict()
    earlier = archs.ARCHITECTURES[: archs.ARCHITECTURES.index(spec)]
    assert not any(other.recognise(other.normalise(state)) for other in earlier), "an earlier spec takes its files"
    assert archs.detect(state)[0] is spec and spec.infer(state) == config
    torch.save(state, tmp_path / "plain.pth")
    opened = open_model(tmp_path / "plain.pth")
    assert (opened.spec.arch, opened.spec.config, opened.spec.file_format) == (name, config, "state_dict")
    assert opened.spec.architecture is spec and archs.spec_for(config) is spec and archs.by_name(name) is spec
    for key, value in state.items():
        assert torch.equal(opened.network.state_dict()[key], value)  # type: ignore[union-attr]


@pytest.mark.parametrize("name", sorted(TINY))
def test_srgans_export_stores_the_architecture_and_config(name: str, tmp_path: Path) -> None:
    _, config, network = tiny(name)
    save_generator(tmp_path / "g.safetensors", network.state_dict(), config)
    opened = open_model(tmp_path / "g.safetensors")
    assert (opened.spec.arch, opened.spec.config, opened.spec.file_format) == (name, config, "safetensors")


@pytest.mark.parametrize("name", sorted(TINY))
def test_the_inference_form_and_strips_equal_the_network(name: str) -> None:
    spec, config, network = tiny(name)
    x = torch.rand(3, 2 * spec.input_multiple(config) * 7, 2 * spec.input_multiple(config) * 5)
    with torch.no_grad():
        whole = network(x[None])[0]
    got = Upscaler(network, config, device="cpu", precision="fp32").upscale_tensor(x)
    assert got.shape == (3, x.shape[1] * config.scale, x.shape[2] * config.scale)
    assert (got - whole).abs().max() < 1e-4


@pytest.mark.parametrize("name", [n for n in sorted(TINY) if SPECS[n].tile_exact])
def test_exact_tiles_equal_the_whole_image_at_the_tile_context(name: str) -> None:
    spec, config, network = tiny(name)
    x = torch.rand(3, 60, 52)
    whole = Upscaler(network, config, device="cpu", precision="fp32").upscale_tensor(x)
    tile = 2 * spec.tile_context(config) + 12
    tiled = Upscaler(network, config, device="cpu", precision="fp32", tile=tile).upscale_tensor(x)
    assert tile < 60 and (tiled - whole).abs().max() < 1e-4


@pytest.mark.parametrize("name", sorted(TINY))
def test_the_range_check_refuses_a_config_no_real_model_has(name: str) -> None:
    spec, config, _ = tiny(name)
    wrong_scale = max(spec.scales) * 2
    with pytest.raises(ArchError, match=f"scale {wrong_scale} is not one of"):
        spec.checked(type(config)(**{**config.to_dict(), "scale": wrong_scale}))
    with pytest.raises(ArchError, match=r"unknown .* setting\(s\) colour"):
        spec.config_from({**config.to_dict(), "colour": 1})
    widths = [k for k in ("channels", "features") if k in config.to_dict()]
    for width in widths:
        with pytest.raises(ArchError, match=r"4096 channels is outside 1\.\.1024"):
            spec.config_from({**config.to_dict(), width: 4096})


def test_what_each_architecture_allows() -> None:
    """The answers the isinstance branches used to give, now asked of the specs."""
    table = {s.name: (s.tile_exact, s.precisions, s.fast is not None, s.blendable) for s in archs.ARCHITECTURES}
    assert {k: table[k] for k in ("srresnet", "rrdb", "compact")} == {
        "srresnet": (True, ("bf16", "fp16", "int8"), True, True),
        "rrdb": (False, ("bf16", "fp16"), False, True),
        "compact": (True, ("bf16", "fp16"), False, True),
    }
    assert SPECS["rrdb"].input_multiple(RRDBConfig(scale=2, unshuffle=2)) == 2
    assert SPECS["srresnet"].tile_context(GeneratorConfig()) == 40


def test_the_zoo_checks_its_scale_and_channels_through_the_spec() -> None:
    """A config spandrel yields is refused by ``ArchSpec.checked``, like every other architecture's."""
    from srgan.archs.zoo import ZOO, ZooConfig

    gray = ZooConfig(arch="DnCNN", scale=1, hyperparameters="{}", in_channels=1, out_channels=1)
    with pytest.raises(ArchError, match=r"^a DnCNN network for 1-channel images \(srgan upscales RGB\)$"):
        ZOO.checked(gray)
    with pytest.raises(ArchError, match=r"^scale 16 is not one of \(1, 2, 3, 4, 8\)$"):
        ZOO.checked(ZooConfig(arch="DAT", scale=16, hyperparameters="{}"))
    rgb = ZooConfig(arch="DAT", scale=4, hyperparameters="{}")
    assert ZOO.checked(rgb) is rgb


def test_spandrels_detection_runs_once_per_zoo_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from srgan.archs.zoo import spandrel_import

    if not spandrel_import.zoo_available():
        pytest.skip('spandrel is not installed (the zoo extra: make setup, or pip install "srgan[zoo]")')
    from spandrel.architectures.DnCNN import DnCNN

    real = spandrel_import.spandrel_registry()
    detected: list[str] = []

    def counted(support: Any) -> Any:
        def detect(state: Any) -> bool:
            found = bool(support.detect(state))
            if found:
                detected.append(support.architecture.id)
            return found

        return dataclasses.replace(support, detect=detect)

    registry = type(real)()
    registry.add(*(counted(a) for a in real.architectures("detection")))
    monkeypatch.setattr(spandrel_import, "spandrel_registry", lambda: registry)
    torch.save(DnCNN(in_nc=3, out_nc=3).state_dict(), tmp_path / "dncnn.pth")
    opened = open_model(tmp_path / "dncnn.pth")
    assert opened.spec.arch == "zoo" and detected == ["DnCNN"]


def test_a_model_spec_finds_its_architecture_once_and_pickles(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses
    import pickle

    import srgan.modelfiles.spec as spec_module
    from srgan.archs.srresnet import SRRESNET

    found: list[object] = []

    def counted(config: Any) -> Any:
        found.append(config)
        return archs.spec_for(config)

    monkeypatch.setattr(spec_module, "spec_for", counted)
    model = spec_module.ModelSpec("srresnet", 2, "safetensors", TINY["srresnet"])
    assert model.architecture is SRRESNET and model.architecture is SRRESNET and len(found) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.scale = 4  # type: ignore[misc]
    copy = pickle.loads(pickle.dumps(model))
    assert copy == model and copy.architecture is SRRESNET and len(found) == 2
