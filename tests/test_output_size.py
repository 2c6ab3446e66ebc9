"""--outscale / --width / --height give exact sizes; --skip-existing skips only complete outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srgan.cli import main
from srgan.inference.files import OutputSize


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (OutputSize(outscale=3), (90, 60)),
        (OutputSize(outscale=6), (180, 120)),
        (OutputSize(outscale=0.5), (15, 10)),
        (OutputSize(width=100), (100, 67)),
        (OutputSize(height=50), (75, 50)),
        (OutputSize(width=100, height=50), (75, 50)),  # fits inside the box, aspect kept
        (OutputSize(), None),
    ],
)
def test_output_size_rules(size: OutputSize, expected: tuple[int, int] | None) -> None:
    assert size.target(30, 20) == expected


def test_output_size_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="either an output scale or a width/height"):
        OutputSize(outscale=2, width=10)
    with pytest.raises(ValueError, match="height must be above 0 and at most 1,048,576, got 0"):
        OutputSize(height=0)
    for value in (float("inf"), 1e308, float("nan"), -1.0):  # never an OverflowError deep in the resampling
        with pytest.raises(ValueError, match="the output outscale must be above 0 and at most 64"):
            OutputSize(outscale=value)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "in" / "p.png"
    path.parent.mkdir()
    im = Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    im.save(path, dpi=(72, 72))
    return path


@pytest.mark.parametrize(
    ("flags", "size", "dpi"),
    [(["--outscale", "3"], (90, 60), 216), (["--width", "100"], (100, 67), 240), (["--height", "50"], (75, 50), 180)],
)
def test_the_cli_writes_exact_sizes_with_dpi_following_the_real_factor(
    model_file: Path, photo: Path, tmp_path: Path, flags: list[str], size: tuple[int, int], dpi: int
) -> None:
    out = tmp_path / "o.png"
    assert main(["upscale", str(photo), "-o", str(out), "--model", str(model_file), "-q", *flags]) == 0
    with Image.open(out) as im:
        assert im.size == size
        assert round(im.info["dpi"][0]) == dpi


def test_skip_existing_skips_only_complete_outputs(
    model_file: Path, photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = photo.with_name("q.png")
    Image.open(photo).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(other)
    out = tmp_path / "out"
    command = ["upscale", str(photo.parent), "-o", str(out), "--model", str(model_file), "-q", "--skip-existing"]
    assert main(command) == 0
    done = out / "p_x2.png"
    first = done.stat().st_mtime_ns
    (out / "q_x2.png").unlink()
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert "upscaled 1 of 1" in printed and "skipped 1 image(s)" in printed
    assert done.stat().st_mtime_ns == first, "a complete output is not redone"
    (out / "q_x2.png").write_bytes((out / "q_x2.png").read_bytes()[:60])  # a cut file is not complete
    assert main(command) == 1
    assert "exists but is not a complete output" in capsys.readouterr().err
