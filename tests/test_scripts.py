"""The diagnostic scripts' own arithmetic (their model runs are the library's, tested elsewhere)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

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
