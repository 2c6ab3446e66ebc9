"""The training datasets' sample streams are a contract: a seed and a stream position give the same sample
on every run, so a resumed or re-run training sees what it saw before. The digests below were recorded
from the code before ``SRTrainDataset`` and ``TeacherCacheDataset`` shared their crop-and-flip draw and
their next-readable-file loop (the change that made them one helper); any later change to the draw order,
the crops, the flips or the fallback shows here as a different digest.

What is hashed is what does not depend on the float arithmetic of a library version: crops and flips of
8-bit pixels (exact in float32), the teacher/photo mix, and the JPEG grids (which record the draws made
after the flips); the bicubic and JPEG LRs are left out (their bits follow the BLAS and libjpeg in use)."""

from __future__ import annotations

import hashlib
import itertools
import logging
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan.data.dataset import InfiniteSampler, SampleKey, SRTrainDataset
from srgan.data.teacher_cache import (
    ITEMS,
    MANIFEST,
    CachedItem,
    CacheManifest,
    TeacherCacheDataset,
    encode_item,
    item_path,
)
from srgan.schema import RealisticConfig

SAMPLES = 24  # per stream: several epochs of the small folders below
SEEDS = (0, 7)


def photo_folder(folder: Path, sizes: list[tuple[int, int]], seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, (w, h) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"img{i:02d}.png")
    return folder


def teacher_cache(folder: Path) -> Path:
    """A cache of synthetic items (sizes as a photo's edge leaves them, grids or none) and its manifest."""
    rng = np.random.default_rng(3)
    (folder / ITEMS).mkdir(parents=True)
    shapes = [(24, 24), (20, 30), (8, 12), (24, 9), (16, 16)]
    grids = [(-1, -1), (3, 5), (0, 7), (-1, -1), (6, 1)]
    for index, ((h, w), grid) in enumerate(zip(shapes, grids, strict=True)):
        item = CachedItem(
            lr=rng.integers(0, 256, (3, h, w), dtype=np.uint8),
            teacher=rng.integers(0, 256, (3, 4 * h, 4 * w), dtype=np.uint8),
            hr=rng.integers(0, 256, (3, 4 * h, 4 * w), dtype=np.uint8),
            grid=np.array(grid, dtype=np.int64),
        )
        item_path(folder, index).write_bytes(encode_item(item))
    manifest = CacheManifest(
        teacher_sha256="0" * 64,
        scale=4,
        degradation="bicubic",
        realistic=None,
        seed=0,
        patch=32,
        crop=24,
        context=4,
        precision="fp32",
        photos_sha256="1" * 64,
        photos=5,
        teacher="synthetic",
    )
    (folder / MANIFEST).write_text(manifest.to_json())
    return folder


