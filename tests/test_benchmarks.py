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


SMOKED_HERE = ["degradation_speed.py", "serve_load.py", "train_speed.py", "upscale_speed.py"]
# Smoke-run by the tests of their own area (with their optional extra, PyAV).
SMOKED_ELSEWHERE = {
    "video_speed.py": "test_video.py",
    "video_flicker.py": "test_video.py",
    "zoo_speed.py": "test_zoo.py",
}


def test_every_benchmark_script_is_smoke_run_by_the_suite() -> None:
    scripts = {p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_")}
    assert scripts == {*SMOKED_HERE, *SMOKED_ELSEWHERE}, "a new benchmark needs a --smoke run in the suite"
    for script, test_file in SMOKED_ELSEWHERE.items():
        text = (ROOT / "tests" / test_file).read_text()
        assert f'"{script}"' in text and '"--smoke"' in text, (script, test_file)


@pytest.mark.parametrize("script", SMOKED_HERE)
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
