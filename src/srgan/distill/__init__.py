"""Distillation: a fast student trained on a slow teacher's outputs. ``targets`` makes the teacher-target
cache (``srgan distill targets``); training reads it through ``srgan.data.teacher_cache``."""