def digest(dataset: SRTrainDataset | TeacherCacheDataset, seed: int, with_lr: bool = True) -> str:
    h = hashlib.sha256()
    for key in itertools.islice(InfiniteSampler(len(dataset), seed), SAMPLES):
        sample = dataset[key]
        fields = (sample.lr, sample.hr, sample.jpeg_grid) if with_lr else (sample.hr, sample.jpeg_grid)
        for tensor in fields:
            h.update(tensor.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def break_file(path: Path) -> None:
    """Cut a file short after the dataset has listed it: its samples fall over to the next readable file."""
    path.write_bytes(path.read_bytes()[:100])


def sr_streams(root: Path) -> dict[str, Callable[[int], str]]:
    sizes = [(50, 40), (64, 64), (41, 77), (32, 33)]
    hr = photo_folder(root / "hr", sizes, seed=1)
    lr = root / "lr"
    lr.mkdir()
    for path in sorted(hr.iterdir()):  # paired LR files at x4, of their own random pixels
        w, h = Image.open(path).size
        pixels = np.random.default_rng(w * h).integers(0, 256, (h // 4, w // 4, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(lr / path.name)
    broken_hr = photo_folder(root / "broken", sizes, seed=2)
    broken = SRTrainDataset([broken_hr], 4, 32)
    break_file(broken_hr / "img01.png")
    jpeg = RealisticConfig(light_prob=0.5, jpeg_grid_shift=True)
    return {
        "bicubic": lambda s: digest(SRTrainDataset([hr], 4, 32), s, with_lr=False),
        "bicubic, no flips": lambda s: digest(SRTrainDataset([hr], 4, 32, augment=False), s, with_lr=False),
        "paired LR": lambda s: digest(SRTrainDataset([hr], 4, 32, lr_dirs=[lr]), s),
        "realistic, JPEG grid": lambda s: digest(SRTrainDataset([hr], 4, 32, degradation=jpeg), s, False),
        "a file broken mid-run": lambda s: digest(broken, s, with_lr=False),
    }


def cache_streams(root: Path) -> dict[str, Callable[[int], str]]:
    cache = teacher_cache(root / "cache")
    broken = TeacherCacheDataset(teacher_cache(root / "broken"), 4, 32)
    break_file(item_path(root / "broken", 1))
    return {
        "teacher": lambda s: digest(TeacherCacheDataset(cache, 4, 32), s),
        "teacher, no flips": lambda s: digest(TeacherCacheDataset(cache, 4, 32, augment=False), s),
        "teacher and photo": lambda s: digest(TeacherCacheDataset(cache, 4, 32, hr_weight=0.25), s),
        "smaller patch": lambda s: digest(TeacherCacheDataset(cache, 4, 16), s),
        "an item broken mid-run": lambda s: digest(broken, s),
    }


# Recorded from the code before the shared helper (see the module's docstring), seeds 0 and 7.
RECORDED: dict[str, tuple[str, str]] = {
    "bicubic": ("6244c6b621d639d0", "66c96f218d67c777"),
    "bicubic, no flips": ("b0455fb34b76863e", "e78eeb78a2b78a84"),
    "paired LR": ("83b75c5be4dce530", "2d6bfecd2d0f0fc9"),
    "realistic, JPEG grid": ("953d282bbdc40632", "e88bd3c6fba53ba4"),
    "a file broken mid-run": ("565da6d15109880f", "8a58811bfebc6cfb"),
    "teacher": ("51a6aa65d8669b18", "8cfd449fd38f6fdc"),
    "teacher, no flips": ("a2edfc2e1943dcad", "f762e16fc21c15d6"),
    "teacher and photo": ("efcbf17378048b73", "f2545e1194eddd2e"),
    "smaller patch": ("539fbdff96b6b694", "95fd0dc377bee038"),
    "an item broken mid-run": ("712592c788a7077e", "16fc32128d6cff63"),
}


def streams(root: Path) -> dict[str, Callable[[int], str]]:
    (root / "sr").mkdir()
    (root / "teacher").mkdir()
    return {**sr_streams(root / "sr"), **cache_streams(root / "teacher")}


def test_both_datasets_sample_streams_are_what_they_were(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        found = {name: tuple(stream(seed) for seed in SEEDS) for name, stream in streams(tmp_path).items()}
    assert found == RECORDED
    assert "img01.png" in caplog.text and "00000001.npz" in caplog.text  # the broken files were met and skipped


def test_without_a_weight_on_the_photos_an_items_photo_is_not_decoded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    intact = teacher_cache(tmp_path / "intact")
    cache = teacher_cache(tmp_path / "cache")
    path = item_path(cache, 2)
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    members["hr.npy"] = members["hr.npy"][:200]  # the photo's pixels cut short: decoding them fails
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    keys = [SampleKey(2, seed) for seed in range(6)]
    with caplog.at_level(logging.ERROR):
        found = [TeacherCacheDataset(cache, 4, 32)[key] for key in keys]
    assert "skipping" not in caplog.text
    expected = [TeacherCacheDataset(intact, 4, 32)[key] for key in keys]
    for a, b in zip(found, expected, strict=True):
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    with caplog.at_level(logging.ERROR):
        TeacherCacheDataset(cache, 4, 32, hr_weight=0.25)[keys[0]]
    assert f"skipping {path}: not a readable cache item" in caplog.text
