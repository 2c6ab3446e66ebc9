"""Every script in benchmarks/ runs in its smoke mode (tiny sizes, one repeat) and prints its table, so a
change of the API a benchmark uses fails here rather than when someone next measures."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
# The optional packages each benchmark needs beyond the core install (their extra in pyproject.toml).
NEEDS = {
    "serve_load.py": ("httpx", "fastapi"),  # web
    "upscale_speed.py": ("onnx", "onnxruntime"),  # onnx
}


def test_every_benchmark_script_is_listed_here() -> None:
    scripts = {p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_")}
    assert scripts == {"degradation_speed.py", "serve_load.py", "train_speed.py", "upscale_speed.py"}


@pytest.mark.parametrize("script", ["degradation_speed.py", "serve_load.py", "train_speed.py", "upscale_speed.py"])
def test_benchmark_runs_in_smoke_mode_and_prints_its_table(script: str, tmp_path: Path) -> None:
    missing = [m for m in NEEDS.get(script, ()) if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{script} needs {', '.join(missing)} (an optional extra), which is not installed")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # nothing it writes may land in the repository
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| "))
    assert lines[header + 1].startswith("|--")
    assert lines[header + 2].startswith("| ")  # at least one row
    assert list(tmp_path.iterdir()) == []
