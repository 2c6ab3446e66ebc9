"""Everything about model files, in one place: the training checkpoint schema, the safetensors
export, ONNX export/loading/parity, the bundled models, and ``open_model``."""
