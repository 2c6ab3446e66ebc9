"""torchrun -m srgan upscale: the inputs sharded by rank, each processed exactly once, one summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from .conftest import TORCHRUN_2, torchrun_env


def test_torchrun_shards_a_folder_and_processes_each_input_exactly_once(model_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "out"
    upscale = [
        "-m",
        "srgan",
        "upscale",
        str(folder),
        "-o",
        str(out),
        "--model",
        str(model_file),
        "--device",
        "cpu",
        "-q",
    ]
    cmd = [sys.executable, *TORCHRUN_2, *upscale]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=torchrun_env())
    assert done.returncode == 0, done.stdout + done.stderr
    # one summary (rank 0's), counting every rank's work: a twice-processed input would count 6 (or
    # fail on the existing output), a skipped one 4
    assert done.stdout.count("upscaled ") == 1 and "upscaled 5 of 5 image(s) x2" in done.stdout, done.stdout
    assert "in 2 processes" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == [f"{i}_x2.png" for i in range(5)]
    for i in range(5):
        assert Image.open(out / f"{i}_x2.png").size == (32, 24)


def test_under_torchrun_a_bad_image_is_a_per_image_failure_with_the_usual_summary(
    model_file: Path, tmp_path: Path
) -> None:
    import re

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.zeros((12, 16, 3), np.uint8)).save(folder / f"{i}.png")
    (folder / "9bad.png").write_bytes(b"\x89PNG broken")

    def upscale(launcher: list[str], out: Path) -> subprocess.CompletedProcess[str]:
        args = ["-m", "srgan", "upscale", str(folder), "-o", str(out), "--model", str(model_file), "--device", "cpu"]
        cmd = [sys.executable, *launcher, *args, "-q"]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=torchrun_env())

    alone, sharded = upscale([], tmp_path / "a"), upscale(TORCHRUN_2, tmp_path / "b")
    assert alone.returncode == sharded.returncode == 1, sharded.stderr
    # rank 0's summary, whole, once: the same as without torchrun but for the process count
    assert sharded.stdout.replace(" in 2 processes", "") == alone.stdout, sharded.stdout
    problems = f"1 problem(s):\n  {folder / '9bad.png'}: not a readable image"
    assert problems in alone.stderr and sharded.stderr.count(problems) == 1, sharded.stderr
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [f"{i}_x2.png" for i in range(4)]
    # only rank 0 reports the status; another rank exiting 1 made the launcher kill rank 0 mid-summary
    assert not re.search(r"rank\s+: [1-9]\d* \(local_rank: \d+\)\s+exitcode\s+: 1 ", sharded.stderr), sharded.stderr
