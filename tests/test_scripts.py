"""The diagnostic scripts' own arithmetic (their model runs are the library's, tested elsewhere)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from .conftest import shared_path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts" / "diagnostics"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _pattern(fy: float, fx: float, size: int = 64) -> np.ndarray:
    y, x = np.mgrid[:size, :size]
    return 128 + 2 * np.cos(2 * np.pi * (fy * y + fx * x))


def test_window_spectrum_tells_a_lattice_pattern_from_a_hatching_the_lattice_cannot_see() -> None:
    spectrum = _script("window_spectrum")
    lattice = spectrum.describe(_pattern(0.0, 0.25), peaks=1)
    hatching = spectrum.describe(_pattern(0.25, 0.125), peaks=1)
    flat = spectrum.describe(np.full((64, 64), 128.0), peaks=1)

    def field(text: str, key: str) -> float:
        return float(text.split(key)[1].split()[0])

    assert field(lattice, "lattice") > 1.0
    # Not exactly 0: the high-pass reflects at the window's edges.
    assert field(hatching, "lattice") < 0.01 * field(hatching, "high-pass")
    assert "(+0.250, +0.125) " in hatching or "(-0.250, -0.125) " in hatching
    assert field(flat, "high-pass") == 0.0


def test_niqe_vs_copy_calibrates_blur_against_the_teacher_and_scores_students_by_name(tmp_path: Path) -> None:
    """A student identical to the teacher is an infinite-PSNR copy with the teacher's NIQE; blurring the teacher
    lowers its PSNR-Y to itself step by step and, on a photo, raises NIQE; a student folder missing an image
    is refused with a sentence."""
    calibrate = _script("niqe_vs_copy")
    photo = Image.open(shared_path("data", "benchmark", "Set5", "baby.png")).convert("RGB").crop((0, 0, 256, 256))
    teacher, student, partial = tmp_path / "t", tmp_path / "s", tmp_path / "p"
    for folder in (teacher, student, partial):
        folder.mkdir()
    photo.save(teacher / "baby_sr.png")
    photo.save(student / "baby_sr.png")
    photo.rotate(90).save(teacher / "turned_sr.png")
    photo.rotate(90).save(student / "turned_sr.png")
    photo.save(partial / "baby_sr.png")

    table = calibrate.rows(teacher, [student], sigmas=(0.0, 0.6, 1.3))
    psnrs = [row[1] for row in table]
    assert psnrs[0] == psnrs[3] == float("inf") and psnrs[1] > psnrs[2]
    assert table[3][2] == table[0][2] < table[2][2]
    with pytest.raises(SystemExit, match=r"turned_sr\.png"):
        calibrate.rows(teacher, [partial], sigmas=(0.0,))
