"""`srgan upscale` with bad options and inputs: one sentence, the right status, nothing left behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .errors import fails_with_one_sentence, snapshot


@pytest.fixture
def work(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    frames = [Image.fromarray(np.full((16, 16, 3), i * 60, np.uint8)) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=80, loop=0)
    frames[0].save(tmp_path / "anim.webp", save_all=True, append_images=frames[1:], duration=80)
    frames[0].save(tmp_path / "pages.tif", save_all=True, append_images=frames[1:])
    (tmp_path / "notes.txt").write_text("not a folder")
    return tmp_path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--threads", "0"], "argument --threads: takes a whole number of at least 1, got 0"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--suffix", "x/y"], "--suffix 'x/y' contains a path separator"),
        (["--quality", "0"], "argument --quality: takes a whole number from 1 to 100, got 0"),
        (["--strength", "-1"], "argument --strength: takes a number from 0 to 1, got -1"),
        (["--outscale", "2", "--width", "10"], "either an output scale or a width/height"),
        (["-o", "{dir}/out.gif"], "srgan cannot write .gif files"),
        (["-o", "{dir}/notes.txt"], "-o {dir}/notes.txt is an existing file, not a folder"),
        (["{dir}/anim.gif", "-o", "{dir}/one.png"], "-o {dir}/one.png names one file, but 2 images were given"),
        (["--format", "jpg", "-o", "{dir}/o.png"], "--format jpg contradicts -o"),
    ],
)
def test_bad_options_get_one_sentence_and_touch_nothing(
    model_file: Path, work: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    argv = ["upscale", str(work / "a.png"), *(e.format(dir=work) for e in extra), "--model", str(model_file), "-q"]
    fails_with_one_sentence(capsys, argv, message.format(dir=work), folder=work)


@pytest.mark.parametrize("name", ["pages.tif"])  # animated GIF/WebP/APNG are upscaled whole: tests/test_video.py
def test_animations_and_multipage_files_are_refused_not_cut_to_one_frame(
    model_file: Path, work: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    out = work / "out"
    err = fails_with_one_sentence(
        capsys, ["upscale", str(work / name), "-o", str(out), "--model", str(model_file), "-q"], "has 3 ", status=1
    )
    assert f"{work / name}: has 3 " in err and "extract the frames" in err
    assert not out.exists() or not any(out.iterdir())


def test_one_input_to_a_tif_file_writes_that_file(model_file: Path, work: Path) -> None:
    from srgan.cli import main

    before = snapshot(work)
    assert main(["upscale", str(work / "a.png"), "-o", str(work / "big.tif"), "--model", str(model_file), "-q"]) == 0
    with Image.open(work / "big.tif") as im:
        assert im.format == "TIFF" and im.size == (32, 32)
    assert {k: v for k, v in snapshot(work).items() if k != "big.tif"} == before


def test_sigterm_leaves_no_temp_file_and_stale_ones_are_removed(model_file: Path, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    # a large input so the process is still working when the signal comes
    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (700, 700, 3), dtype=np.uint8)).save(big)
    out = tmp_path / "out.png"
    stale = tmp_path / f".{out.name}.999999.tmp"  # left by a killed run whose process is gone
    stale.write_bytes(b"partial")
    cmd = [
        sys.executable,
        "-m",
        "srgan",
        "upscale",
        str(big),
        "-o",
        str(out),
        "--model",
        str(model_file),
        "-q",
        "--precision",
        "fp32",
        "--threads",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not list(tmp_path.glob(f".{out.name}.{proc.pid}.tmp")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    if proc.poll() is not None:
        pytest.skip("the upscale finished before the signal could be sent")
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert not list(tmp_path.glob(".*.tmp")), "no temp file left, and the stale one is gone"
    assert not out.exists()


def test_a_job_that_cannot_fit_in_memory_is_refused_before_it_starts(
    model_file: Path, work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import srgan.inference.budget as budget_module

    big = work / "big.png"
    Image.fromarray(np.zeros((600, 800, 3), np.uint8)).save(big)
    monkeypatch.setattr(budget_module, "available_memory", lambda: 300 << 20)  # a small machine: 300 MiB free
    decoded = []
    import srgan.inference.files as files_module

    real_read = files_module.read_image
    monkeypatch.setattr(files_module, "read_image", lambda *a, **k: decoded.append(1) or real_read(*a, **k))
    err = fails_with_one_sentence(
        capsys, ["upscale", str(big), "-o", str(work / "o.png"), "--model", str(model_file), "-q"], "needs about", 1
    )
    assert f"{big}: upscaling 800x600 to 1600x1200 needs about" in err and "but only 0.3 GiB is available" in err
    assert "tile" not in err.split("needs about")[1], "the message never blames the tile size"
    assert not decoded, "refused before decoding"
    assert not (work / "o.png").exists()
