"""Exporting generators for deployment: safetensors (with config) and ONNX."""
