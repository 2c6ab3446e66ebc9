"""SPAN and RealPLKSR (native) and the zoo extra's transformer families (through spandrel).

Parity: random-weight state dicts of the published size variants are made by spandrel's own
implementations, saved as a community file would be, opened by srgan and compared with spandrel's
forward pass. The zoo tests skip with the reason when spandrel is not installed (`make setup`
installs it); the native ones need nothing but srgan.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from srgan.archs.realplksr import RealPLKSRConfig
from srgan.archs.realplksr.network import RealPLKSR
from srgan.archs.span import SPANConfig
from srgan.archs.span.network import SPAN
from srgan.archs.zoo.spandrel_import import UNAVAILABLE, zoo_available
from srgan.cli import main
from srgan.inference.upscaler import Upscaler
from srgan.modelfiles.loader import ModelLoadError, open_blended, open_model
from srgan.runtime import RuntimeChoiceError

SRC = Path(__file__).resolve().parents[1] / "src"
needs_zoo = pytest.mark.skipif(
    not zoo_available(), reason='spandrel is not installed (the zoo extra: make setup, or pip install "srgan[zoo]")'
)


def randomised(module: torch.nn.Module, seed: int = 0, std: float = 0.05) -> torch.nn.Module:
    """Random weights with a spread that gives outputs far from trivial (initial weights are near 0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)
    return module.eval()


def span(scale: int = 4, features: int = 48, seed: int = 0) -> SPAN:
    net = SPAN(SPANConfig(scale=scale, features=features))
    randomised(net, seed)
    net.fold()  # eval_conv from the random training branches, as a loaded file's is
    return net


def plksr(seed: int = 0, **kw: int) -> RealPLKSR:
    config = RealPLKSRConfig(**{"blocks": 4, **kw})
    return randomised(RealPLKSR(config), seed, std=0.03)  # type: ignore[return-value]


# ---- native: detection, features ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "arch", "config"),
    [
        (lambda: span(4, 48), "span", SPANConfig(scale=4, features=48)),
        (lambda: span(2, 52), "span", SPANConfig(scale=2, features=52)),
        (lambda: plksr(scale=4), "realplksr", RealPLKSRConfig(scale=4, blocks=4)),
        (lambda: plksr(scale=2, layer_norm=0), "realplksr", RealPLKSRConfig(scale=2, blocks=4, layer_norm=0)),
        (lambda: plksr(scale=4, dysample=1), "realplksr", RealPLKSRConfig(scale=4, blocks=4, dysample=1)),
        (lambda: plksr(scale=3, dysample=1), "realplksr", RealPLKSRConfig(scale=3, blocks=4, dysample=1)),
    ],
)
def test_native_files_are_detected_with_their_shape(
    tmp_path: Path, make: Callable[[], torch.nn.Module], arch: str, config: object
) -> None:
    net = make()
    torch.save({"params_ema": net.state_dict()}, tmp_path / "m.pth")
    save_file(net.state_dict(), str(tmp_path / "m.safetensors"))
    for name in ("m.pth", "m.safetensors"):
        opened = open_model(tmp_path / name)
        assert (opened.spec.arch, opened.spec.config) == (arch, config)
    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        assert torch.equal(opened.network(x), net(x))  # type: ignore[misc]


def test_span_runs_its_folded_convolutions_and_refolds_after_a_blend(tmp_path: Path) -> None:
    a, b = span(seed=1), span(seed=2)
    torch.save(a.state_dict(), tmp_path / "a.pth")
    torch.save(b.state_dict(), tmp_path / "b.pth")
    # the training branches (not the stored eval_conv) are the truth, as in the reference code
    stale = {k: torch.zeros_like(v) if "eval_conv" in k else v for k, v in a.state_dict().items()}
    torch.save(stale, tmp_path / "stale.pth")
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(open_model(tmp_path / "stale.pth").network(x), a(x), atol=1e-5)  # type: ignore[misc]
        half = open_blended(tmp_path / "a.pth", 0.5, tmp_path / "b.pth").network
        assert half is not None
        mixed = {k: (a.state_dict()[k] + b.state_dict()[k]) / 2 for k in a.state_dict()}
        ref = SPAN(SPANConfig())
        ref.load_state_dict(mixed)  # folds the blended training branches
        assert torch.allclose(half(x), ref.eval()(x), atol=1e-5)
    torch.save(plksr().state_dict(), tmp_path / "p.pth")
    with pytest.raises(ModelLoadError, match="are not the same network, so they cannot be blended"):
        open_blended(tmp_path / "a.pth", 0.5, tmp_path / "p.pth")


