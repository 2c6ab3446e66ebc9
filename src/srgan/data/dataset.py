"""The training dataset: random HR patches from image folders, LR made on the fly.

Determinism: every sample is drawn from a torch.Generator seeded by (seed, position in the
sample stream), never from a worker's global RNG. So the batches depend only on the seed and
the iteration, not on the number of DataLoader workers or processes, and resuming at iteration
N reproduces exactly what an uninterrupted run would have seen.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from srgan.data.degradations import Grid, RealisticConfig, jpeg_of_lr, realistic_lr_and_grid
from srgan.data.imresize import imresize
from srgan.imageio import ImageReadError, find_images, image_size, quantize, read_tensor, to_float, to_rgb

log = logging.getLogger(__name__)

# Samples are keyed by a 63-bit seed; this mixes (seed, position) into one (splitmix64).
_MASK = (1 << 64) - 1


def mix_seed(seed: int, position: int) -> int:
    z = (seed * 0x9E3779B97F4A7C15 + position + 1) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return (z ^ (z >> 31)) >> 1


@dataclass(frozen=True)
class SampleKey:
    """What the sampler hands the dataset: which image, and the seed of its crop and flips."""

    index: int
    seed: int


NO_GRID = (-1, -1)


class TrainSample(NamedTuple):
    """One training pair; batched by the DataLoader field by field."""

    lr: torch.Tensor  # (3, p/s, p/s) in [0, 1]
    hr: torch.Tensor  # (3, p, p) in [0, 1]
    # int64 (2,): where the 8x8 block grid of the LR's last JPEG starts (row, column), NO_GRID when the LR
    # did not end with a JPEG made here (clean, resized after its JPEG, or read from an LR folder)
    jpeg_grid: torch.Tensor


class SRTrainDataset(Dataset[TrainSample]):
    """(LR, HR) float pairs in [0, 1]: LR (3, p/s, p/s), HR (3, p, p), with where the LR's JPEG grid lies.

    ``lr_dirs``: optional folders of pre-made LR images, matched to HR files by relative path
    (any extension); otherwise LR = MATLAB-bicubic(HR patch), rounded to 8 bits as a saved LR
    image would be. Images smaller than the patch are left out and reported once, by name.
    """

    def __init__(
        self,
        hr_dirs: Sequence[str | os.PathLike[str]],
        scale: int,
        patch_size: int,
        augment: bool = True,
        lr_dirs: Sequence[str | os.PathLike[str]] | None = None,
        cache: bool = False,
        degradation: RealisticConfig | None = None,
    ) -> None:
        if patch_size % scale:
            raise ValueError(f"patch_size {patch_size} is not a multiple of the scale {scale}")
        self.scale, self.patch_size, self.augment = scale, patch_size, augment
        if degradation is not None and lr_dirs:
            raise ValueError("paired LR folders and a degradation pipeline exclude each other; choose one")
        self.degradation = degradation
        files = find_images(hr_dirs)
        self.lr_files = _match_lr_files(files, hr_dirs, lr_dirs) if lr_dirs else None
        sizes = {}
        self.skipped_broken: list[str] = []
        for i, path in enumerate(files):
            try:
                sizes[i] = image_size(path)
            except ImageReadError as exc:
                self.skipped_broken.append(str(exc))
        if self.skipped_broken:
            log.error(
                "leaving out %d unreadable file(s): %s",
                len(self.skipped_broken),
                "; ".join(self.skipped_broken),
            )
        keep = [i for i, (w, h) in sizes.items() if min(w, h) >= patch_size]
        small = [f"{files[i]} ({w}x{h})" for i, (w, h) in sizes.items() if min(w, h) < patch_size]
        if small:
            log.warning(
                "leaving out %d image(s) smaller than the %dpx patch: %s",
                len(small),
                patch_size,
                ", ".join(small),
            )
        if not keep:
            raise ValueError(f"no training image is at least {patch_size}x{patch_size} pixels")
        self.files = [files[i] for i in keep]
        if self.lr_files is not None:
            self.lr_files = [self.lr_files[i] for i in keep]
            for i, lr_file in zip(keep, self.lr_files, strict=True):
                w, h = sizes[i]
                if image_size(lr_file) != (w // scale, h // scale):
                    lw, lh = image_size(lr_file)
                    raise ValueError(
                        f"{lr_file} is {lw}x{lh}, but its HR image {files[i]} ({w}x{h}) at x{scale} needs "
                        f"{w // scale}x{h // scale}; is the LR folder made for another scale?"
                    )
        self.skipped_small = small
        self._cache: dict[int, tuple[torch.Tensor, torch.Tensor | None]] | None = None
        if cache:
            self._cache = {i: self._decode(i) for i in range(len(self.files))}

    def __len__(self) -> int:
        return len(self.files)

    def _decode(self, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        hr = read_tensor(self.files[index])
        lr = read_tensor(self.lr_files[index]) if self.lr_files is not None else None
        if (
            self.lr_files is not None
            and lr is not None
            and (lr.shape[-2] * self.scale > hr.shape[-2] or lr.shape[-1] * self.scale > hr.shape[-1])
        ):
            raise ImageReadError(f"{self.lr_files[index]}: LR is larger than HR / {self.scale}")
        return hr, lr

    def _load(self, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Decoded (HR, LR or None); a file that fails to decode is reported by path and the
        next image stands in, so one bad file cannot stop a long run."""
        if self._cache is not None:
            return self._cache[index]
        return first_readable(
            index, len(self.files), self._decode, ImageReadError, "no training image could be decoded"
        )

    def __getitem__(self, key: SampleKey | int) -> TrainSample:
        if isinstance(key, int):
            key = SampleKey(key, mix_seed(0, key))
        hr, lr = self._load(key.index)
        g = torch.Generator().manual_seed(key.seed)
        s, p = self.scale, self.patch_size
        h, w = hr.shape[-2:]
        lr_patch = None
        if lr is None:
            crop = draw_crop(g, (h, w), p, self.augment)
            hr_patch = crop.flip(to_rgb(to_float(crop.take(hr))))
        else:  # on the LR grid, so the paired LR and HR windows stay aligned
            crop = draw_crop(g, (h // s, w // s), p // s, self.augment)
            hr_patch = crop.flip(to_rgb(to_float(crop.take(hr, s))))
            lr_patch = crop.flip(to_rgb(to_float(crop.take(lr))))
        grid: Grid = None
        if lr_patch is None:
            lr_patch, grid = make_lr(hr_patch, self.scale, self.degradation, g)
        return TrainSample(lr_patch.contiguous(), hr_patch.contiguous(), torch.tensor(grid or NO_GRID))


Item = TypeVar("Item")
Pixels = TypeVar("Pixels", torch.Tensor, np.ndarray)


def first_readable(
    start: int, count: int, read: Callable[[int], Item], unreadable: type[Exception], none_read: str
) -> Item:
    """``read(i)`` for the first i of start, start + 1, ... (round ``count``) that does not raise ``unreadable``:
    each that does is logged by its message and the next stands in, so one bad file cannot stop a long run;
    ``unreadable(none_read)`` when none can be read."""
    for attempt in range(count):
        try:
            return read((start + attempt) % count)
        except unreadable as exc:
            log.error("skipping %s", exc)
    raise unreadable(none_read)


class Crop(NamedTuple):
    """A training patch's square window on a pixel grid and its flips, as ``draw_crop`` drew them."""

    y: int
    x: int
    size: int
    flips: torch.Tensor | None  # (3,) bool for ``augment``; None without augmentation

    def take(self, image: Pixels, zoom: int = 1) -> Pixels:
        """The window of (..., H, W) ``image``, on a grid ``zoom`` times finer (the HR of an LR window)."""
        return image[..., self.y * zoom : (self.y + self.size) * zoom, self.x * zoom : (self.x + self.size) * zoom]

    def flip(self, image: torch.Tensor) -> torch.Tensor:
        return image if self.flips is None else augment(image, self.flips)


def draw_crop(g: torch.Generator, shape: tuple[int, int], size: int, flips: bool) -> Crop:
    """A ``size`` window placed uniformly on a (height, width) ``shape``, then its flips when ``flips``: the
    draws every training dataset makes first from a sample's generator, in this order (the streams depend on it)."""
    y = int(torch.randint(0, shape[0] - size + 1, (1,), generator=g))
    x = int(torch.randint(0, shape[1] - size + 1, (1,), generator=g))
    return Crop(y, x, size, torch.rand(3, generator=g) < 0.5 if flips else None)


def make_lr(hr: torch.Tensor, scale: int, cfg: RealisticConfig | None, g: torch.Generator) -> tuple[torch.Tensor, Grid]:
    """The LR of an HR patch: the protocol's bicubic, or with a realistic pipeline one of its branches
    (clean, light = bicubic + one JPEG, or the full two-round pipeline), all drawn from the sample's own
    generator, so the LR depends only on (seed, stream position); and where the block grid of its last
    JPEG starts."""
    u = 0.0  # the bicubic branch without a pipeline
    if cfg is not None:
        u = float(torch.rand((), generator=g)) if cfg.clean_prob or cfg.light_prob else 1.0
        if u >= cfg.clean_prob + cfg.light_prob:
            return realistic_lr_and_grid(hr, scale, cfg, g)
    lr = quantize(imresize(hr, 1.0 / scale))
    return jpeg_of_lr(lr, cfg, g) if cfg is not None and u >= cfg.clean_prob else (lr, None)


def augment(image: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Horizontal flip, vertical flip, transpose (with the flips: all 8 dihedral transforms)."""
    if flips[0]:
        image = image.flip(-1)
    if flips[1]:
        image = image.flip(-2)
    if flips[2]:
        image = image.transpose(-1, -2)
    return image


class InfiniteSampler(Sampler[SampleKey]):
    """An endless stream of SampleKeys: a fresh permutation of the images every epoch.

    Position ``start`` on is yielded (resume); with ``world_size`` > 1 each rank takes every
    world_size-th key of the same global stream, as DistributedSampler does, so ranks see
    disjoint samples and the union is the single-process stream.
    """

    def __init__(self, num_items: int, seed: int = 0, start: int = 0, rank: int = 0, world_size: int = 1) -> None:
        self.n, self.seed, self.start = num_items, seed, start
        self.rank, self.world = rank, world_size

    def __iter__(self) -> Iterator[SampleKey]:
        position = self.start * self.world + self.rank
        epoch, offset = divmod(position, self.n)
        while True:
            order = torch.randperm(self.n, generator=torch.Generator().manual_seed(mix_seed(self.seed, -1 - epoch)))
            while offset < self.n:
                yield SampleKey(int(order[offset]), mix_seed(self.seed, position))
                position += self.world
                offset += self.world
            epoch, offset = epoch + 1, offset - self.n


def _match_lr_files(
    hr_files: list[Path], hr_dirs: Sequence[str | os.PathLike[str]], lr_dirs: Sequence[str | os.PathLike[str]]
) -> list[Path]:
    if len(lr_dirs) != len(hr_dirs):
        raise ValueError("give one LR folder per HR folder")
    lr_by_stem: dict[str, Path] = {}
    for hr_dir, lr_dir in zip(hr_dirs, lr_dirs, strict=True):
        for lr in find_images([lr_dir]):
            lr_by_stem[str(Path(hr_dir) / lr.relative_to(lr_dir).with_suffix(""))] = lr
    matched = []
    for hr in hr_files:
        found = lr_by_stem.get(str(hr.with_suffix("")))
        if found is None:
            raise FileNotFoundError(f"no LR image matches {hr} in the LR folders")
        matched.append(found)
    return matched
