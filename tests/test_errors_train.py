"""`srgan train` checks every setting when the config loads, before any work starts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srgan.cli import main

from .conftest import TINY_TRAINING
from .errors import fails_with_one_sentence


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "hr"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


TINY = [*TINY_TRAINING, "data.workers=0", "train.device=cpu"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("run.save_every=0", "run.save_every must be at least 1; got 0"),
        ("run.keep_last=0", "run.keep_last must be at least 1; got 0"),
        ("optim.lr=-1", "optim.lr must be between 1e-12 and 10; got -1.0"),
        ("train.ema_decay=1.5", "train.ema_decay must be between 0 and 0.999999; got 1.5"),
        ("train.ema_warm_start=true", "train.ema_warm_start keeps train.init_from's weights in the EMA; set both"),
        ("data.workers=-1", "data.workers must be at least 0; got -1"),
        ("model.num_blocks=200000", "model.num_blocks must be between 1 and 256; got 200000"),
        ("train.device=tpu", "unknown device 'tpu'"),
        ("train.precision=fp8", "train.precision must be one of"),
        ("nonsense", "override 'nonsense' is not of the form section.key=value"),
        ("model.d_channels=8", "'model.d_channels' was renamed to 'discriminator.channels'"),
    ],
)
def test_bad_settings_get_one_sentence(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, message: str
) -> None:
    run = tmp_path / "run"
    argv = ["train", "--hr-dir", str(photos), "--scale", "2", "--run-dir", str(run), *TINY, override]
    fails_with_one_sentence(capsys, argv, message)
    assert not run.exists() or not any(run.rglob("*.pt"))


def test_a_run_dir_that_is_a_file_or_read_only_is_refused(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x")
    base = ["train", "--hr-dir", str(photos), "--scale", "2", *TINY, "train.iterations=1"]
    fails_with_one_sentence(capsys, [*base, "--run-dir", str(tmp_path / "file")], "is an existing file; give a folder")
    # /proc takes no new folders, even from root: a run folder that cannot be made
    fails_with_one_sentence(
        capsys, [*base, "--run-dir", "/proc/srgan-test/r"], "cannot make the run folder /proc/srgan-test/r"
    )
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root): read-only folders cannot be made")
        fails_with_one_sentence(capsys, [*base, "--run-dir", str(locked / "r")], "cannot make the run folder")
    finally:
        locked.chmod(0o700)


def test_resuming_with_other_networks_names_the_differing_keys(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = str(tmp_path / "run")
    base = ["train", "--hr-dir", str(photos), "--scale", "2", "--run-dir", run, *TINY, "train.iterations=1"]
    assert main(base) == 0
    fails_with_one_sentence(
        capsys,
        [*base, "train.iterations=2", "model.channels=16"],
        "trained with other networks (model.channels 8 -> 16)",
    )
    fails_with_one_sentence(
        capsys, [*base[:4], "4", *base[5:], "train.iterations=2", "data.patch_size=32"], "model.scale 2 -> 4"
    )


def test_paired_lr_images_at_the_wrong_scale_are_named(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lr = tmp_path / "lr"
    lr.mkdir()
    for p in photos.iterdir():
        Image.open(p).resize((32, 32)).save(lr / p.name)  # x2 LR, used for a x4 run
    argv = [
        "train",
        "--hr-dir",
        str(photos),
        "--scale",
        "4",
        "--run-dir",
        str(tmp_path / "r"),
        *TINY,
        f"data.lr_dirs=[{lr}]",
    ]
    fails_with_one_sentence(capsys, argv, "is 32x32, but its HR image")