def test_span_tiles_are_exact_at_its_receptive_radius(tmp_path: Path) -> None:
    torch.save(span(scale=2).state_dict(), tmp_path / "s.pth")
    x = torch.rand(3, 200, 200)
    whole = Upscaler.from_pretrained(tmp_path / "s.pth", precision="fp32").upscale_tensor(x)
    up = Upscaler.from_pretrained(tmp_path / "s.pth", precision="fp32", tile=96)
    assert up.margin == 21
    assert (up.upscale_tensor(x) - whole).abs().max() < 1e-4


@pytest.mark.parametrize("kw", [{"layer_norm": 1}, {"layer_norm": 0}, {"dysample": 1}])
def test_realplksr_tiles_stay_within_one_grey_level_of_one_pass(tmp_path: Path, kw: dict[str, int]) -> None:
    torch.save(plksr(scale=2, **kw).state_dict(), tmp_path / "p.pth")
    x = torch.rand(3, 200, 200)
    whole = Upscaler.from_pretrained(tmp_path / "p.pth", precision="fp32").upscale_tensor(x).clamp(0, 1)
    up = Upscaler.from_pretrained(tmp_path / "p.pth", precision="fp32", tile=160)
    tiled = up.upscale_tensor(x).clamp(0, 1)
    assert tiled.shape == whole.shape == (3, 400, 400)
    assert (tiled - whole).abs().mean() < 1 / 255


def test_native_files_export_to_onnx_and_safetensors_and_check_bf16_and_int8(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    torch.save(span(scale=2).state_dict(), tmp_path / "s.pth")
    torch.save(plksr(scale=2, dysample=1).state_dict(), tmp_path / "p.pth")
    for name, arch in (("s", "span"), ("p", "realplksr")):
        onnx_path = tmp_path / f"{name}.onnx"
        assert main(["export", "--model", str(tmp_path / f"{name}.pth"), "--format", "onnx", "-o", str(onnx_path)]) == 0
        x = torch.rand(3, 18, 22)
        ref = Upscaler.from_pretrained(tmp_path / f"{name}.pth", precision="fp32")
        assert (Upscaler.from_pretrained(onnx_path).upscale_tensor(x) - ref.upscale_tensor(x)).abs().max() < 1e-4
        st = tmp_path / f"{name}.safetensors"
        assert main(["export", "--model", str(tmp_path / f"{name}.pth"), "--format", "safetensors", "-o", str(st)]) == 0
        assert open_model(st).spec.arch == arch and open_model(st).spec.file_format == "safetensors"
        assert math.isfinite(ref.bf16_psnr())
        with pytest.raises(RuntimeChoiceError, match="int8 is implemented for srgan SRResNet models only"):
            Upscaler.from_pretrained(tmp_path / f"{name}.pth", precision="int8")


def test_cli_upscale_and_eval_take_span_and_realplksr_files(tmp_path: Path) -> None:
    torch.save(span(scale=2).state_dict(), tmp_path / "s.pth")
    torch.save({"params_ema": plksr(scale=2).state_dict()}, tmp_path / "p.pth")
    data = tmp_path / "hr"
    data.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(data / "0.png")
    for name in ("s", "p"):
        model = str(tmp_path / f"{name}.pth")
        out = tmp_path / f"{name}.png"
        assert main(["upscale", str(data / "0.png"), "-o", str(out), "--model", model, "--precision", "fp32"]) == 0
        assert Image.open(out).size == (64, 48)
        assert main(["eval", "--model", model, "--scale", "2", "--data", str(data), "--precision", "fp32"]) == 0


# ---- hostile files ----------------------------------------------------------------------------------


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def _hostile_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, what srgan's sentence says)."""
    good_span, good_plksr = span().state_dict(), plksr().state_dict()
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "span-pickle": ({**good_span, "evil": _Payload(tmp_path / "pwned")}, "is not a PyTorch or safetensors model"),
        "span-nan": ({**good_span, "block_2.c1_r.sk.weight": torch.full((48, 48, 1, 1), math.nan)}, "NaN"),
        "span-missing": (
            {k: v for k, v in good_span.items() if not k.startswith("block_3.")},
            "missing",
        ),
        "plksr-absurd": (
            {**good_plksr, "feats.99999.weight": good_plksr["feats.6.weight"]},
            "99997 PLK blocks is outside",
        ),
        "plksr-nan": ({**good_plksr, "feats.0.bias": torch.full((64,), math.inf)}, "NaN or infinite"),
        "plksr-missing": (
            {k: v for k, v in good_plksr.items() if not k.startswith("feats.2.")},
            "missing",
        ),
    }
    out = {}
    for name, (state, message) in cases.items():
        torch.save(state, tmp_path / f"{name}.pth")
        out[name] = (tmp_path / f"{name}.pth", message)
    return out


