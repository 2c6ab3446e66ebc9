"""Teacher targets: degraded LR crops of training photos and a teacher's output for them, cached on disk.

Item i of a cache is a pure function of (photos, degradation, seed, i): it takes the photo and the seed of
position i of ``InfiniteSampler``'s stream (the training dataset's), draws a crop of ``crop`` x ``crop`` LR
pixels in it, degrades the photo around it and runs the teacher (srgan's ``Upscaler``) on the crop with
``context`` LR pixels more on every side (the teacher's tile context: what keeps a tile within 1/255 of a
whole-image pass), then keeps the centre. So no border of the region the teacher saw can show in a target,
except the photo's own edges, which a whole-photo pass has too.

The layout trade on a CPU: the teacher's cost is per LR pixel it sees, (crop + 2 x context)^2, and a
target holds crop^2 of them. With realesrgan-x4plus's 32-pixel context a 64-pixel crop keeps 25% of
what the teacher computed, a 96-pixel crop 36%, a 128-pixel crop 44%; one item of the 96-pixel default
holds 16 disjoint 96x96 HR patches (the training dataset draws one at a random place per sample). Larger
crops are cheaper per target pixel but give fewer distinct photo places per hour.

Resumable: an item is one file written whole (``srgan.atomic``), present items are skipped, a missing or
truncated one is made again (with the same bytes). Sharded: with torchrun (RANK, WORLD_SIZE) rank r makes
the items i with i % world == r; no process group is needed.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import torch

from srgan.atomic import atomic_path, remove_stale_temps, remove_stale_temps_in
from srgan.data.dataset import NO_GRID, InfiniteSampler, SampleKey, make_lr
from srgan.data.degradations import RealisticConfig
from srgan.data.teacher_cache import (
    ITEMS,
    MANIFEST,
    CachedItem,
    CacheError,
    CacheManifest,
    encode_item,
    is_complete,
    item_path,
    moved_grid,
    read_manifest,
)
from srgan.imageio import ImageReadError, find_images, image_size, read_tensor, to_float, to_rgb
from srgan.inference.upscaler import Upscaler
from srgan.modelfiles.fingerprint import file_sha256

DEGRADATIONS = ("bicubic", "realistic")
DEFAULT_CROP = 96  # LR pixels: a 384x384 target at x4 (the module's docstring has the trade)


@dataclass(frozen=True)
class TargetSettings:
    teacher: Path
    photos: tuple[Path, ...]
    out: Path
    degradation: str = "realistic"
    realistic: RealisticConfig = field(default_factory=RealisticConfig)
    seed: int = 0
    patch: int = 96  # HR side of the training patches; every item holds at least one
    crop: int = DEFAULT_CROP
    max_items: int | None = None
    max_bytes: int | None = None  # for the whole cache; each of W ranks stops at a W-th of it
    precision: str = "fp32"
    log_every: int = 10  # items between progress lines


@dataclass
class Progress:
    made: int = 0
    skipped: int = 0  # already present
    bytes: int = 0  # this rank's items in the cache
    items: int = 0  # this rank's items in the cache
    seconds: float = 0.0
    patch_pixels: int = 0  # HR pixels of the targets made, for patches/s


@dataclass(frozen=True)
class Photos:
    files: list[Path]
    sizes: list[tuple[int, int]]  # (width, height)
    sha256: str  # of each file's folder (by position), path in it and byte size
    left_out: list[str]


def photo_list(folders: Sequence[Path], scale: int, patch: int) -> Photos:
    """The photos an item may come from: those at least ``patch`` pixels on both sides on the LR grid."""
    digest = hashlib.sha256()
    files, sizes, left_out = [], [], []
    for position, folder in enumerate(folders):
        for path in find_images([folder]):
            try:
                w, h = image_size(path)
            except ImageReadError as exc:
                left_out.append(str(exc))
                continue
            if min(w // scale, h // scale) * scale < patch:
                left_out.append(f"{path} ({w}x{h}) is smaller than the {patch}px patch")
                continue
            files.append(path)
            sizes.append((w, h))
            digest.update(f"{position}\0{path.relative_to(folder).as_posix()}\0{path.stat().st_size}\n".encode())
    if not files:
        raise FileNotFoundError(f"no photo in {', '.join(map(str, folders))} is at least {patch}x{patch} pixels")
    return Photos(files, sizes, digest.hexdigest(), left_out)


def open_cache(out: Path, manifest: CacheManifest) -> None:
    """Start a cache in ``out`` with ``manifest``, or check that the cache there was made the same way."""
    found = read_manifest(out)
    if found is not None:
        differences = found.differences(manifest)
        if differences:
            raise CacheError(
                f"{out} was made with {'; '.join(differences)}; give the same settings to add to it, "
                "or another --out folder"
            )
        return
    if out.exists() and any(not entry.name.startswith(".") for entry in os.scandir(out)):
        raise CacheError(f"{out} is not empty and holds no {MANIFEST}; give an empty or new --out folder")
    remove_stale_temps(out / MANIFEST)
    # every rank writes the same bytes, so concurrent first runs agree whichever rename lands last
    with atomic_path(out / MANIFEST) as tmp:
        tmp.write_text(manifest.to_json())


def layout(
    size: tuple[int, int], crop: int, context: int, scale: int, g: torch.Generator
) -> tuple[slice, slice, int, int]:
    """For a photo of ``size`` (width, height): the LR region the teacher sees (rows, columns) and where the
    kept centre starts in it; the centre is ``crop`` LR pixels (fewer where the photo is smaller), drawn
    uniformly, and the region adds ``context`` on every side the photo has room for."""
    lr_h, lr_w = size[1] // scale, size[0] // scale
    ch, cw = min(crop, lr_h), min(crop, lr_w)
    y = int(torch.randint(0, lr_h - ch + 1, (1,), generator=g))
    x = int(torch.randint(0, lr_w - cw + 1, (1,), generator=g))
    rows = slice(max(0, y - context), min(lr_h, y + ch + context))
    cols = slice(max(0, x - context), min(lr_w, x + cw + context))
    return rows, cols, y - rows.start, x - cols.start


def make_item(
    photo: torch.Tensor, key: SampleKey, settings: TargetSettings, teacher: Upscaler, context: int
) -> CachedItem:
    """Item ``key``: ``photo`` (C, H, W) degraded around a crop drawn from ``key.seed``, through the teacher."""
    s, crop = teacher.scale, settings.crop
    g = torch.Generator().manual_seed(key.seed)
    rows, cols, cy, cx = layout((photo.shape[-1], photo.shape[-2]), crop, context, s, g)
    region = to_rgb(to_float(photo[:, rows.start * s : rows.stop * s, cols.start * s : cols.stop * s]))
    realistic = settings.realistic if settings.degradation == "realistic" else None
    lr, grid = make_lr(region, s, realistic, g)
    ch, cw = min(crop, lr.shape[-2] - cy), min(crop, lr.shape[-1] - cx)
    with torch.inference_mode():  # one tile over the whole region: a fixed plan, whatever memory is free
        out = teacher.upscale_tensor(lr, tile=crop + 2 * context)
    keep = (slice(None), slice(cy * s, (cy + ch) * s), slice(cx * s, (cx + cw) * s))
    return CachedItem(
        lr=_u8(lr[:, cy : cy + ch, cx : cx + cw]),
        teacher=_u8(out[keep]),
        hr=_u8(region[keep]),
        grid=np.array(moved_grid(grid or NO_GRID, cy, cx), dtype=np.int64),
    )


def _u8(image: torch.Tensor) -> np.ndarray:
    return (image.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def shard() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) without it."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def keys(photos: int, seed: int, rank: int, world: int, max_items: int | None) -> Iterator[tuple[int, SampleKey]]:
    """(item index, its photo and seed) for this rank's items: the training sampler's stream, position = index."""
    index = rank
    for key in InfiniteSampler(photos, seed, rank=rank, world_size=world):
        if max_items is not None and index >= max_items:
            return
        yield index, key
        index += world


def generate(settings: TargetSettings, out: TextIO | None = None) -> Progress:
    """Fill the cache up to ``max_items`` / ``max_bytes`` with this rank's items; returns what it did.
    Progress lines go to ``out`` (default: standard output)."""
    out = out or sys.stdout
    if settings.degradation not in DEGRADATIONS:
        raise CacheError(f"--degradation must be one of {', '.join(DEGRADATIONS)}; got {settings.degradation!r}")
    if settings.max_items is None and settings.max_bytes is None:
        raise CacheError("give a bound: --max-items or --max-gb")
    teacher = Upscaler.from_pretrained(settings.teacher, device="cpu", precision=settings.precision)
    context = teacher.margin
    s = teacher.scale
    if settings.patch % s or settings.crop * s < settings.patch:
        raise CacheError(
            f"--patch {settings.patch} must be a multiple of the teacher's scale {s} and fit the "
            f"{settings.crop * s}px target of --crop {settings.crop}"
        )
    photos = photo_list(settings.photos, s, settings.patch)
    for reason in photos.left_out:
        print(f"leaving out {reason}", file=sys.stderr)
    manifest = CacheManifest(
        teacher_sha256=file_sha256(settings.teacher),
        scale=s,
        degradation=settings.degradation,
        realistic=settings.realistic if settings.degradation == "realistic" else None,
        seed=settings.seed,
        patch=settings.patch,
        crop=settings.crop,
        context=context,
        precision=teacher.precision,
        photos_sha256=photos.sha256,
        photos=len(photos.files),
        teacher=settings.teacher.name,
    )
    open_cache(settings.out, manifest)
    (settings.out / ITEMS).mkdir(exist_ok=True)
    remove_stale_temps_in(settings.out / ITEMS)  # what killed runs left; once, not per item: N files there
    rank, world = shard()
    budget = None if settings.max_bytes is None else settings.max_bytes // world
    progress = Progress()
    start = time.perf_counter()
    who = f"rank {rank}/{world}: " if world > 1 else ""
    for index, key in keys(len(photos.files), settings.seed, rank, world, settings.max_items):
        if budget is not None and progress.bytes >= budget:
            break
        path = item_path(settings.out, index)
        if is_complete(path):
            progress.skipped += 1
            progress.items += 1
            progress.bytes += path.stat().st_size
            continue
        item = make_item(read_tensor(photos.files[key.index]), key, settings, teacher, context)
        data = encode_item(item)
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        progress.made += 1
        progress.items += 1
        progress.bytes += len(data)
        progress.patch_pixels += item.teacher.shape[-1] * item.teacher.shape[-2]
        progress.seconds = time.perf_counter() - start
        if progress.made % settings.log_every == 0:
            print(who + report(progress, settings.patch), file=out, flush=True)
    progress.seconds = time.perf_counter() - start
    print(who + "done: " + report(progress, settings.patch), file=out, flush=True)
    return progress


def report(p: Progress, patch: int) -> str:
    rate = p.made / p.seconds if p.seconds else 0.0
    patches = p.patch_pixels / patch**2 / p.seconds if p.seconds else 0.0
    per_item = p.bytes / p.items / 1e3 if p.items else 0.0
    return (
        f"{p.made} items made ({p.skipped} were there) in {p.seconds:.0f} s: {rate:.3f} items/s, "
        f"{patches:.2f} {patch}x{patch} patches/s; cache {p.items} items, {p.bytes / 1e6:.1f} MB "
        f"({per_item:.0f} kB/item)"
    )
