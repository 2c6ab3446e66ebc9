"""`srgan train` checks every setting when the config loads, before any work starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
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


# ---- hostile configs (issue 31: numbers, YAML, files) ------------------------------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("loss.terms.pixel.weight=.inf", "loss.terms.pixel.weight must be a finite number; got inf"),
        ("loss.pixel_weight=.nan", "loss.terms.pixel.weight must be a finite number; got nan"),
        ("optim.lr=.nan", "optim.lr must be a finite number; got nan"),
        ("optim.betas=[0.9, .inf]", "optim.betas[1] must be a finite number; got inf"),
        ("data.realistic.clean_prob=-.inf", "data.realistic.clean_prob must be a finite number; got -inf"),
        ("loss.terms.lattice.start=-1", "loss.terms.lattice.start must be at least 0; got -1"),
        ("loss.terms.nosuch.weight=1", "unknown loss term loss.terms.nosuch; the terms are content, adversarial"),
        ("loss.terms.pixel.kind=l1", "unknown config key 'loss.terms.pixel.kind'; valid keys here: loss.terms.pixel"),
        ("data.hr_dirs=[unclosed", "override data.hr_dirs=[unclosed: the value is not valid YAML"),
        ("data.hr_dirs={a", "override data.hr_dirs={a: the value is not valid YAML"),
        (
            "train.init_from=!!python/object/apply:os.system [touch PWNED]",
            "the value is not valid YAML (could not determine a constructor",
        ),
    ],
)
def test_hostile_settings_get_one_sentence_and_leave_nothing(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, message: str
) -> None:
    run = tmp_path / "run"
    argv = ["train", "--stage", "srgan", "--hr-dir", str(photos), "--scale", "2", "--run-dir", str(run), *TINY]
    fails_with_one_sentence(capsys, [*argv, override], message, folder=tmp_path)
    assert not run.exists() and not Path("PWNED").exists()


def test_an_infinite_weight_is_refused_by_the_real_command(photos: Path, tmp_path: Path) -> None:
    # before: every step was skipped as non-finite and the run "finished" with exit 0
    run = tmp_path / "run"
    argv = ["train", "--stage", "srgan", "--hr-dir", str(photos), "--scale", "2", "--run-dir", str(run), *TINY]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "srgan", *argv, "loss.perceptual=mse", "loss.pixel_weight=.inf"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "loss.terms.pixel.weight must be a finite number; got inf" in done.stderr
    assert "Traceback" not in done.stderr and not run.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"train:\n  iterations: 2\nrun:\n  log_every: 1\ntrain:\n  iterations: 1000000\n",
            "key 'train' is written twice",
        ),
        (b"train:\n  iterations: 2\n  iterations: 3\n", "key 'iterations' is written twice (lines 2 and 3)"),
        (bytes(range(256)) * 4, "is not a text (YAML) file"),
        (b"train: [unclosed\n", "is not valid YAML"),
        (b"- a list\n", "must hold a mapping of sections"),
    ],
)
def test_a_bad_config_file_is_named_in_one_sentence(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_bytes(content)
    run = tmp_path / "run"
    argv = ["train", "--config", str(config), "--hr-dir", str(photos), "--scale", "2", "--run-dir", str(run), *TINY]
    err = fails_with_one_sentence(capsys, argv, message, folder=tmp_path)
    assert str(config) in err and not run.exists()


def test_a_backslash_in_the_run_dir_is_kept_as_one(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "a\\b"
    assert main(["train", "--hr-dir", str(photos), "--run-dir", str(run), "--print-config"]) == 0
    assert f"run_dir: {run}\n" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["--resume", "loss.weights"])
def test_a_file_with_pickled_code_is_refused_without_torchs_advice(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    evil = tmp_path / "evil.pt"
    marker = tmp_path / "PWNED"
    torch.save({"weights": _RunsCode(str(marker))}, evil)
    run = tmp_path / "run"
    argv = ["train", "--hr-dir", str(photos), "--scale", "2", "--run-dir", str(run)]
    if where == "--resume":
        argv += ["--resume", str(evil), *TINY]
    else:
        argv += ["--stage", "srgan", *TINY, "loss.perceptual=vgg19", f"loss.weights={evil}"]
    err = fails_with_one_sentence(capsys, argv, f"{evil} is not a readable", folder=tmp_path)
    assert "pickled Python objects" in err and "weights_only" not in err
    assert not marker.exists() and not run.exists()


class _RunsCode:
    """Pickles as a call that would create a file, were the pickle ever run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, int]]:
        return (os.open, (self.path, os.O_CREAT))
