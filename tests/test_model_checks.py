"""Every model file is checked before its network is allocated (issue 31.2-31.3): the network is
built on the meta device and compared with the file's tensors, the file's tensors must fit in the
file, and NaN/inf weights are refused, for every architecture and file kind, with one sentence."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from srgan import archs
from srgan.archs.compact import CompactConfig
from srgan.archs.compact.network import SRVGGNetCompact
from srgan.archs.rrdb import RRDBConfig
from srgan.archs.rrdb.network import RRDBNet
from srgan.archs.srresnet.fast import FastGenerator
from srgan.archs.srresnet.network import Generator
from srgan.archs.srresnet.quantized import calibrate
from srgan.inference.upscaler import Upscaler
from srgan.modelfiles import checkpoint
from srgan.modelfiles.loader import ModelLoadError, open_model
from srgan.modelfiles.safetensors import ARCH_KEY, CONFIG_KEY, FORMAT, FORMAT_KEY, save_generator

from .conftest import OWN_PEAK_MIB
from .errors import fails_with_one_sentence

# A process that imports torch and srgan stays under this (MiB of its own memory, shared-library pages
# not counted: about 150 when refusing these files); building any of the networks these files declare
# would take tens of GiB.
PEAK_MIB = 300


def networks() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "srresnet": Generator(scale=2, num_blocks=1, channels=8).eval(),
        "rrdb": RRDBNet(RRDBConfig(num_blocks=1, features=8, growth=4)).eval(),
        "compact": SRVGGNetCompact(CompactConfig(num_conv=2, features=8)).eval(),
    }


def huge_rrdb_pth(path: Path) -> None:
    """An RRDBNet of 23 blocks and 1024 features (about 39 GB in fp32) in a small .pth: every tensor
    is a stride-0 view of one shared 1-element storage."""
    net_shape = RRDBConfig(num_blocks=23, features=1024, growth=1024)
    with torch.device("meta"):
        expected = RRDBNet(net_shape).state_dict()
    one = torch.zeros(1)
    torch.save({k: one.expand(v.shape) for k, v in expected.items()}, path)


def huge_config_safetensors(path: Path) -> None:
    """srgan's safetensors export whose stored config declares 256 blocks of 1024 channels (19 GB)
    and holds one tiny tensor."""
    config = {"scale": 4, "num_blocks": 256, "channels": 1024, "in_channels": 3}
    meta = {FORMAT_KEY: FORMAT, ARCH_KEY: "srresnet", CONFIG_KEY: json.dumps(config)}
    save_file({"head.0.weight": torch.zeros(1)}, str(path), metadata=meta)


def peak_mib(argv: list[str]) -> tuple[int, int, str]:
    """(exit status, the process's own peak RSS in MiB, stderr) of ``srgan argv`` run in a fresh
    process that reports its own high-water mark (not ru_maxrss, which it inherits from pytest)."""
    code = f"from srgan.cli import main\nstatus = main({argv!r})\nprint(status, {OWN_PEAK_MIB})\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    status, peak = done.stdout.split()[-2:]
    return int(status), int(peak), done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
@pytest.mark.parametrize("kind", ["pth", "safetensors"])
def test_a_small_file_declaring_a_huge_network_is_refused_before_allocation(tmp_path: Path, kind: str) -> None:
    evil = tmp_path / f"evil.{kind}"
    (huge_rrdb_pth if kind == "pth" else huge_config_safetensors)(evil)
    assert evil.stat().st_size < 2_000_000
    image = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    status, peak, err = peak_mib(["upscale", str(image), "--model", str(evil), "-o", str(tmp_path / "out")])
    assert status == 2, err
    assert str(evil) in err and "Traceback" not in err, err
    assert ("declares" in err) if kind == "pth" else ("is missing" in err), err
    assert peak < PEAK_MIB, f"peak RSS {peak} MiB"
    assert not (tmp_path / "out").exists()


def test_the_api_refuses_them_too(tmp_path: Path) -> None:
    huge_rrdb_pth(tmp_path / "evil.pth")
    with pytest.raises(ModelLoadError, match=r"evil\.pth declares [\d,]+ bytes of weights but is only [\d,]+ bytes"):
        open_model(tmp_path / "evil.pth")
    huge_config_safetensors(tmp_path / "evil.safetensors")
    with pytest.raises(
        ModelLoadError, match=r"does not match an srgan srresnet network: tensor head\.0\.bias is missing"
    ):
        Upscaler.from_pretrained(tmp_path / "evil.safetensors")


def test_a_tensor_of_another_shape_or_name_is_named(tmp_path: Path) -> None:
    g = networks()["srresnet"]
    state = g.state_dict()
    save_generator(tmp_path / "shape.safetensors", {**state, "tail.weight": torch.zeros(3, 8, 5, 5)}, g.config)  # type: ignore[arg-type]
    with pytest.raises(ModelLoadError, match=r"tensor tail\.weight is \(3, 8, 5, 5\) in the file but \(3, 8, 9, 9\)"):
        open_model(tmp_path / "shape.safetensors")
    save_generator(tmp_path / "extra.safetensors", {**state, "spare.weight": torch.zeros(2)}, g.config)  # type: ignore[arg-type]
    with pytest.raises(ModelLoadError, match=r"it holds tensor spare\.weight, which the network does not have"):
        open_model(tmp_path / "extra.safetensors")


def poisoned(net: torch.nn.Module, value: float) -> dict[str, torch.Tensor]:
    state = {k: v.clone() for k, v in net.state_dict().items()}
    key = next(k for k, v in state.items() if v.is_floating_point() and k.endswith("weight"))
    state[key].view(-1)[0] = value
    return state


@pytest.mark.parametrize("arch", ["srresnet", "rrdb", "compact"])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_nan_or_inf_weights_are_refused_for_every_architecture_and_file_kind(
    tmp_path: Path, arch: str, value: float, capsys: pytest.CaptureFixture[str]
) -> None:
    net = networks()[arch]
    state = poisoned(net, value)
    key = next(k for k in state if not state[k].isfinite().all())
    config = net.config  # type: ignore[union-attr]
    files = {"export.safetensors": None, "plain.safetensors": None, "plain.pth": None}
    save_generator(tmp_path / "export.safetensors", state, config)
    save_file(state, str(tmp_path / "plain.safetensors"))
    torch.save(state, tmp_path / "plain.pth")
    if arch == "srresnet":
        checkpoint.save(tmp_path / "ckpt.pt", {"generator": state, "generator_config": config.to_dict(), "ema": None})
        files["ckpt.pt"] = None
    for name in files:
        with pytest.raises(ModelLoadError, match=rf"{name}: tensor {key} holds NaN or infinite values"):
            open_model(tmp_path / name)
    image = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    out = tmp_path / "out.png"
    fails_with_one_sentence(
        capsys, ["upscale", str(image), "--model", str(tmp_path / "plain.pth"), "-o", str(out)], "holds NaN or infinite"
    )
    assert not out.exists()


def test_the_upscaler_refuses_a_network_with_nan_weights() -> None:
    net = networks()["compact"]
    net.load_state_dict(poisoned(net, math.nan))
    with pytest.raises(ValueError, match="holds NaN or infinite values"):
        Upscaler(net, net.config, device="cpu", precision="fp32")  # type: ignore[arg-type]


def test_onnx_parity_is_never_zero_for_a_nan_model(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from srgan.modelfiles.onnx import export_onnx, parity

    net = networks()["compact"]
    net.load_state_dict({k: torch.full_like(v, math.nan) for k, v in net.state_dict().items()})
    export_onnx(net, net.config, tmp_path / "nan.onnx")  # type: ignore[arg-type]
    assert parity(net, tmp_path / "nan.onnx") == math.inf


def test_int8_calibration_of_a_model_with_non_finite_activations_is_one_sentence(tmp_path: Path) -> None:
    g = networks()["srresnet"]
    with torch.no_grad():
        g.head[0].bias.fill_(math.inf)  # type: ignore[index,union-attr]
    with pytest.raises(ValueError, match=r"the input of body\.0\.conv1 is not finite"):
        calibrate(FastGenerator(g), [torch.rand(1, 3, 16, 16)])  # type: ignore[arg-type]


def test_a_file_whose_int8_calibration_is_not_finite_is_refused(tmp_path: Path) -> None:
    g = networks()["srresnet"]
    ranges = {"body.0.conv1": (math.nan, 1.0)}
    save_generator(tmp_path / "g.safetensors", g.state_dict(), g.config, int8_ranges=ranges)  # type: ignore[arg-type]
    with pytest.raises(ModelLoadError, match=r"int8 calibration of body\.0\.conv1 is \[nan, 1\.0\], not a finite"):
        open_model(tmp_path / "g.safetensors")


def test_every_architecture_is_checked_on_the_meta_device_first(tmp_path: Path) -> None:
    """The check uses the same build as the real network, so each registered spec builds on meta."""
    for spec in archs.ARCHITECTURES:
        if spec.load is not None:
            continue  # built by a third-party loader under an allocation budget (tests/test_zoo.py)
        config = spec.config_type()
        with torch.device("meta"):
            skeleton = spec.build(config, {})
        assert all(t.is_meta for t in skeleton.state_dict().values()), spec.name