def test_hostile_native_files_get_one_sentence_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "a.png")
    for name, (path, message) in _hostile_files(tmp_path).items():
        assert main(["upscale", str(tmp_path / "a.png"), "--model", str(path)]) == 2, name
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (name, err)
    assert not (tmp_path / "pwned").exists()
    assert not list(tmp_path.glob("a_x*.png"))


# ---- the zoo extra ----------------------------------------------------------------------------------


def test_spandrel_is_imported_without_torchvision() -> None:
    """In a fresh interpreter: spandrel's SR architectures load, torchvision stays unimported, LaMa
    and RestoreFormer are left out, and only their modules hold the torchvision stand-ins."""
    code = """
import sys
from srgan.archs.zoo.spandrel_import import spandrel_registry, _Unavailable, UNAVAILABLE
registry = spandrel_registry()
ids = {a.architecture.id for a in registry.architectures("detection")}
assert not any(n == "torchvision" or n.startswith("torchvision.") for n in sys.modules), "torchvision left"
assert not ids & set(UNAVAILABLE), ids
assert {"DAT", "SwinIR", "HAT", "OmniSR", "RGT", "DRCT", "ATD", "SPAN", "PLKSR"} <= ids, ids
holders = sorted({n.split(".")[2] for n, m in list(sys.modules.items()) if n.startswith("spandrel.")
                  and any(isinstance(v, _Unavailable) for v in vars(m).values())})
print(",".join(holders))
"""
    if not zoo_available():
        pytest.skip('spandrel is not installed (the zoo extra: make setup, or pip install "srgan[zoo]")')
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ",".join(sorted(UNAVAILABLE))


def test_without_the_extra_a_zoo_file_names_the_install_command(tmp_path: Path) -> None:
    """spandrel made unimportable in a fresh interpreter: one sentence naming the extra, exit 2."""
    state = {"layers.0.residual_group.blocks.0.attn.qkv.weight": torch.zeros(4, 4), "conv_first.weight": torch.zeros(4)}
    torch.save(state, tmp_path / "dat.pth")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    code = f"""
import sys
sys.modules["spandrel"] = None  # as if not installed
from srgan.cli import main
raise SystemExit(main(["upscale", {str(tmp_path / "a.png")!r}, "--model", {str(tmp_path / "dat.pth")!r}]))
"""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2, run.stderr
    assert 'pip install "srgan[zoo]"' in run.stderr and run.stderr.count("\n") == 1, run.stderr


