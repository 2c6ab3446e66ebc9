from __future__ import annotations

import subprocess
import sys


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_importing_the_package_and_building_the_cli_does_not_import_torch() -> None:
    out = run_python(
        "import sys, srgan; from srgan.cli import build_parser; build_parser(); print('torch' in sys.modules, 'PIL' in sys.modules)"
    )
    assert out == "False False"


def test_inference_does_not_import_training_code() -> None:
    code = "import sys, srgan.inference.upscaler, srgan.cli.upscale; print(sorted(m for m in sys.modules if m.startswith('srgan.training')))"
    assert run_python(code) == "[]"


def test_lazy_top_level_names() -> None:
    assert run_python("import srgan; print(srgan.Upscaler.__name__, srgan.imresize.__name__)") == "Upscaler imresize"
