"""`srgan export` and `srgan serve` refuse bad set-ups with one sentence, before doing any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from .errors import fails_with_one_sentence


def test_export_onnx_without_the_extra_names_the_install_command(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    argv = ["export", "--model", str(model_file), "--format", "onnx", "-o", str(tmp_path / "m.onnx")]
    fails_with_one_sentence(capsys, argv, "ONNX export needs onnxruntime: pip install 'srgan[onnx]'", folder=tmp_path)


def test_export_refuses_a_bad_model_and_an_existing_output(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "junk.pth").write_bytes(b"junk")
    fails_with_one_sentence(
        capsys,
        ["export", "--model", str(tmp_path / "junk.pth"), "--format", "safetensors", "-o", str(tmp_path / "o.st")],
        "junk.pth is not a PyTorch or safetensors model file",
        folder=tmp_path,
    )
    fails_with_one_sentence(
        capsys,
        ["export", "--model", str(model_file), "--format", "safetensors", "-o", str(tmp_path / "junk.pth")],
        "already exists (use --overwrite to replace it)",
        folder=tmp_path,
    )


def test_serve_checks_every_model_at_start_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("fastapi", reason="srgan serve needs the web extra")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    argv = ["serve", "--model", "srresnet-x4", "--model", str(tmp_path / "junk.pth"), "--port", "1"]
    fails_with_one_sentence(capsys, argv, "junk.pth is not a PyTorch or safetensors model file", folder=tmp_path)
