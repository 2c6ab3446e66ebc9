from __future__ import annotations

import subprocess
import sys

import pytest


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_importing_the_package_and_building_the_cli_does_not_import_torch() -> None:
    out = run_python(
        "import sys, srgan; from srgan.cli import build_parser; build_parser(); "
        "print('torch' in sys.modules, 'PIL' in sys.modules, 'av' in sys.modules)"
    )
    assert out == "False False False"


def test_inference_does_not_import_training_code() -> None:
    code = "import sys, srgan.inference.upscaler, srgan.cli.upscale; print(sorted(m for m in sys.modules if m.startswith('srgan.training')))"
    assert run_python(code) == "[]"


def test_lazy_top_level_names() -> None:
    assert run_python("import srgan; print(srgan.Upscaler.__name__, srgan.imresize.__name__)") == "Upscaler imresize"


FREED_RSS = """
import sys, torch
from srgan.runtime import return_freed_memory, reuse_host_memory
if sys.argv[1] in ("reuse", "server"):
    assert reuse_host_memory() and reuse_host_memory(), "glibc: the policy is in force, and idempotent"
if sys.argv[1] == "server":  # srgan serve: freed memory goes back, whatever an Upscaler asks later
    return_freed_memory()
    assert not reuse_host_memory()
def rss():
    return next(int(l.split()[1]) // 1024 for l in open("/proc/self/status") if l.startswith("VmRSS:"))
before = rss()
t = torch.ones(48 << 20)  # 192 MiB, touched
del t
print(rss() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and /proc are Linux's")
def test_cpu_inference_keeps_freed_feature_maps_for_reuse() -> None:
    """With the policy a freed 192 MiB tensor stays with the process for the next one (no fresh,
    zero-filled pages); without it, or in a server that chose to return memory, glibc returns it to
    the system at once."""

    def kept(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", FREED_RSS, mode], capture_output=True, text=True, check=True)
        return int(done.stdout.strip().splitlines()[-1])

    assert kept("reuse") > 150
    assert kept("default") < 50
    assert kept("server") < 50


def test_the_training_config_imports_without_torch() -> None:
    # cli/train.py reads the presets and stages from it while building the parser
    code = "import srgan.training.config, sys; print('torch' in sys.modules, 'PIL' in sys.modules)"
    assert run_python(code) == "False False"
