"""Distillation's first half: the teacher-target cache (``srgan distill targets``) and training a student on it
(``srgan train data.teacher_cache=...``). Tiny teachers made here; never the real one."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan.cli import main
from srgan.data.dataset import NO_GRID, augment
from srgan.data.teacher_cache import TeacherCacheDataset, augmented_grid, decode_item, item_indices, item_path
from srgan.modelfiles import checkpoint as ckpt
from srgan.modelfiles.safetensors import save_generator
from srgan.models import Generator
from srgan.training.config import Config

from .conftest import TORCHRUN_2, trained_like

# Small crops keep a test's cache to a second; the realistic pipeline is the one the long runs use.
TARGETS = ["--crop", "24", "--patch", "32", "--log-every", "100"]
TEACHER_SEED = 5  # not the students' training seed (0), so a student does not start as its teacher


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate([(160, 120), (200, 200), (96, 140), (128, 128)]):
        small = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((w, h), Image.BICUBIC).save(folder / f"{i}.png")
    return folder


def teacher_file(folder: Path, seed: int) -> Path:
    path = folder / f"teacher{seed}.safetensors"
    if not path.exists():
        g = trained_like(scale=4, blocks=2, channels=16, seed=seed)
        save_generator(path, g.state_dict(), g.config)
    return path


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return teacher_file(tmp_path_factory.mktemp("teacher"), TEACHER_SEED)


def targets_args(teacher: Path, photos: Path, out: Path, *extra: str) -> list[str]:
    return [
        "distill",
        "targets",
        "--teacher",
        str(teacher),
        "--photos",
        str(photos),
        "--out",
        str(out),
        *TARGETS,
        *extra,
    ]


def cache_bytes(cache: Path) -> dict[str, bytes]:
    return {p.relative_to(cache).as_posix(): p.read_bytes() for p in sorted(cache.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(teacher: Path, photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 realistic items made in one uninterrupted single-process run."""
    out = tmp_path_factory.mktemp("reference") / "cache"
    assert main(targets_args(teacher, photos, out, "--max-items", "20")) == 0
    return out


def test_targets_are_deterministic_and_a_second_run_adds_nothing(
    teacher: Path, photos: Path, reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert item_indices(reference) == list(range(20))
    item = decode_item(item_path(reference, 0))
    assert item.lr.dtype == np.uint8 and item.teacher.shape == (3, 96, 96) and item.lr.shape == (3, 24, 24)

    again = tmp_path / "again"
    assert main(targets_args(teacher, photos, again, "--max-items", "20")) == 0
    assert "20 items made (0 were there)" in capsys.readouterr().out
    assert cache_bytes(again) == cache_bytes(reference)

    before = {p: p.stat().st_mtime_ns for p in (again / "items").iterdir()}
    assert main(targets_args(teacher, photos, again, "--max-items", "20")) == 0
    assert "0 items made (20 were there)" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in (again / "items").iterdir()} == before

    other_seed = tmp_path / "seed1"
    assert main(targets_args(teacher, photos, other_seed, "--max-items", "2", "--seed", "1")) == 0
    assert cache_bytes(other_seed)["items/00000000.npz"] != cache_bytes(reference)["items/00000000.npz"]


def test_two_torchrun_ranks_make_the_same_cache(teacher: Path, photos: Path, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "sharded"
    cmd = [sys.executable, *TORCHRUN_2, "-m", "srgan", *targets_args(teacher, photos, out, "--max-items", "20")]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert "rank 1/2: done: 10 items made" in done.stdout
    assert cache_bytes(out) == cache_bytes(reference)


def test_a_run_killed_mid_item_resumes_to_the_same_cache(
    teacher: Path, photos: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "srgan", *targets_args(teacher, photos, out, "--max-items", "20")]
    proc = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL)
    deadline = time.time() + 60
    while len(item_indices(out)) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    present = item_indices(out)
    assert present, "the run made no item within a minute"
    # What a kill -9 in the middle of an item leaves: its temp file (of the dead process) and no item; and,
    # should a file ever be cut short (a full disk), a truncated item.
    nxt = item_path(out, max(present) + 1 if max(present) < 19 else 19)
    nxt.unlink(missing_ok=True)
    nxt.with_name(f".{nxt.name}.{proc.pid}.tmp").write_bytes(b"half an item")
    cut = item_path(out, present[0])
    cut.write_bytes(cut.read_bytes()[:100])

    assert main(targets_args(teacher, photos, out, "--max-items", "20")) == 0
    assert cache_bytes(out) == cache_bytes(reference)  # the temp file is gone too


