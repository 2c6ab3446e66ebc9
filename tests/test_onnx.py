"""ONNX export: parity with PyTorch and the onnxruntime backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from srgan.cli import main
from srgan.inference.upscaler import Upscaler

# ---- ONNX -----------------------------------------------------------------------------------


def test_onnx_export_parity_and_backend(model_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from srgan.modelfiles.loader import load_generator
    from srgan.modelfiles.onnx import parity

    onnx_path = tmp_path / "m.onnx"
    assert main(["export", "--model", str(model_file), "--format", "onnx", "-o", str(onnx_path)]) == 0
    g = load_generator(model_file)
    assert parity(g, onnx_path, ((24, 32), (37, 29))) <= 1e-4
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert meta["scale"] == "2" and "[0, 1]" in meta["value_range"]
    assert not any(n.op_type == "BatchNormalization" for n in onnx.load(str(onnx_path)).graph.node)
    image = np.random.default_rng(5).integers(0, 256, (21, 33, 3), dtype=np.uint8)
    via_onnx = Upscaler.from_pretrained(onnx_path).upscale(image)
    via_torch = Upscaler.from_pretrained(model_file, precision="fp32").upscale(image)
    assert np.abs(via_onnx.astype(int) - via_torch.astype(int)).max() <= 1
    assert main(["export", "--model", str(model_file), "-o", str(onnx_path)]) == 2  # exists: no overwrite
