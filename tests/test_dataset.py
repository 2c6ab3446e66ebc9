from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from srgan.data.dataset import InfiniteSampler, SampleKey, SRTrainDataset
from srgan.data.imresize import imresize
from srgan.imageio import quantize
from srgan.imageio import read_tensor as load_image


def write_images(folder: Path, sizes: list[tuple[int, int]], seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i, (w, h) in enumerate(sizes):
        p = folder / f"img{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return paths


def dihedral(image: torch.Tensor) -> list[torch.Tensor]:
    out = []
    for t in (image, image.transpose(-1, -2)):
        out += [t, t.flip(-1), t.flip(-2), t.flip(-1).flip(-2)]
    return out


def test_lr_is_imresize_of_the_hr_crop_and_hr_is_a_real_crop(tmp_path: Path) -> None:
    (path,) = write_images(tmp_path / "hr", [(50, 40)])
    ds = SRTrainDataset([tmp_path / "hr"], scale=4, patch_size=32)
    full = load_image(path).float() / 255
    for i in range(10):
        lr, hr, _grid = ds[SampleKey(0, 1000 + i)]
        assert lr.shape == (3, 8, 8) and hr.shape == (3, 32, 32)
        torch.testing.assert_close(lr, quantize(imresize(hr, 0.25)), atol=0, rtol=0)
        # hr must equal some window of some dihedral transform of the file
        found = any(
            torch.equal(hr, t[:, y : y + 32, x : x + 32])
            for t in dihedral(full)
            for y in range(t.shape[1] - 31)
            for x in range(t.shape[2] - 31)
        )
        assert found


def test_augmentation_produces_all_eight_transforms(tmp_path: Path) -> None:
    (path,) = write_images(tmp_path / "hr", [(24, 24)])
    ds = SRTrainDataset([tmp_path / "hr"], scale=2, patch_size=24)  # crop = whole image
    transforms = dihedral(load_image(path).float() / 255)
    seen = set()
    for seed in range(80):
        hr = ds[SampleKey(0, seed)].hr
        seen.add(next(i for i, t in enumerate(transforms) if torch.equal(hr, t)))
    assert seen == set(range(8))
    plain = SRTrainDataset([tmp_path / "hr"], scale=2, patch_size=24, augment=False)
    assert all(torch.equal(plain[SampleKey(0, s)][1], transforms[0]) for s in range(10))


def test_same_key_same_sample_and_cache_changes_nothing(tmp_path: Path) -> None:
    write_images(tmp_path / "hr", [(64, 48), (40, 70)])
    a = SRTrainDataset([tmp_path / "hr"], 2, 16)
    b = SRTrainDataset([tmp_path / "hr"], 2, 16, cache=True)
    for key in [SampleKey(0, 5), SampleKey(1, 99)]:
        for x, y in zip(a[key], b[key], strict=True):
            assert torch.equal(x, y)


def batches(ds: SRTrainDataset, workers: int, start: int = 0, n: int = 4) -> list[torch.Tensor]:
    loader = DataLoader(ds, batch_size=3, sampler=InfiniteSampler(len(ds), seed=7, start=start), num_workers=workers)
    return [batch.hr for batch in itertools.islice(loader, n)]


def test_batches_do_not_depend_on_worker_count(tmp_path: Path) -> None:
    write_images(tmp_path / "hr", [(40, 40)] * 5)
    ds = SRTrainDataset([tmp_path / "hr"], 2, 16)
    for x, y in zip(batches(ds, 0), batches(ds, 2), strict=True):
        assert torch.equal(x, y)


def test_sampler_resume_and_sharding_reproduce_the_single_stream() -> None:
    def take(sampler: InfiniteSampler, n: int) -> list[SampleKey]:
        return list(itertools.islice(iter(sampler), n))

    stream = take(InfiniteSampler(5, seed=3), 40)
    assert take(InfiniteSampler(5, seed=3, start=13), 27) == stream[13:]
    assert sorted(k.index for k in stream[:5]) == list(range(5))  # an epoch is a permutation
    assert [k.index for k in stream[:5]] != [k.index for k in stream[5:10]]  # reshuffled per epoch
    r0 = take(InfiniteSampler(5, seed=3, rank=0, world_size=2), 20)
    r1 = take(InfiniteSampler(5, seed=3, rank=1, world_size=2), 20)
    assert r0 == stream[0::2] and r1 == stream[1::2]
    r1_resumed = take(InfiniteSampler(5, seed=3, start=4, rank=1, world_size=2), 16)
    assert r1_resumed == stream[9::2][:16]


def test_small_images_are_reported_by_name_not_dropped_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_images(tmp_path / "hr", [(64, 64), (20, 64)])
    with caplog.at_level(logging.WARNING):
        ds = SRTrainDataset([tmp_path / "hr"], 4, 32)
    assert len(ds) == 1
    assert "img01.png (20x64)" in caplog.text


def test_missing_and_empty_folders_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        SRTrainDataset([tmp_path / "nope"], 4, 32)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="no image files"):
        SRTrainDataset([tmp_path / "empty"], 4, 32)
    write_images(tmp_path / "tiny", [(8, 8)])
    with pytest.raises(ValueError, match="at least 32x32"):
        SRTrainDataset([tmp_path / "tiny"], 4, 32)


