"""A cache of a teacher's outputs (``srgan distill targets`` writes it) and the training dataset that reads it.

A cache folder holds ``manifest.json`` (what made it: the teacher file's sha256, the degradation and its
settings, the seed, the sizes, the photo list's hash) and ``items/NNNNNNNN.npz``, one file per item: an LR
crop made by the degradation, the teacher's output for it (its 8-bit rounding, as a saved image would be)
and the photo's own pixels there, all uint8 (3, h, w), and where the LR's last JPEG block grid starts.
Item files are written whole (``srgan.atomic``) in a byte-exact form (fixed zip dates), so the same
settings make the same bytes.

Trained on with the PSNR stage's pixel loss, ``TeacherCacheDataset``'s samples make ``srgan train``
distillation: the student learns the teacher's mapping rather than the photos.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from srgan.data.dataset import NO_GRID, SampleKey, TrainSample, draw_crop, first_readable, mix_seed
from srgan.data.degradations import JPEG_BLOCK, RealisticConfig

CACHE_FORMAT = 1
MANIFEST = "manifest.json"
ITEMS = "items"
_ITEM_NAME = re.compile(r"^(\d{8})\.npz$")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # a fixed date: the same item gives the same bytes


class CacheError(ValueError):
    """A cache folder that cannot be used as asked; the message names the folder and the difference."""


@dataclass(frozen=True)
class CacheManifest:
    """What made a cache. Two runs may fill one cache only if every field but the informational
    ``teacher`` (the file's name) and ``photos`` (their count) is the same."""

    teacher_sha256: str
    scale: int
    degradation: str  # bicubic | realistic
    realistic: RealisticConfig | None  # the pipeline's settings when degradation is realistic
    seed: int
    patch: int  # HR side of the training patches every item holds at least
    crop: int  # LR side of an item's kept centre (smaller where the photo is)
    context: int  # LR pixels the teacher saw around the kept centre (fewer only at the photo's edge)
    precision: str  # the teacher's
    photos_sha256: str
    photos: int
    teacher: str
    format: int = CACHE_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> CacheManifest:
        data = json.loads(text)
        names = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or not names <= data.keys():
            raise ValueError("not a teacher-cache manifest")
        if data["realistic"] is not None:
            values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data["realistic"].items()}
            data["realistic"] = RealisticConfig(**values)
        return cls(**{k: data[k] for k in names})

    def differences(self, other: CacheManifest) -> list[str]:
        """What ``other`` asks for that this cache was not made with, one phrase each."""
        out = []
        mine, theirs = _flat(asdict(self)), _flat(asdict(other))
        for key in sorted(mine.keys() | theirs.keys()):
            if key in ("teacher", "photos") or mine.get(key) == theirs.get(key):
                continue
            if key.startswith("realistic") and self.degradation != other.degradation:
                continue  # the degradation's own phrase says it all
            if key == "teacher_sha256":
                out.append(
                    f"the teacher {self.teacher} (sha256 {self.teacher_sha256[:12]}...), not {other.teacher} "
                    f"(sha256 {other.teacher_sha256[:12]}...)"
                )
            elif key == "photos_sha256":
                out.append(f"another photo list ({self.photos} photos), not this one ({other.photos} photos)")
            elif key == "degradation":
                out.append(f"the degradation {self.degradation}, not {other.degradation}")
            else:
                name = key.replace("realistic.", "the realistic degradation's ")
                out.append(f"{name} {mine.get(key)}, not {theirs.get(key)}")
        return out


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return out


def read_manifest(cache: Path) -> CacheManifest | None:
    """The cache's manifest, None when the folder has none."""
    path = cache / MANIFEST
    if not path.exists():
        return None
    try:
        return CacheManifest.from_json(path.read_text())
    except (OSError, ValueError, TypeError) as exc:
        raise CacheError(f"{path} is not a readable teacher-cache manifest ({exc})") from exc


class CachedItem(NamedTuple):
    lr: np.ndarray  # uint8 (3, h, w): the degraded crop the student sees
    teacher: np.ndarray  # uint8 (3, s*h, s*w): the teacher's output for it
    hr: np.ndarray | None  # uint8 (3, s*h, s*w): the photo there; None when read without it
    grid: np.ndarray  # int64 (2,): where lr's last JPEG grid starts, NO_GRID if none


def item_path(cache: Path, index: int) -> Path:
    return cache / ITEMS / f"{index:08d}.npz"


def item_indices(cache: Path) -> list[int]:
    """The items present in a cache, in index order (temp files of unfinished writes are not items)."""
    folder = cache / ITEMS
    if not folder.is_dir():
        return []
    found = (_ITEM_NAME.match(entry.name) for entry in os.scandir(folder))
    return sorted(int(m.group(1)) for m in found if m)


def encode_item(item: CachedItem) -> bytes:
    """An item as an ``.npz`` (numpy's zip of ``.npy`` arrays, deflated) whose bytes depend only on the arrays."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, array in item._asdict().items():
            if array is None:
                raise ValueError(f"an item read without its {name} array cannot be written")
            npy = io.BytesIO()
            np.lib.format.write_array(npy, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, npy.getvalue())
    return buf.getvalue()


def decode_item(path: Path, photo: bool = True) -> CachedItem:
    """An item; without ``photo`` its photo pixels are left compressed in the file (``hr`` is None)."""
    try:
        with np.load(path, allow_pickle=False) as data:  # each array is inflated when it is read
            item = CachedItem(data["lr"], data["teacher"], data["hr"] if photo else None, data["grid"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise CacheError(f"{path}: not a readable cache item ({exc})") from exc
    problem = _malformed(item)
    if problem:
        raise CacheError(f"{path}: not a readable cache item ({problem})")
    return item


def _malformed(item: CachedItem) -> str | None:
    """What is wrong with an item's arrays (a file of the right names but other contents), or None."""
    images = {"lr": item.lr, "teacher": item.teacher, "hr": item.hr}
    for name, array in images.items():
        if array is not None and (array.dtype != np.uint8 or array.ndim != 3 or array.shape[0] != 3):
            return f"{name} is {array.dtype} {array.shape}, not uint8 (3, h, w)"
    if item.hr is not None and item.hr.shape != item.teacher.shape:
        return f"hr {item.hr.shape} and teacher {item.teacher.shape} differ in size"
    if item.grid.shape != (2,) or item.grid.dtype.kind != "i":
        return f"grid is {item.grid.dtype} {item.grid.shape}, not two integers"
    return None


