"""The one error of the model-file package."""

from __future__ import annotations


class ModelLoadError(ValueError):
    """A model file srgan cannot use; the message names the file and the problem in one sentence."""