def test_patch_must_be_a_multiple_of_the_scale(tmp_path: Path) -> None:
    write_images(tmp_path / "hr", [(64, 64)])
    with pytest.raises(ValueError, match="multiple"):
        SRTrainDataset([tmp_path / "hr"], 3, 32)


def test_every_pillow_mode_becomes_rgb_float(tmp_path: Path) -> None:
    folder = tmp_path / "modes"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    rgb.convert("L").save(folder / "gray.png")
    rgb.convert("P").save(folder / "palette.png")
    rgb.convert("RGBA").save(folder / "alpha.png")
    rgb.convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(rng.integers(0, 65536, (32, 32), dtype=np.uint16)).save(folder / "deep.png")
    (folder / "sub").mkdir()
    rgb.save(folder / "sub" / "nested.webp", lossless=True)
    ds = SRTrainDataset([folder], 2, 32, augment=False)
    assert len(ds) == 6  # recursive
    for i in range(len(ds)):
        hr = ds[SampleKey(i, 0)].hr
        assert hr.shape == (3, 32, 32) and hr.dtype == torch.float32
        assert hr.min() >= 0 and hr.max() <= 1
    deep = ds.files.index(folder / "deep.png")
    hr = ds[SampleKey(deep, 0)].hr
    assert len(torch.unique(hr)) > 256  # 16-bit precision kept


def test_paired_lr_folder(tmp_path: Path) -> None:
    (_hr_path,) = write_images(tmp_path / "hr", [(48, 48)])
    lr_img = np.random.default_rng(1).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    (tmp_path / "lr").mkdir()
    Image.fromarray(lr_img).save(tmp_path / "lr" / "img00.bmp")
    ds = SRTrainDataset([tmp_path / "hr"], 4, 48, augment=False, lr_dirs=[tmp_path / "lr"])
    lr = ds[SampleKey(0, 3)].lr
    torch.testing.assert_close(lr, torch.from_numpy(lr_img).permute(2, 0, 1).float() / 255)
    with pytest.raises(FileNotFoundError, match="no LR image matches"):
        write_images(tmp_path / "hr2", [(48, 48)])
        (tmp_path / "lr2").mkdir()
        Image.fromarray(lr_img).save(tmp_path / "lr2" / "other.png")
        SRTrainDataset([tmp_path / "hr2"], 4, 48, lr_dirs=[tmp_path / "lr2"])


def test_broken_images_are_reported_by_path_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_images(tmp_path / "hr", [(40, 40), (40, 40)])
    (tmp_path / "hr" / "junk.png").write_bytes(b"not a png at all")
    with caplog.at_level(logging.WARNING):
        ds = SRTrainDataset([tmp_path / "hr"], 2, 16)
        assert "junk.png" in caplog.text and len(ds) == 2
        good = tmp_path / "hr" / "img01.png"
        good.write_bytes(good.read_bytes()[:200])  # breaks during the run: truncated data
        hr = ds[SampleKey(ds.files.index(good), 1)].hr  # falls over to the next readable image
    assert hr.shape == (3, 16, 16)
    assert "img01.png" in caplog.text
