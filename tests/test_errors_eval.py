"""`srgan eval` validates before it works; bad images are named and the rest still scored."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srgan.cli import main

from .errors import fails_with_one_sentence


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "hr"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(folder / name)
    return folder


def test_bad_options_are_refused_before_any_work(
    model_file: Path, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    model = ["--model", str(model_file), "--scale", "2"]
    cases = [
        (["--data", str(tmp_path / "empty")], f"data folder {tmp_path / 'empty'} holds no image files"),
        (["--data", str(tmp_path / "nope")], f"data folder {tmp_path / 'nope'} does not exist"),
        (["--data", str(data), "--json", str(tmp_path / "no" / "r.json")], "the folder"),
        (["--data", str(data), "--json", str(data)], "is a folder; give a file name"),
        (["--data", str(data), "--device", "tpu"], "unknown device 'tpu'"),
        (["--data", str(data), "--strength", "2"], "argument --strength: takes a number from 0 to 1, got 2"),
        (["--data", str(data), "--strength", "0.5,nan"], "argument --strength: takes a number from 0 to 1, got 'nan'"),
    ]
    for extra, message in cases:
        fails_with_one_sentence(capsys, ["eval", *model, *extra], message, folder=tmp_path)
    (tmp_path / "junk.pth").write_bytes(b"junk")
    fails_with_one_sentence(
        capsys, ["eval", "--model", str(tmp_path / "junk.pth"), "--data", str(data)], "junk.pth is not a PyTorch"
    )


def test_an_unreadable_or_too_small_image_is_named_and_the_others_scored(
    model_file: Path, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data / "broken.png").write_bytes(b"\x89PNG broken")
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(data / "tiny.png")
    out = tmp_path / "r.json"
    argv = ["eval", "--model", str(model_file), "--scale", "2", "--data", str(data), "--json", str(out), "--no-niqe"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "2 image(s) left out" in captured.err
    assert f"{data / 'broken.png'}: not a readable image" in captured.err
    assert f"{data / 'tiny.png'}: 12x12 is too small to score at x2" in captured.err
    assert "Traceback" not in captured.err
    report = json.loads(out.read_text())["datasets"][0]
    assert report["num_images"] == 2 and len(report["left_out"]) == 2
