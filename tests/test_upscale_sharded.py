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
