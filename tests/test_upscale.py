from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan.cli import main
from srgan.imageio import ReadPolicy, read_image
from srgan.inference.tiling import upscale_tiled, upscale_with_backoff
from srgan.inference.upscaler import Upscaler
from srgan.modelfiles.safetensors import save_generator
from srgan.models import Generator
from srgan.models.fast import FastGenerator
from srgan.models.generator import receptive_radius


def trained_like(scale: int = 4, blocks: int = 2, channels: int = 16, seed: int = 0) -> Generator:
    """A small generator with non-trivial BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    g = Generator(scale=scale, num_blocks=blocks, channels=channels)
    g.train()
    with torch.no_grad():
        g(torch.rand(4, 3, 16, 16))
    return g.eval()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny-x2.safetensors"
    g = trained_like(scale=2)
    save_generator(path, g.state_dict(), g.config)
    return path


def blur_generator() -> Generator:
    """A linear x2 'generator': nearest-neighbour upscale, then a 5x5 box blur per channel.
    It mixes neighbouring colours like a real SR network does at edges."""
    g = Generator(scale=2, num_blocks=1, channels=4).eval()
    with torch.no_grad():
        for p in g.parameters():
            p.zero_()
        for c in range(3):
            g.head[0].weight[c, c, 4, 4] = 1.0
            for k in range(4):
                g.upsample[0].conv.weight[c * 4 + k, c, 1, 1] = 1.0
            g.tail.weight[c, c, 2:7, 2:7] = 1.0 / 25
        g.head[1].weight.fill_(1.0)
        g.upsample[0].act.weight.fill_(1.0)
    return g


# ---- the fast generator and tiling ------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_fast_generator_equals_the_paper_network(scale: int) -> None:
    g = trained_like(scale=scale)
    x = torch.rand(2, 3, 17, 23)
    with torch.no_grad():
        torch.testing.assert_close(FastGenerator(g)(x), g(x), atol=1e-5, rtol=1e-5)


def test_fast_generator_has_no_batchnorm_and_no_full_resolution_64_channel_tensor() -> None:
    fast = FastGenerator(trained_like())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert fast.tail.out_channels == 12 and fast.tail.kernel_size == (5, 5)


def test_tiled_equals_untiled_within_one_level() -> None:
    g = trained_like(scale=4, blocks=3)
    fast = FastGenerator(g)
    x = torch.rand(3, 70, 101)
    with torch.no_grad():
        full = fast(x[None])[0]
        tiled = upscale_tiled(x, fast, 4, tile=64, margin=receptive_radius(g.config), blend=8, batch=2)
    assert (tiled - full).abs().max() <= 1 / 255
    assert (tiled - full).abs().max() < 1e-5  # with the full receptive margin it is exact


def test_upscaler_tiles_agree_with_a_single_pass(model_file: Path) -> None:
    image = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    whole = Upscaler.from_pretrained(model_file, precision="fp32", tile=512).upscale(image)
    tiled = Upscaler.from_pretrained(model_file, precision="fp32", tile=40).upscale(image)
    assert whole.shape == (180, 240, 3)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


def test_out_of_memory_shrinks_the_tile_and_retries() -> None:
    fast = FastGenerator(trained_like(scale=2))
    calls: list[int] = []

    def fussy(batch: torch.Tensor) -> torch.Tensor:
        calls.append(max(batch.shape[-2:]))
        if max(batch.shape[-2:]) > 40:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        with torch.no_grad():
            return fast(batch)

    retries: list[tuple[int, int]] = []
    x = torch.rand(3, 60, 70)
    out = upscale_with_backoff(x, fussy, 2, tile=128, margin=8, on_retry=lambda t, b: retries.append((t, b)))
    with torch.no_grad():
        torch.testing.assert_close(out, fast(x[None])[0], atol=1e-4, rtol=0)
    assert [t for t, _ in retries] == [64, 32]
    assert max(calls[-3:]) <= 40

    def always(batch: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("out of memory")

    with pytest.raises(MemoryError, match="out of memory even with"):
        upscale_with_backoff(x, always, 2, tile=64, margin=8)
    with pytest.raises(ValueError, match="unrelated"):  # other errors are not swallowed
        upscale_with_backoff(x, lambda b: (_ for _ in ()).throw(ValueError("unrelated")), 2, tile=64, margin=8)


# ---- precision ----------------------------------------------------------------------------


def test_auto_precision_never_picks_fp16_on_cpu_and_fp16_is_refused(model_file: Path) -> None:
    up = Upscaler.from_pretrained(model_file, device="cpu", precision="auto")
    assert up.precision in ("fp32", "bf16")
    with pytest.raises(ValueError, match="fp16 is for CUDA GPUs"):
        Upscaler.from_pretrained(model_file, device="cpu", precision="fp16")


def test_auto_picks_bf16_only_when_it_is_visually_identical(model_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import srgan.runtime as mod

    monkeypatch.setattr(mod, "cpu_supports_bf16", lambda: True)
    monkeypatch.setattr(Upscaler, "bf16_psnr", lambda self: 44.0)
    assert Upscaler.from_pretrained(model_file, device="cpu").precision == "fp32"
    monkeypatch.setattr(Upscaler, "bf16_psnr", lambda self: 50.0)
    assert Upscaler.from_pretrained(model_file, device="cpu").precision == "bf16"
    monkeypatch.setattr(mod, "cpu_supports_bf16", lambda: False)
    assert Upscaler.from_pretrained(model_file, device="cpu").precision == "fp32"


# ---- Python API ---------------------------------------------------------------------------


def test_api_returns_the_kind_it_was_given(model_file: Path) -> None:
    up = Upscaler.from_pretrained(model_file, precision="fp32")
    rng = np.random.default_rng(1)
    rgb8 = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out8 = up.upscale(rgb8)
    assert out8.dtype == np.uint8 and out8.shape == (40, 60, 3)
    out16 = up.upscale(rgb8.astype(np.uint16) * 257)
    assert out16.dtype == np.uint16 and np.abs(out16.astype(int) // 257 - out8.astype(int)).max() <= 1
    outf = up.upscale(rgb8.astype(np.float32) / 255)
    assert outf.dtype == np.float32 and np.abs(outf * 255 - out8).max() <= 1
    gray = up.upscale(rng.integers(0, 256, (20, 30), dtype=np.uint8))
    assert gray.shape == (40, 60)
    pil = up.upscale(Image.fromarray(rgb8))
    assert isinstance(pil, Image.Image) and pil.size == (60, 40) and pil.mode == "RGB"
    assert np.array_equal(np.asarray(pil), out8)
    t = up.upscale(torch.from_numpy(rgb8).permute(2, 0, 1).float() / 255)
    assert isinstance(t, torch.Tensor) and t.shape == (3, 40, 60)
    tb = up.upscale(torch.rand(2, 3, 10, 12))
    assert tb.shape == (2, 3, 20, 24)
    with pytest.raises(TypeError):
        up.upscale("photo.png")  # type: ignore[arg-type]


def test_upscale_is_thread_safe(model_file: Path) -> None:
    up = Upscaler.from_pretrained(model_file, precision="fp32", tile=48)
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, (50 + i, 60, 3), dtype=np.uint8) for i in range(4)]
    expected = [up.upscale(im) for im in images]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        results[i] = up.upscale(images[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, e in enumerate(expected):
        assert np.array_equal(results[i], e)


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


# ---- bad input, no loss, no overwrite -------------------------------------------------------


def test_bad_inputs_are_reported_and_the_rest_processed(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(d / "good.png")
    (d / "empty.png").write_bytes(b"")
    (d / "text.png").write_text("this is not an image")
    buf = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(buf, format="PNG")
    (d / "truncated.png").write_bytes(buf.getvalue()[:60])
    Image.fromarray(np.zeros((16, 16), np.float32), mode="F").save(d / "float.tif")
    Image.fromarray(np.zeros((200, 200, 3), np.uint8)).save(d / "big.png")
    files = [
        str(d / n)
        for n in ("good.png", "empty.png", "text.png", "truncated.png", "float.tif", "big.png", "missing.png")
    ]
    code = main(["upscale", *files, "-o", str(d / "out"), "--model", str(model_file), "--max-pixels", "10000", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert (d / "out" / "good_x2.png").is_file()
    for fragment in (
        "empty.png: empty file",
        "text.png: not a readable image",
        "truncated.png: not a readable image",
        "float.tif: unsupported image mode F",
        "big.png: 200x200 = 40,000 pixels exceeds the limit of 10,000",
        "missing.png: no such file or folder",
        "6 problem(s)",
    ):
        assert fragment in err, fragment
    assert sorted(p.name for p in (d / "out").iterdir()) == ["good_x2.png"]  # nothing partial


def test_model_errors_are_one_sentence(model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "notes.safetensors").write_text("hello")
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pth")
    cases = [
        (["--model", str(model_file), "--scale", "4"], "is x2, but --scale 4 was asked for"),
        (["--model", str(tmp_path / "notes.safetensors")], "is not a readable safetensors file"),
        (["--model", str(tmp_path / "other.pth")], "holds no network srgan knows"),
    ]
    for extra, message in cases:
        assert main(["upscale", str(tmp_path / "a.png"), *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "a_x2.png").exists()


def test_unwritable_output_is_reported(model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "file").write_text("x")
    assert (
        main(
            [
                "upscale",
                str(tmp_path / "a.png"),
                "-o",
                str(tmp_path / "file" / "sub"),
                "--model",
                str(model_file),
                "-q",
            ]
        )
        == 1
    )
    assert "a.png: cannot write" in capsys.readouterr().err


def test_never_overwrites_inputs_or_existing_outputs(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "a.png"
    Image.fromarray(np.full((16, 16, 3), 7, np.uint8)).save(src)
    original = src.read_bytes()
    assert main(["upscale", str(src), "--suffix", "", "--model", str(model_file), "-q"]) == 1
    assert "would overwrite an input" in capsys.readouterr().err
    assert src.read_bytes() == original
    assert main(["upscale", str(src), "--model", str(model_file), "-q"]) == 0
    first = (tmp_path / "a_x2.png").read_bytes()
    Image.fromarray(np.full((16, 16, 3), 200, np.uint8)).save(src)
    assert main(["upscale", str(src), "--model", str(model_file), "-q"]) == 1
    assert "exists (use --overwrite" in capsys.readouterr().err
    assert (tmp_path / "a_x2.png").read_bytes() == first
    assert main(["upscale", str(src), "--model", str(model_file), "--overwrite", "-q"]) == 0
    assert (tmp_path / "a_x2.png").read_bytes() != first
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_folders_globs_and_recursion(model_file: Path, tmp_path: Path) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    for p in ("in/a.png", "in/b.jpg", "in/sub/c.png"):
        Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(tmp_path / p)
    assert main(["upscale", str(tmp_path / "in"), "-o", str(tmp_path / "o1"), "--model", str(model_file), "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "o1").iterdir()) == ["a_x2.png", "b_x2.png"]
    assert (
        main(
            [
                "upscale",
                str(tmp_path / "in"),
                "-r",
                "-o",
                str(tmp_path / "o2"),
                "--model",
                str(model_file),
                "-q",
            ]
        )
        == 0
    )
    assert (tmp_path / "o2" / "sub" / "c_x2.png").is_file()
    assert (
        main(
            [
                "upscale",
                str(tmp_path / "in" / "*.png"),
                "-o",
                str(tmp_path / "o3"),
                "--format",
                "webp",
                "--model",
                str(model_file),
                "-q",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "o3").iterdir()) == ["a_x2.webp"]


# ---- ONNX -----------------------------------------------------------------------------------


def test_onnx_export_parity_and_backend(model_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from srgan.modelfiles.loader import load_generator
    from srgan.modelfiles.onnx import parity

    onnx_path = tmp_path / "m.onnx"
    assert main(["export", "--model", str(model_file), "--format", "onnx", "-o", str(onnx_path)]) == 0
    g = load_generator(model_file)
    assert parity(g, onnx_path, ((24, 32), (37, 29))) <= 1e-4
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert meta["scale"] == "2" and "[0, 1]" in meta["value_range"]
    assert not any(n.op_type == "BatchNormalization" for n in onnx.load(str(onnx_path)).graph.node)
    image = np.random.default_rng(5).integers(0, 256, (21, 33, 3), dtype=np.uint8)
    via_onnx = Upscaler.from_pretrained(onnx_path).upscale(image)
    via_torch = Upscaler.from_pretrained(model_file, precision="fp32").upscale(image)
    assert np.abs(via_onnx.astype(int) - via_torch.astype(int)).max() <= 1
    assert main(["export", "--model", str(model_file), "-o", str(onnx_path)]) == 2  # exists: no overwrite


def test_read_image_reports_decompression_bombs(tmp_path: Path) -> None:
    from srgan.imageio import ImageReadError

    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(tmp_path / "x.png")
    with pytest.raises(ImageReadError, match="exceeds the limit"):
        read_image(tmp_path / "x.png", ReadPolicy(max_pixels=5000))
    assert read_image(tmp_path / "x.png", ReadPolicy(max_pixels=20000)).size == (100, 100)


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_strip_reconstruction_is_exact(scale: int, monkeypatch: pytest.MonkeyPatch) -> None:
    g = trained_like(scale=scale)
    up = Upscaler(g, g.config, device="cpu", precision="fp32", tile=4096)
    x = torch.rand(3, 45, 30)
    monkeypatch.setattr(Upscaler, "_strip_rows", lambda self, width: 7)  # many strips, odd height
    strips = up.upscale_tensor(x)
    with torch.no_grad():
        whole = g(x[None])[0]
    torch.testing.assert_close(strips, whole, atol=2e-5, rtol=0)


@pytest.mark.slow
def test_bf16_is_visually_identical_on_the_benchmark_images() -> None:
    """With the bundled model, bf16 output is >= 45 dB PSNR from fp32 on Set5/Set14 (the rule
    precision=auto follows)."""
    from srgan.modelfiles.bundled import default_model

    from .conftest import shared_path

    name = default_model()
    if name is None:
        pytest.skip("no bundled model in this checkout")
    fp32 = Upscaler.from_pretrained(name, precision="fp32")
    bf16 = Upscaler.from_pretrained(name, precision="bf16")
    for folder in ("Set5", "Set14"):
        for path in sorted(shared_path("data", "benchmark", folder).glob("*.png")):
            image = read_image(path).rgb
            a, b = fp32.upscale_tensor(image).clamp(0, 1), bf16.upscale_tensor(image).clamp(0, 1)
            a, b = (a * 255).round(), (b * 255).round()
            psnr = 10 * np.log10(255**2 / max(torch.mean((a - b) ** 2).item(), 1e-12))
            assert psnr >= 45, f"{path.name}: {psnr:.1f} dB"
