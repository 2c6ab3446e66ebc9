"""`srgan upscale` with bad input: reported, the rest processed, nothing overwritten."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan.cli import main
from srgan.imageio import ReadPolicy, read_image

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
    assert f"needs the folder {tmp_path / 'file'}, which is a file" in capsys.readouterr().err


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


def test_read_image_reports_decompression_bombs(tmp_path: Path) -> None:
    from srgan.imageio import ImageReadError

    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(tmp_path / "x.png")
    with pytest.raises(ImageReadError, match="exceeds the limit"):
        read_image(tmp_path / "x.png", ReadPolicy(max_pixels=5000))
    assert read_image(tmp_path / "x.png", ReadPolicy(max_pixels=20000)).size == (100, 100)