def is_complete(path: Path) -> bool:
    """Whether an item file is whole: a zip whose end record is there (read from the end alone)."""
    return path.is_file() and zipfile.is_zipfile(path)


def moved_grid(grid: tuple[int, int], dy: int, dx: int) -> tuple[int, int]:
    """Where a JPEG grid starting at ``grid`` starts in a crop whose origin is (dy, dx) away."""
    if grid == NO_GRID:
        return grid
    return ((grid[0] - dy) % JPEG_BLOCK, (grid[1] - dx) % JPEG_BLOCK)


def augmented_grid(grid: tuple[int, int], size: tuple[int, int], flips: torch.Tensor) -> tuple[int, int]:
    """Where the grid of an (h, w) image starts after ``augment`` with ``flips``: a flip maps a block
    start c to the side's length minus c (mod 8); the transpose swaps rows and columns."""
    if grid == NO_GRID:
        return grid
    (row, col), (h, w) = grid, size
    if flips[0]:
        col = (w - col) % JPEG_BLOCK
    if flips[1]:
        row = (h - row) % JPEG_BLOCK
    if flips[2]:
        row, col = col, row
    return (row, col)


class TeacherCacheDataset(Dataset[TrainSample]):
    """Training pairs from a teacher cache: LR (3, p/s, p/s) from an item's LR, HR (3, p, p) the teacher's
    output there, at a random place with random flips drawn from the sample's seed (as ``SRTrainDataset``).

    ``hr_weight`` w in [0, 1]: the target is (1 - w) x teacher + w x the photo, the pull towards the
    photos that a loss mixed with weight w has (exactly so for MSE, up to a constant).

    ``held_out`` n: the cache's last n items (of those present now) are left out of training, for validation
    against the teacher (``held_out_indices``).
    """

    def __init__(
        self,
        cache: str | os.PathLike[str],
        scale: int,
        patch_size: int,
        augment: bool = True,
        hr_weight: float = 0.0,
        held_out: int = 0,
    ) -> None:
        self.cache = Path(cache)
        manifest = read_manifest(self.cache)
        if manifest is None:
            raise CacheError(
                f"{self.cache} is not a teacher cache (no {MANIFEST}); make one with srgan distill targets"
            )
        if manifest.scale != scale:
            raise CacheError(f"{self.cache} holds x{manifest.scale} targets, but the model is x{scale}")
        if patch_size > manifest.patch:
            raise CacheError(
                f"{self.cache} was made for patches of at most {manifest.patch} pixels, not {patch_size}; "
                "lower data.patch_size or make a cache with a larger --patch"
            )
        if not 0 <= hr_weight <= 1:
            raise CacheError(f"the photos' weight against the teacher must be in 0..1; got {hr_weight}")
        present = item_indices(self.cache)
        if not present:
            raise CacheError(f"{self.cache} holds no items yet")
        if len(present) <= held_out:
            raise CacheError(
                f"{self.cache} holds {len(present)} items, not more than the {held_out} held out for validation"
            )
        self.indices, self.held_out_indices = present[: len(present) - held_out], present[len(present) - held_out :]
        self.manifest, self.scale, self.patch_size = manifest, scale, patch_size
        self.augment, self.hr_weight = augment, hr_weight

    def __len__(self) -> int:
        return len(self.indices)

    def _load(self, position: int) -> CachedItem:
        """An item; one that cannot be read is reported by path and the next stands in (as a bad photo is)."""

        def read(i: int) -> CachedItem:
            return decode_item(item_path(self.cache, self.indices[i]), photo=self.hr_weight > 0)

        return first_readable(position, len(self.indices), read, CacheError, f"no item of {self.cache} could be read")

    def __getitem__(self, key: SampleKey | int) -> TrainSample:
        if isinstance(key, int):
            key = SampleKey(key, mix_seed(0, key))
        item = self._load(key.index)
        g = torch.Generator().manual_seed(key.seed)
        s, lp = self.scale, self.patch_size // self.scale
        crop = draw_crop(g, (item.lr.shape[-2], item.lr.shape[-1]), lp, self.augment)

        def window(array: np.ndarray, zoom: int) -> torch.Tensor:
            return torch.from_numpy(crop.take(array, zoom).astype(np.float32) / 255)

        lr, teacher = window(item.lr, 1), window(item.teacher, s)
        target = teacher
        if item.hr is not None:  # read only when the photos have a weight
            target = (1 - self.hr_weight) * teacher + self.hr_weight * window(item.hr, s)
        grid = moved_grid((int(item.grid[0]), int(item.grid[1])), crop.y, crop.x)
        if crop.flips is not None:
            grid = augmented_grid(grid, (lp, lp), crop.flips)
        return TrainSample(crop.flip(lr).contiguous(), crop.flip(target).contiguous(), torch.tensor(grid))