def _zoo_variants() -> dict[str, Callable[[], torch.nn.Module]]:
    """The published size variants, built by spandrel's own classes (hyper-parameters from the
    authors' configurations)."""
    from spandrel.architectures.ATD import ATD
    from spandrel.architectures.DAT import DAT
    from spandrel.architectures.DRCT import DRCT
    from spandrel.architectures.HAT import HAT
    from spandrel.architectures.OmniSR import OmniSR
    from spandrel.architectures.PLKSR import RealPLKSR as StockRealPLKSR
    from spandrel.architectures.RGT import RGT
    from spandrel.architectures.SPAN import SPAN as StockSPAN
    from spandrel.architectures.SwinIR import SwinIR

    swin = {"depths": [6] * 6, "num_heads": [6] * 6, "embed_dim": 180, "window_size": 8, "mlp_ratio": 2}
    hat = {"depths": [6] * 6, "num_heads": [6] * 6, "embed_dim": 180, "window_size": 16, "mlp_ratio": 2}
    variants: dict[str, Callable[[], torch.nn.Module]] = {
        "span-48": lambda: StockSPAN(num_in_ch=3, num_out_ch=3, feature_channels=48, upscale=4),
        "span-52": lambda: StockSPAN(num_in_ch=3, num_out_ch=3, feature_channels=52, upscale=2),
        "realplksr": lambda: StockRealPLKSR(upscaling_factor=4, layer_norm=True),
        "realplksr-groupnorm": lambda: StockRealPLKSR(upscaling_factor=2, layer_norm=False),
        "realplksr-dysample": lambda: StockRealPLKSR(upscaling_factor=4, layer_norm=True, dysample=True),
        "swinir-light": lambda: SwinIR(
            upscale=4,
            img_size=64,
            embed_dim=60,
            depths=[6] * 4,
            num_heads=[6] * 4,
            window_size=8,
            mlp_ratio=2,
            upsampler="pixelshuffledirect",
        ),
        "swinir-classical": lambda: SwinIR(upscale=4, img_size=48, upsampler="pixelshuffle", **swin),
        "swinir-real": lambda: SwinIR(upscale=4, img_size=64, upsampler="nearest+conv", **swin),
        "dat-light": lambda: DAT(
            upscale=4,
            embed_dim=60,
            depth=[18],
            num_heads=[6],
            expansion_factor=2,
            split_size=[8, 32],
            resi_connection="3conv",
            upsampler="pixelshuffledirect",
        ),
        "dat-s": lambda: DAT(
            upscale=4, embed_dim=180, depth=[6] * 6, num_heads=[6] * 6, expansion_factor=2, split_size=[8, 16]
        ),
        "dat": lambda: DAT(
            upscale=4, embed_dim=180, depth=[6] * 6, num_heads=[6] * 6, expansion_factor=4, split_size=[8, 32]
        ),
        "hat-s": lambda: HAT(upscale=4, compress_ratio=24, squeeze_factor=24, **{**hat, "embed_dim": 144}),
        "hat-m": lambda: HAT(upscale=4, **hat),
        "hat-l": lambda: HAT(upscale=4, **{**hat, "depths": [6] * 12, "num_heads": [6] * 12}),
        "omnisr": lambda: OmniSR(up_scale=4),
        "rgt-s": lambda: RGT(
            upscale=4, embed_dim=180, depth=[6] * 6, num_heads=[6] * 6, split_size=[8, 32], c_ratio=0.5
        ),
        "rgt": lambda: RGT(upscale=4, embed_dim=180, depth=[6] * 8, num_heads=[6] * 8, split_size=[8, 32], c_ratio=0.5),
        "drct": lambda: DRCT(upscale=4, embed_dim=180, depths=[6] * 6, num_heads=[6] * 6, window_size=16),
        "drct-l": lambda: DRCT(upscale=4, embed_dim=180, depths=[6] * 12, num_heads=[6] * 12, window_size=16),
        "atd-light": lambda: ATD(
            upscale=4,
            embed_dim=48,
            depths=[6] * 4,
            num_heads=[4] * 4,
            window_size=16,
            category_size=128,
            num_tokens=64,
            reducted_dim=8,
            convffn_kernel_size=7,
            mlp_ratio=1,
            upsampler="pixelshuffledirect",
        ),
        "atd": lambda: ATD(
            upscale=4,
            embed_dim=210,
            depths=[6] * 6,
            num_heads=[6] * 6,
            window_size=16,
            category_size=256,
            num_tokens=128,
            reducted_dim=20,
            convffn_kernel_size=5,
            mlp_ratio=2,
        ),
    }
    try:
        from spandrel_extra_arches.architectures.SRFormer import SRFormer
    except ImportError:
        return variants
    srformer = {"depths": [6] * 6, "num_heads": [6] * 6, "embed_dim": 180, "mlp_ratio": 2}
    variants["srformer-light"] = lambda: SRFormer(
        upscale=4,
        embed_dim=60,
        depths=[6] * 4,
        num_heads=[6] * 4,
        window_size=16,
        mlp_ratio=2,
        upsampler="pixelshuffledirect",
    )
    variants["srformer"] = lambda: SRFormer(upscale=4, window_size=22, upsampler="pixelshuffle", **srformer)
    variants["srformer-real"] = lambda: SRFormer(upscale=4, window_size=22, upsampler="nearest+conv", **srformer)
    return variants


