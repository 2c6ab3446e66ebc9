"""Inference: loading generators, tiled upscaling, image-mode handling. Never imports training code."""