def test_the_teacher_is_opened_once(
    teacher: Path, photos: Path, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from srgan.modelfiles import loader

    opened: list[str] = []
    real = loader.open_blended

    def counted(name_or_path: str | os.PathLike[str], *args: object, **kwargs: object) -> loader.OpenedModel:
        opened.append(str(name_or_path))
        return real(name_or_path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "open_blended", counted)
    out = tmp_path / "once"
    assert main(targets_args(teacher, photos, out, "--max-items", "4")) == 0
    assert opened == [str(teacher)]  # its tile context is read from the Upscaler that makes the targets
    assert cache_bytes(out)["items/00000003.npz"] == cache_bytes(reference)["items/00000003.npz"]


def test_a_cache_made_before_is_still_accepted(
    teacher: Path, photos: Path, reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from srgan.video.work import model_fingerprint

    manifest = json.loads((reference / "manifest.json").read_text())
    # what every srgan wrote: the plain SHA-256 of the teacher file's bytes, as video work folders record it
    assert manifest["teacher_sha256"] == hashlib.sha256(teacher.read_bytes()).hexdigest()
    assert model_fingerprint(str(teacher)) == manifest["teacher_sha256"]
    made_before = tmp_path / "made-before"
    shutil.copytree(reference, made_before)
    before = cache_bytes(made_before)
    assert main(targets_args(teacher, photos, made_before, "--max-items", "20")) == 0
    assert "0 items made (20 were there)" in capsys.readouterr().out
    assert cache_bytes(made_before) == before  # the manifest is accepted as it is, not rewritten


def test_a_run_clears_what_killed_writers_left_in_the_items_folder_once(
    teacher: Path, photos: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "swept"
    shutil.copytree(reference, out)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    items = out / "items"
    # beside an item already there and beside one past --max-items: no item of this run's is made there
    stale = [items / f".00000003.npz.{dead.pid}.tmp", items / f".00000042.npz.{dead.pid}.tmp"]
    live = items / f".00000005.npz.{os.getpid()}.tmp"  # a writer still running: not ours to remove
    for path in [*stale, live]:
        path.write_bytes(b"part of an item")
    assert main(targets_args(teacher, photos, out, "--max-items", "20")) == 0
    assert not any(path.exists() for path in stale) and live.exists()
    live.unlink()
    assert cache_bytes(out) == cache_bytes(reference)


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        (["--degradation", "bicubic"], "the degradation realistic, not bicubic"),
        (["--light-prob", "0.5"], "the realistic degradation's light_prob 0.0, not 0.5"),
        (["--seed", "3"], "seed 0, not 3"),
    ],
)
def test_the_cache_refuses_other_settings_with_a_sentence(
    teacher: Path,
    photos: Path,
    reference: Path,
    change: list[str],
    phrase: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = cache_bytes(reference)
    assert main(targets_args(teacher, photos, reference, "--max-items", "21", *change)) == 2
    err = capsys.readouterr().err
    assert f"{reference} was made with {phrase}" in err and "Traceback" not in err
    assert cache_bytes(reference) == before


def test_the_cache_refuses_another_teacher(
    photos: Path, reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = teacher_file(tmp_path, 1)
    assert main(targets_args(other, photos, reference, "--max-items", "21")) == 2
    err = capsys.readouterr().err
    assert f"was made with the teacher teacher{TEACHER_SEED}.safetensors (sha256" in err
    assert "not teacher1.safetensors" in err


@pytest.mark.parametrize("code", range(8))
def test_a_samples_jpeg_grid_follows_its_flips(code: int) -> None:
    flips = torch.tensor([bool(code & 1), bool(code & 2), bool(code & 4)])
    grid, (h, w) = (3, 5), (24, 16)
    marks = torch.zeros(1, h, w)
    marks[0, grid[0] :: 8, grid[1] :: 8] = 1  # each block's first pixel
    moved = augment(marks, flips)[0]
    rows, cols = (moved == 1).nonzero(as_tuple=True)
    new = augmented_grid(grid, (h, w), flips)
    # a flip turns a block's first pixel into its last: the next pixel starts the block
    expected_rows = {(r + (1 if _flipped_rows(flips) else 0)) % 8 for r in rows.tolist()}
    expected_cols = {(c + (1 if _flipped_cols(flips) else 0)) % 8 for c in cols.tolist()}
    assert expected_rows == {new[0]} and expected_cols == {new[1]}
    assert augmented_grid(NO_GRID, (h, w), flips) == NO_GRID


def _flipped_rows(flips: torch.Tensor) -> bool:
    """Whether the output's rows run backwards: the vertical flip, or after a transpose the horizontal one."""
    return bool(flips[0]) if flips[2] else bool(flips[1])


def _flipped_cols(flips: torch.Tensor) -> bool:
    return bool(flips[1]) if flips[2] else bool(flips[0])


def student_error(student: Generator, cache: Path) -> float:
    """Mean absolute difference, in grey levels, between the student's and the teacher's outputs on the items."""
    errors = []
    with torch.no_grad():
        for index in item_indices(cache):
            item = decode_item(item_path(cache, index))
            lr = torch.from_numpy(item.lr).float()[None] / 255
            errors.append((student(lr).clamp(0, 1)[0] * 255 - torch.from_numpy(item.teacher).float()).abs().mean())
    return float(torch.stack(errors).mean())


def logged(run: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of every ``tag`` scalar in a run's metrics.csv."""
    with open(run / "metrics.csv", newline="") as f:
        return [(int(row["step"]), float(row["value"])) for row in csv.DictReader(f) if row["tag"] == tag]


def test_training_on_the_cache_brings_a_student_towards_its_teacher(
    teacher: Path, photos: Path, tmp_path: Path
) -> None:
    from srgan.modelfiles.loader import load_generator

    cache = tmp_path / "bicubic"
    assert main(targets_args(teacher, photos, cache, "--max-items", "14", "--degradation", "bicubic")) == 0
    held = TeacherCacheDataset(cache, 4, 32, held_out=2)
    assert (held.indices, held.held_out_indices) == (list(range(12)), [12, 13])
    overrides = [
        f"data.teacher_cache={cache}",
        "data.teacher_val_items=2",
        f"data.val_dirs=[{photos}]",
        "model.num_blocks=2",
        "model.channels=16",
        "data.patch_size=32",
        "data.workers=0",
        "train.batch_size=4",
        "train.iterations=60",
        "train.device=cpu",
        "train.precision=fp32",
        "optim.lr=1e-3",
        "loss.pixel=l1",
        "run.tensorboard=false",
        "run.val_every=20",
        "run.save_every=1000",
        "run.best_metric=teacher_psnr_y",
    ]
    assert main(["train", "--preset", "cpu", "--run-dir", str(tmp_path / "run"), *overrides]) == 0
    # validation reports the student against the held-out teacher outputs, beside the HR folders
    to_teacher = logged(tmp_path / "run", "val/teacher_psnr_y")
    assert [step for step, _ in to_teacher] == [20, 40, 60]
    assert to_teacher[-1][1] > to_teacher[0][1] + 0.5
    assert [step for step, _ in logged(tmp_path / "run", "val/psnr_y")] == [20, 40, 60]
    best = ckpt.load(tmp_path / "run" / "checkpoints" / "best.pt")  # the closest copy of the teacher
    best_step, best_value = max(to_teacher, key=lambda sv: sv[1])
    assert best["iteration"] == best_step and best["best_metric"] == pytest.approx(best_value, abs=1e-3)
    trained = load_generator(tmp_path / "run" / "generator.safetensors").eval()
    torch.manual_seed(0)  # the trainer's seed: the student it started from
    untrained = Generator(scale=4, num_blocks=2, channels=16).eval()
    assert student_error(trained, cache) < 0.7 * student_error(untrained, cache)


def test_the_trainer_refuses_a_cache_that_does_not_fit(
    reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = ["train", "--run-dir", str(tmp_path / "run"), f"data.teacher_cache={reference}", "data.workers=0"]
    assert main([*run, "data.patch_size=96"]) == 2
    assert "was made for patches of at most 32 pixels, not 96" in capsys.readouterr().err
    assert main([*run, "data.patch_size=32", f"data.hr_dirs=[{tmp_path}]"]) == 2
    assert "data.teacher_cache and data.hr_dirs exclude each other" in capsys.readouterr().err
    assert main([*run, "data.patch_size=32", "data.teacher_val_items=20"]) == 2
    assert "holds 20 items, not more than the 20 held out for validation" in capsys.readouterr().err
    assert (
        main(["train", "--run-dir", str(tmp_path / "run"), f"data.hr_dirs=[{tmp_path}]", "data.teacher_val_items=2"])
        == 2
    )
    assert "data.teacher_val_items holds out items of data.teacher_cache; set that too" in capsys.readouterr().err
    assert main([*run, "data.patch_size=32", "run.best_metric=teacher_psnr_y"]) == 2
    assert "run.best_metric teacher_psnr_y is measured on data.teacher_val_items" in capsys.readouterr().err


def test_the_realesrgan_x4plus_recipe_resolves_to_a_warm_started_paper_student() -> None:
    from srgan.modelfiles.loader import load_generator
    from srgan.training.config import build_config

    root = Path(__file__).resolve().parents[1]
    recipe = root / "configs" / "distill_realesrgan_x4plus.yaml"
    cfg = build_config(config_file=recipe).validate()
    assert (cfg.data.teacher_cache, cfg.data.teacher_val_items) == ("runs/targets/x4plus-real-s0", 32)
    assert (cfg.train.stage, cfg.loss.pixel, cfg.data.hr_dirs) == ("srresnet", "l1", [])
    assert (cfg.optim.lr, cfg.optim.schedule, cfg.optim.warmup > 0) == (1e-4, "cosine", True)
    assert (cfg.train.ema_decay, cfg.train.ema_warm_start, cfg.train.batch_size, cfg.data.patch_size) == (
        0.999,
        True,
        16,
        96,
    )
    assert (cfg.run.save_every, cfg.run.val_every, cfg.data.val_dirs) == (50, 250, ["../shared/data/benchmark/Set5"])
    start = load_generator(root / str(cfg.train.init_from))
    assert start.config == Generator.from_config(cfg.model).config  # the warm start fits: 16 blocks, 64 channels
    assert (cfg.model.num_blocks, cfg.model.channels) == (16, 64)
    # the first comment line is the command that makes the cache the recipe trains on
    first = recipe.read_text().splitlines()[0]
    assert first.startswith("# Cache first: srgan distill targets --teacher realesrgan-x4plus.safetensors")
    assert "--precision bf16 --seed 0 --max-items 20000 --out runs/targets/x4plus-real-s0" in first


# ---- students of other architectures (model.arch) -------------------------------------------------------------

# The smallest shape of each student architecture, as config overrides.
STUDENTS = {
    "compact": ["model.arch=compact", "model.compact.num_conv=2", "model.compact.features=8"],
    "span": ["model.arch=span", "model.span.features=8"],
}


def student_run(run: Path, arch: str, *extra: str) -> list[str]:
    """``srgan train`` arguments for a few iterations of a tiny ``arch`` student (data given in ``extra``)."""
    return [
        "train",
        "--preset",
        "cpu",
        "--run-dir",
        str(run),
        *STUDENTS[arch],
        "data.patch_size=32",
        "data.workers=0",
        "train.batch_size=2",
        "train.iterations=4",
        "train.device=cpu",
        "train.precision=fp32",
        "train.ema_decay=0.9",
        "loss.pixel=l1",
        "run.tensorboard=false",
        "run.save_every=2",
        "run.val_every=2",
        *extra,
    ]


@pytest.mark.parametrize("arch", STUDENTS)
def test_a_compact_or_span_student_trains_on_the_cache_and_on_photos_and_its_export_upscales(
    arch: str, reference: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from srgan.archs import by_name
    from srgan.modelfiles.loader import open_model

    run = tmp_path / "run"
    cache = [f"data.teacher_cache={reference}", "data.teacher_val_items=2", f"data.val_dirs=[{photos}]"]
    assert main(student_run(run, arch, *cache)) == 0
    assert f"{by_name(arch).title} x4" in capsys.readouterr().out
    assert [step for step, _ in logged(run, "val/teacher_psnr_y")] == [2, 4]
    assert [step for step, _ in logged(run, "val/psnr_y")] == [2, 4]
    # the export and the checkpoints open as the student's architecture, with its shape
    export = open_model(run / "generator.safetensors")
    assert (export.spec.arch, export.spec.config) == (arch, open_model(run / "checkpoints" / "best.pt").spec.config)
    assert export.spec.config.features == 8
    exported = tmp_path / "from_checkpoint.safetensors"
    assert (
        main(
            ["export", "--model", str(run / "checkpoints" / "best.pt"), "--format", "safetensors", "-o", str(exported)]
        )
        == 0
    )
    assert open_model(exported).spec.arch == arch
    out = tmp_path / "out.png"
    assert main(["upscale", "--model", str(run / "generator.safetensors"), str(photos / "0.png"), "-o", str(out)]) == 0
    assert Image.open(out).size == (640, 480)
    assert main(["eval", "--model", str(run / "generator.safetensors"), "--data", str(photos), "--no-niqe"]) == 0
    assert "PSNR" in capsys.readouterr().out

    assert main(student_run(tmp_path / "photos", arch, f"data.hr_dirs=[{photos}]", "run.val_every=1000")) == 0
    assert open_model(tmp_path / "photos" / "generator.safetensors").spec.arch == arch


@pytest.mark.parametrize(("arch", "stage"), [("compact", "srresnet"), ("span", "srresnet"), ("span", "srgan")])
def test_a_student_resumes_bit_identically_and_its_export_is_the_trained_network(
    arch: str, stage: str, reference: Path, tmp_path: Path
) -> None:
    from srgan.modelfiles.loader import open_model
    from srgan.training.config import build_config
    from srgan.training.trainer import Trainer

    def config(run: str) -> Config:
        args = student_run(tmp_path / run, arch, f"data.teacher_cache={reference}", f"train.stage={stage}")
        gan = ["loss.perceptual=mse", "discriminator.channels=8"] if stage == "srgan" else []
        return build_config("cpu", None, None, [*args[5:], f"run.run_dir={tmp_path / run}", *gan])

    torch.manual_seed(0)
    straight = Trainer(config("straight"))
    start = {k: v.clone() for k, v in straight.parts.generator.state_dict().items()}
    straight.train()
    resumed = Trainer(config("resumed"), resume=tmp_path / "straight" / "checkpoints" / "ckpt_00000002.pt")
    assert resumed.iteration == 2
    resumed.train()
    assert straight.parts.ema is not None and resumed.parts.ema is not None
    for a, b in [
        (straight.parts.generator, resumed.parts.generator),
        (straight.parts.ema.model, resumed.parts.ema.model),
    ]:
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), name
    # the file holds what was trained (SPAN: the trained branches, folded into its inference convolutions)
    exported = open_model(tmp_path / "straight" / "generator.safetensors").network
    assert exported is not None
    lr = torch.rand(1, 3, 12, 12)
    ema = straight.parts.ema.model
    with torch.no_grad():
        torch.testing.assert_close(exported(lr), ema.eval()(lr), atol=1e-4, rtol=1e-4)
        assert all(not torch.equal(v, start[k]) for k, v in exported.state_dict().items() if "eval_conv" not in k)


def test_init_from_takes_a_file_of_the_students_architecture_and_refuses_another(
    reference: Path, teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from srgan.archs.compact import COMPACT, CompactConfig

    torch.manual_seed(1)
    compact = tmp_path / "compact.safetensors"
    config = CompactConfig(scale=4, num_conv=2, features=8)
    save_generator(compact, COMPACT.build(config, {}).state_dict(), config)
    cache = [f"data.teacher_cache={reference}", "train.iterations=1"]

    assert main(student_run(tmp_path / "warm", "compact", *cache, f"train.init_from={compact}")) == 0
    assert f"generator initialised from {compact}" in capsys.readouterr().out
    refusals = [
        (
            ["model.arch=srresnet", f"train.init_from={compact}"],
            f"train.init_from {compact} is a Real-ESRGAN "
            "SRVGGNetCompact model, but model.arch is srresnet (srgan SRResNet); start from a file of that architecture",
        ),
        ([*STUDENTS["span"], f"train.init_from={teacher}"], "is a srgan SRResNet model, but model.arch is span (SPAN)"),
        ([*STUDENTS["compact"], "model.compact.num_conv=3", f"train.init_from={compact}"], "but the config asks for"),
        (
            [*STUDENTS["compact"], "model.num_blocks=2"],
            "model.num_blocks shape another architecture than model.arch compact",
        ),
        (
            [*STUDENTS["span"], "model.compact.features=4"],
            "model.compact shape another architecture than model.arch span",
        ),
        (["model.arch=rrdb"], "model.arch must be one of srresnet, compact, span; got 'rrdb'"),
        ([*STUDENTS["compact"], "model.compact.features=2000"], "model.compact: 2000 channels is outside 1..1024"),
        ([*STUDENTS["span"], "model.span.norm=2"], "model.span.norm must be between 0 and 1; got 2"),
        ([*STUDENTS["span"], "model.scale=8"], None),  # SPAN has x8; the cache is x4: the cache says so
    ]
    for extra, sentence in refusals:
        assert (
            main([*student_run(tmp_path / "refused", "compact", *cache)[:5], *cache, "data.patch_size=32", *extra]) == 2
        )
        err = capsys.readouterr().err
        assert "Traceback" not in err and (sentence is None or sentence in err), err
    # a run folder resumes only the architecture it trained
    assert main(student_run(tmp_path / "warm", "span", *cache, "train.iterations=2")) == 2
    assert "trained with other networks (model.arch compact -> span" in capsys.readouterr().err


def test_two_torchrun_processes_train_a_span_student_in_either_stage(photos: Path, tmp_path: Path) -> None:
    """DDP: SPAN's folded convolutions take no gradient, and its one buffer (the input mean) broadcasts."""
    for stage in ("srresnet", "srgan"):
        run = tmp_path / stage
        args = [*student_run(run, "span", f"data.hr_dirs=[{photos}]", f"train.stage={stage}", "train.iterations=2")]
        gan = ["loss.perceptual=mse", "discriminator.channels=8"] if stage == "srgan" else []
        cmd = [sys.executable, *TORCHRUN_2, "-m", "srgan", *args, "run.val_every=1000", *gan]
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert done.returncode == 0, done.stderr[-2000:]
        assert (run / "generator.safetensors").is_file()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"lr": np.zeros((3, 4, 4), np.float32)}, r"lr is float32 \(3, 4, 4\), not uint8"),
        ({"teacher": np.zeros((16, 16), np.uint8)}, r"teacher is uint8 \(16, 16\), not uint8 \(3, h, w\)"),
        ({"hr": np.zeros((3, 8, 8), np.uint8)}, r"hr \(3, 8, 8\) and teacher \(3, 16, 16\) differ in size"),
        ({"grid": np.array([0.5, 1.0])}, r"grid is float64 \(2,\), not two integers"),
    ],
)
def test_an_item_of_the_right_names_but_other_arrays_is_refused_with_a_sentence(
    tmp_path: Path, change: dict[str, np.ndarray], problem: str
) -> None:
    from srgan.data.teacher_cache import CacheError

    arrays = {
        "lr": np.zeros((3, 4, 4), np.uint8),
        "teacher": np.zeros((3, 16, 16), np.uint8),
        "hr": np.zeros((3, 16, 16), np.uint8),
        "grid": np.array([0, 0]),
    }
    good = tmp_path / "good.npz"
    np.savez(good, **arrays)
    assert decode_item(good).teacher.shape == (3, 16, 16)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{**arrays, **change})
    with pytest.raises(CacheError, match=rf"bad.npz: not a readable cache item \({problem}"):
        decode_item(bad)