# fast in the default suite (light variants, up to about a second per pass); the rest are slow
FAST = ("span-48", "span-52", "realplksr", "realplksr-groupnorm", "realplksr-dysample", "swinir-light", "dat-light")
FAST += ("omnisr", "atd-light", "srformer-light")
SLOW = ("swinir-classical", "swinir-real", "dat-s", "dat", "hat-s", "hat-m", "hat-l", "rgt-s", "rgt", "drct")
SLOW += ("drct-l", "atd", "srformer", "srformer-real")
NATIVE = {"span": "span", "realplksr": "realplksr"}


@needs_zoo
@pytest.mark.parametrize("name", [*FAST, *(pytest.param(n, marks=pytest.mark.slow) for n in SLOW)])
def test_published_variants_match_spandrels_forward_pass(tmp_path: Path, name: str) -> None:
    from srgan.archs.zoo.spandrel_import import spandrel_registry

    variants = _zoo_variants()
    if name not in variants:
        pytest.skip("SRFormer needs spandrel_extra_arches (make setup installs it)")
    stock = randomised(variants[name](), std=0.02)
    torch.save({"params_ema": stock.state_dict()}, tmp_path / f"{name}.pth")
    x = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        descriptor = spandrel_registry().load(stock.state_dict())  # spandrel's detection and loader
        expected = descriptor.model.eval()(x.clone())
    up = Upscaler.from_pretrained(tmp_path / f"{name}.pth", precision="fp32")
    assert up.autocast_dtype is None
    opened = open_model(tmp_path / f"{name}.pth")
    assert opened.spec.arch == NATIVE.get(name.split("-")[0], "zoo")
    if opened.spec.arch == "zoo":
        assert opened.spec.config.arch == descriptor.architecture.id  # type: ignore[union-attr]
    got = up.upscale_tensor(x[0])
    assert got.shape == expected[0].shape
    assert expected.std() > 1e-3  # not a trivial output
    assert (got - expected[0]).abs().max() <= 1e-4


@needs_zoo
@pytest.mark.parametrize("name", ["swinir-light", pytest.param("dat-light", marks=pytest.mark.slow)])
def test_zoo_tiles_stay_within_one_grey_level_of_one_pass(tmp_path: Path, name: str) -> None:
    torch.save(randomised(_zoo_variants()[name](), std=0.02).state_dict(), tmp_path / "m.pth")
    x = torch.rand(3, 200, 200)
    whole = Upscaler.from_pretrained(tmp_path / "m.pth", precision="fp32").upscale_tensor(x).clamp(0, 1)
    up = Upscaler.from_pretrained(tmp_path / "m.pth", precision="fp32", tile=2 * 64 + 40)
    tiled = up.upscale_tensor(x).clamp(0, 1)
    assert (tiled - whole).abs().mean() < 1 / 255


@needs_zoo
def test_zoo_files_blend_and_check_bf16(tmp_path: Path) -> None:
    make = _zoo_variants()["omnisr"]
    a, b = randomised(make(), seed=1, std=0.02), randomised(make(), seed=2, std=0.02)
    torch.save(a.state_dict(), tmp_path / "a.pth")
    save_file(b.state_dict(), str(tmp_path / "b.safetensors"))
    half = open_blended(tmp_path / "a.pth", 0.5, tmp_path / "b.safetensors").network
    assert half is not None
    expected = {
        k: (a.state_dict()[k] + b.state_dict()[k]) / 2 for k in a.state_dict() if a.state_dict()[k].is_floating_point()
    }
    got = {k.removeprefix("model."): v for k, v in half.state_dict().items()}
    assert all(torch.allclose(got[k], v) for k, v in expected.items())
    assert math.isfinite(Upscaler.from_pretrained(tmp_path / "a.pth", precision="fp32").bf16_psnr())
    torch.save(span().state_dict(), tmp_path / "s.pth")
    with pytest.raises(ModelLoadError, match="are not the same network"):
        open_blended(tmp_path / "a.pth", 0.5, tmp_path / "s.pth")
    out = tmp_path / "a.safetensors"
    assert main(["export", "--model", str(tmp_path / "a.pth"), "--format", "safetensors", "-o", str(out)]) == 2
    assert not out.exists()


