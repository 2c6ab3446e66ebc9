"""Data: MATLAB-compatible bicubic resizing, image decoding, and the training dataset."""

from srgan.data.imresize import imresize

__all__ = ["imresize"]