@needs_zoo
def test_hostile_zoo_files_get_one_sentence_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = randomised(_zoo_variants()["dat-light"](), std=0.02).state_dict()
    key = [k for k in good if k.endswith("qkv.weight")][-1]
    cases = {
        "pickle": ({**good, "evil": _Payload(tmp_path / "pwned")}, "is not a PyTorch or safetensors model"),
        "nan": ({**good, key: torch.full_like(good[key], math.nan)}, "NaN"),
        "missing": ({k: v for k, v in good.items() if k != key}, "looks like a DAT file but does not load as one"),
        "absurd": ({**good, "layers.99999.blocks.0.attn.qkv.weight": good[key]}, "declares more layers than"),
    }
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "a.png")
    for name, (state, message) in cases.items():
        torch.save(state, tmp_path / f"{name}.pth")
        assert main(["upscale", str(tmp_path / "a.png"), "--model", str(tmp_path / f"{name}.pth")]) == 2, name
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (name, err)
    assert not (tmp_path / "pwned").exists()


@needs_zoo
def test_unavailable_and_non_sr_spandrel_files_are_refused(tmp_path: Path) -> None:
    from spandrel.architectures.DnCNN import DnCNN

    torch.save(DnCNN(in_nc=3, out_nc=3).state_dict(), tmp_path / "dncnn.pth")  # a 1x colour denoiser
    assert open_model(tmp_path / "dncnn.pth").spec.arch == "zoo"
    torch.save(DnCNN().state_dict(), tmp_path / "gray.pth")
    with pytest.raises(ModelLoadError, match="a DnCNN network for 1-channel images"):
        open_model(tmp_path / "gray.pth")
    torch.save({"generator.model.0.weight": torch.zeros(1)}, tmp_path / "lama.pth")
    with pytest.raises(ModelLoadError, match=" and ".join(UNAVAILABLE) + " are unavailable"):
        open_model(tmp_path / "lama.pth")


def test_models_supported_prints_the_coverage_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--supported"]) == 0
    out = capsys.readouterr().out
    for tag in ("span", "realplksr", "dat", "swinir", "esrgan", "sofvsr"):
        assert f"\n{tag} " in out or out.startswith(f"{tag} "), tag
    assert "OpenModelDB" in out
    from srgan.modelfiles.coverage import totals

    entries, loads, recent, recent_loads = totals()
    assert (entries, recent) == (671, 286)
    assert loads / entries >= 0.85 and recent_loads / recent >= 0.78


@needs_zoo
def test_the_speed_benchmark_runs() -> None:
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "zoo_speed.py"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    run = subprocess.run([sys.executable, str(script), "--smoke"], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    for name in ("SPAN 48nf x4", "RealPLKSR", "DAT-light x4", "spandrel module, fp32", "srgan fp32"):
        assert name in run.stdout, run.stdout


def test_the_web_page_serves_span_and_realplksr_files(tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="srgan serve needs the web extra")
    import io

    from fastapi.testclient import TestClient

    from srgan.web.app import ServeConfig, create_app
    from tests.conftest import wait_done

    torch.save(span(scale=2).state_dict(), tmp_path / "span.pth")
    torch.save(plksr(scale=2, dysample=1).state_dict(), tmp_path / "plksr.pth")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)).save(buf, "PNG")
    app = create_app(ServeConfig([str(tmp_path / "span.pth"), str(tmp_path / "plksr.pth")], precision="fp32"))
    with TestClient(app) as client:
        for name in ("span.pth", "plksr.pth"):
            files = {"file": ("a.png", buf.getvalue(), "image/png")}
            r = client.post("/api/upscale", files=files, data={"model": name})
            assert r.status_code == 202, r.text
            job = wait_done(client, r.json()["id"])
            assert job["status"] == "done" and (job["width"], job["height"]) == (48, 32), job
