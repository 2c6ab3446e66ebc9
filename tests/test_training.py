from __future__ import annotations

import os
import re
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
from srgan.data.dataset import TrainSample
from srgan.modelfiles import checkpoint as ckpt
from srgan.training.build import lr_factor
from srgan.training.config import Config, ConfigError, apply_overrides, build_config, preset
from srgan.training.trainer import Trainer, TrainingError

from .conftest import TINY_TRAINING, TORCHRUN_2, torchrun_env

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hr")
    rng = np.random.default_rng(0)
    for i in range(6):
        small = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        Image.fromarray(small).resize((64, 64), Image.BICUBIC).save(folder / f"{i}.png")
    return folder


def tiny(images: Path, run_dir: Path, stage: str = "srresnet", *extra: str) -> Config:
    overrides = [
        f"data.hr_dirs=[{images}]",
        f"run.run_dir={run_dir}",
        "model.scale=2",
        *TINY_TRAINING,
        "discriminator.channels=8",
        "data.workers=0",
        "run.log_every=2",
        "train.device=cpu",
        *extra,
    ]
    return build_config("cpu", stage, None, overrides)


def weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in state.items()}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# ---- configuration --------------------------------------------------------------------------


def test_paper_preset_has_the_paper_settings() -> None:
    s1, s2 = preset("paper", "srresnet"), preset("paper", "srgan")
    assert (s1.train.batch_size, s1.data.patch_size, s1.optim.lr, s1.optim.betas[0]) == (16, 96, 1e-4, 0.9)
    assert s1.train.iterations == 1_000_000 and s1.loss.pixel == "mse"
    assert s2.train.iterations == 200_000 and s2.optim.milestones == [100_000]
    assert lr_factor(s2.optim, s2.train.iterations, 99_999) == 1.0
    assert lr_factor(s2.optim, s2.train.iterations, 100_000) == pytest.approx(0.1)
    assert (s2.loss.perceptual, s2.loss.layer, s2.loss.terms["adversarial"].weight) == ("vgg19", "VGG54", 1e-3)
    assert {n for n, t in s2.loss.terms.items() if t.weight > 0} == {"content", "adversarial"}
    assert s2.loss.feature_scale == pytest.approx(1 / 12.75)


@pytest.mark.parametrize("recipe", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_every_shipped_recipe_builds_and_its_start_file_is_in_the_repository(recipe: str) -> None:
    """The recipes in configs/ are how the bundled models were made: each must still parse against
    the current Config, and a train.init_from inside the repository must be committed, or be what another
    recipe's run writes (its export, or for train.resume_from a checkpoint in its run folder)."""
    cfg = build_config(config_file=ROOT / "configs" / recipe)
    cfg.validate()
    run_dirs = {build_config(config_file=p).run.run_dir for p in (ROOT / "configs").glob("*.yaml")}
    start, fork = cfg.train.init_from, cfg.train.resume_from
    if start and start.startswith("runs/"):
        assert start.removesuffix("/generator.safetensors") in run_dirs - {cfg.run.run_dir}, (recipe, start)
    elif start and not start.startswith("../"):  # ../shared is beside the repository, not in it
        assert (ROOT / start).is_file(), f"{recipe}: train.init_from {start} is not in the repository"
    if fork:
        assert fork.split("/checkpoints/")[0] in run_dirs - {cfg.run.run_dir}, (recipe, fork)


def test_overrides_yaml_and_unknown_keys(tmp_path: Path) -> None:
    file = tmp_path / "c.yaml"
    file.write_text("preset: cpu\ntrain:\n  batch_size: 4\n  stage: srgan\nloss:\n  layer: VGG22\n")
    cfg = build_config(None, None, file, ["train.batch_size=8", "data.hr_dirs=[photos/]", "optim.lr=3e-4"])
    assert (cfg.train.batch_size, cfg.data.hr_dirs, cfg.optim.lr) == (8, ["photos/"], 3e-4)
    assert cfg.train.stage == "srgan" and cfg.loss.layer == "VGG22" and cfg.train.iterations == 1500  # cpu srgan preset
    with pytest.raises(
        ConfigError, match=r"unknown config key 'train.batchsize'; valid keys here: .*train\.batch_size"
    ):
        apply_overrides(cfg, ["train.batchsize=3"])
    with pytest.raises(ConfigError, match="must be an integer"):
        apply_overrides(cfg, ["train.batch_size=big"])
    with pytest.raises(ConfigError, match="not of the form"):
        apply_overrides(cfg, ["train.batch_size"])
    file.write_text("trian:\n  batch_size: 4\n")
    with pytest.raises(ConfigError, match="unknown config key 'trian'"):
        build_config(None, None, file)
    with pytest.raises(ConfigError, match="stage must be one of"):
        build_config("paper", None, None, ["train.stage=gan", "data.hr_dirs=[x]"]).validate()


def test_cli_runs_with_no_config_file(images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--hr-dir", str(images), "--scale", "4", "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert "scale: 4" in printed and str(images) in printed and "iterations: 1000000" in printed
    code = main(
        [
            "train",
            "--hr-dir",
            str(images),
            "--scale",
            "2",
            "--run-dir",
            str(tmp_path / "r"),
            "train.iterations=3",
            *TINY_TRAINING,
            "data.workers=0",
        ]
    )
    assert code == 0
    assert (tmp_path / "r" / "config.yaml").is_file() and (tmp_path / "r" / "generator.safetensors").is_file()
    assert main(["train", "--hr-dir", str(images), "nosuch.key=1"]) == 2
    assert "unknown config key 'nosuch'" in capsys.readouterr().err


# ---- the two stages -------------------------------------------------------------------------


def fixed_batch(trainer: Trainer) -> TrainSample:
    return next(trainer.parts.loader(0))


def test_srresnet_stage_decreases_its_loss_on_a_fixed_batch(images: Path, tmp_path: Path) -> None:
    trainer = Trainer(tiny(images, tmp_path / "r", "srresnet", "optim.lr=1e-3"))
    batch = fixed_batch(trainer)
    losses = [trainer.parts.step(batch, 0)["loss/pixel_l1"] for _ in range(30)]  # type: ignore[index]
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("content", ["mse", "vgg19"])
def test_srgan_stage_updates_d_then_g_and_decreases_g_loss(images: Path, tmp_path: Path, content: str) -> None:
    extra = ["optim.lr=1e-3", f"loss.perceptual={content}", "loss.layer=VGG22", "loss.feature_scale=1.0"]
    if content == "vgg19":  # random VGG weights from a file in torchvision's layout
        from srgan.models.vgg import VGG19Features

        torch.save(VGG19Features("VGG22", weights=None).state_dict(), tmp_path / "vgg.pth")
        extra.append(f"loss.weights={tmp_path / 'vgg.pth'}")
    trainer = Trainer(tiny(images, tmp_path / "r", "srgan", *extra))
    batch = fixed_batch(trainer)
    d_before = weights(trainer.parts.discriminator.state_dict())  # type: ignore[union-attr]
    first = trainer.parts.step(batch, trainer.iteration)
    assert first is not None and set(first) >= {
        "loss/d",
        "loss/g_content",
        "loss/g_adversarial",
        "d/real_prob",
        "d/fake_prob",
    }
    assert any(not torch.equal(d_before[k], v) for k, v in trainer.parts.discriminator.state_dict().items())  # type: ignore[union-attr]
    stats = [trainer.parts.step(batch, trainer.iteration) for _ in range(25)]
    assert stats[-1]["loss/g_content"] < 0.5 * first["loss/g_content"]  # type: ignore[index]


@pytest.mark.parametrize("stage", ["srresnet", "srgan"])
def test_init_from_starts_either_stage_from_an_export(images: Path, tmp_path: Path, stage: str) -> None:
    first = Trainer(tiny(images, tmp_path / "a", "srresnet", "train.iterations=2"))
    export = first.train().export
    assert export is not None
    from srgan.modelfiles.loader import load_generator

    exported = load_generator(export).state_dict()
    extra = ("train.iterations=1", "train.ema_decay=0.9", "loss.perceptual=mse", f"train.init_from={export}")
    second = Trainer(tiny(images, tmp_path / "b", stage, *extra))
    assert_same(second.parts.generator.state_dict(), exported)
    assert second.parts.ema is not None
    assert_same(second.parts.ema.model.state_dict(), exported)  # the average starts from the loaded weights too
    assert (
        second.iteration == 0 and second.parts.step.players["g"].optimizer.state_dict()["state"] == {}
    )  # a fresh optimiser
    with pytest.raises(ConfigError, match=r"train\.init_from .* but the config asks for"):
        Trainer(tiny(images, tmp_path / "c", stage, *extra, "model.channels=16"))


def test_a_warm_ema_keeps_the_initial_weights_at_full_decay() -> None:
    from srgan.training.ema import EMA

    start, moved = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    with torch.no_grad():
        start.weight.fill_(1.0)
        moved.weight.fill_(0.0)
    cold, warm = EMA(start, 0.9), EMA(start, 0.9, warm=True)
    cold.update(moved)
    warm.update(moved)
    # cold: d = min(0.9, 2 / 11) on the first update, as from random weights; warm: d = 0.9 at once
    torch.testing.assert_close(cold.model.weight, torch.full((2, 2), 2 / 11))
    torch.testing.assert_close(warm.model.weight, torch.full((2, 2), 0.9))


def test_lattice_term_switches_on_at_lattice_start(images: Path, tmp_path: Path) -> None:
    extra = ("loss.perceptual=mse", "loss.terms.lattice={weight: 5.0, start: 2}")
    trainer = Trainer(
        tiny(images, tmp_path / "r", "srgan", *extra, "loss.terms.lattice_energy={weight: 0.5, start: 2}")
    )
    batch = fixed_batch(trainer)
    early = trainer.parts.step(batch, 1)
    assert early is not None and "loss/g_lattice" not in early and "loss/g_lattice_energy" not in early
    late = trainer.parts.step(batch, 2)
    assert late is not None and late["loss/g_lattice"] > 0 and late["loss/g_lattice_energy"] > 0
    lattice_terms = 5.0 * late["loss/g_lattice"] + 0.5 * late["loss/g_lattice_energy"]
    assert late["loss/g_total"] == pytest.approx(
        late["loss/g_content"] + 1e-3 * late["loss/g_adversarial"] + lattice_terms, rel=1e-5
    )


def test_chroma_term_is_trained_and_logged(images: Path, tmp_path: Path) -> None:
    trainer = Trainer(tiny(images, tmp_path / "r", "srgan", "loss.perceptual=mse", "loss.terms.chroma.weight=2.0"))
    logged = trainer.parts.step(fixed_batch(trainer), 0)
    assert logged is not None and logged["loss/g_chroma"] > 0
    assert logged["loss/g_total"] == pytest.approx(
        logged["loss/g_content"] + 1e-3 * logged["loss/g_adversarial"] + 2.0 * logged["loss/g_chroma"],
        rel=1e-5,
    )


def test_missing_perceptual_weights_fail_before_training(images: Path, tmp_path: Path) -> None:
    cfg = tiny(images, tmp_path / "r", "srgan", f"loss.weights={tmp_path / 'absent.pth'}")
    with pytest.raises(
        ConfigError, match=r"perceptual network \(vgg19, VGG54\): weights file .*absent.pth does not exist"
    ):
        Trainer(cfg)


# ---- checkpoints and resume -----------------------------------------------------------------


@pytest.mark.parametrize(("stage", "precision"), [("srresnet", "auto"), ("srgan", "fp32")])
def test_resume_is_bit_identical(images: Path, tmp_path: Path, stage: str, precision: str) -> None:
    common = [
        "train.iterations=6",
        "run.save_every=3",
        f"train.precision={precision}",
        "loss.perceptual=mse",
        "train.ema_decay=0.9",
        "run.keep_last=5",
    ]
    straight = Trainer(tiny(images, tmp_path / "a", stage, *common))
    straight.train()
    resumed = Trainer(
        tiny(images, tmp_path / "b", stage, *common),
        resume=tmp_path / "a" / "checkpoints" / "ckpt_00000003.pt",
    )
    assert resumed.iteration == 3
    resumed.train()
    assert_same(straight.parts.generator.state_dict(), resumed.parts.generator.state_dict())
    assert (
        straight.parts.ema is not None
        and resumed.parts.ema is not None
        and straight.parts.ema.updates == resumed.parts.ema.updates
    )
    assert_same(straight.parts.ema.model.state_dict(), resumed.parts.ema.model.state_dict())
    if stage == "srgan":
        assert_same(straight.parts.discriminator.state_dict(), resumed.parts.discriminator.state_dict())  # type: ignore[union-attr]
    # and the run directory resumes by itself: a finished run has nothing left to do
    again = Trainer(tiny(images, tmp_path / "a", stage, *common))
    assert again.iteration == 6


def test_a_checkpoint_written_before_model_arch_resumes_bit_identically_and_opens_as_srresnet(
    images: Path, tmp_path: Path
) -> None:
    from srgan.modelfiles.loader import open_model

    common = ["train.iterations=4", "run.save_every=2", "train.precision=fp32", "train.ema_decay=0.9"]
    straight = Trainer(tiny(images, tmp_path / "a", "srresnet", *common))
    straight.train()
    # what the trainer wrote before there was a choice of architecture: no generator_arch, no model.arch
    state = ckpt.load(tmp_path / "a" / "checkpoints" / "ckpt_00000002.pt")
    assert state.pop("generator_arch") == "srresnet"
    state["config"]["model"] = {
        k: state["config"]["model"][k] for k in ("scale", "num_blocks", "channels", "in_channels")
    }
    old = tmp_path / "old.pt"
    ckpt.save(old, state)
    assert open_model(old).spec.arch == "srresnet"
    resumed = Trainer(tiny(images, tmp_path / "b", "srresnet", *common), resume=old)
    resumed.train()
    assert_same(straight.parts.generator.state_dict(), resumed.parts.generator.state_dict())
    with pytest.raises(ConfigError, match=r"trained with other networks \(model.arch srresnet -> compact"):
        compact = ["model.arch=compact", "model.num_blocks=16", "model.channels=64", "model.compact.features=8"]
        Trainer(tiny(images, tmp_path / "c", "srresnet", *common, *compact), resume=old)


def test_checkpoint_retention_and_best(images: Path, tmp_path: Path) -> None:
    cfg = tiny(
        images,
        tmp_path / "r",
        "srresnet",
        "train.iterations=8",
        "run.save_every=2",
        "run.keep_last=2",
        f"data.val_dirs=[{images}]",
        "run.val_every=4",
        "data.val_max_images=1",
    )
    result = Trainer(cfg).train()
    names = sorted(p.name for p in (tmp_path / "r" / "checkpoints").iterdir())
    assert names == ["best.pt", "ckpt_00000006.pt", "ckpt_00000008.pt"]
    best = ckpt.load(tmp_path / "r" / "checkpoints" / "best.pt")
    assert best["best_metric"] == result.best_metric and best["iteration"] in (4, 8)
    assert (tmp_path / "r" / "metrics.csv").read_text().count("val/psnr_y") == 2
    assert (tmp_path / "r" / "metrics.csv").read_text().count("val/grid") == 2


def test_sigkill_during_save_leaves_the_previous_checkpoint_loadable(tmp_path: Path) -> None:
    target = tmp_path / "ckpt.pt"
    script = f"""
import torch
from srgan.modelfiles import checkpoint as ckpt
ckpt.save({str(target)!r}, {{"iteration": 1, "w": torch.ones(3)}})
print("first", flush=True)
big = torch.randn(64_000_000)
while True:
    ckpt.save({str(target)!r}, {{"iteration": 2, "w": big}})
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "first"
    deadline = time.time() + 60
    while not any(tmp_path.glob(".*.tmp")) and time.time() < deadline:  # wait until a save is under way
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = ckpt.load(target)
    assert state["iteration"] in (1, 2)
    if state["iteration"] == 1:
        assert torch.equal(state["w"], torch.ones(3))
    manager = ckpt.CheckpointManager(tmp_path)
    manager.remove_stale_temp_files()
    assert not list(tmp_path.glob(".*.tmp"))


def test_sigint_saves_and_the_same_command_resumes(images: Path, tmp_path: Path) -> None:
    run = tmp_path / "r"

    def command(iterations: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "srgan",
            "train",
            "--hr-dir",
            str(images),
            "--scale",
            "2",
            "--run-dir",
            str(run),
            f"train.iterations={iterations}",
            *TINY_TRAINING,
            "data.workers=1",
            "run.save_every=1000",
            "run.log_every=1",
        ]

    proc = subprocess.Popen(command(400), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "it 5/400" in line:
            break
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, out
    assert "SIGINT: saved" in out
    saved = ckpt.CheckpointManager(run / "checkpoints").latest()
    assert saved is not None
    it = ckpt.load(saved)["iteration"]
    assert 5 <= it < 400
    done = subprocess.run(command(it + 2), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"resumed from {saved} at iteration {it}" in done.stdout


# ---- failure handling -----------------------------------------------------------------------


def test_non_finite_losses_skip_steps_then_stop_with_checkpoint_intact(
    images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tiny(images, tmp_path / "r", "srresnet", "train.iterations=4", "run.save_every=2")
    Trainer(cfg).train()
    good = ckpt.load(tmp_path / "r" / "checkpoints" / "ckpt_00000004.pt")

    cfg = tiny(images, tmp_path / "r", "srresnet", "train.iterations=20", "run.save_every=2", "train.max_nonfinite=3")
    trainer = Trainer(cfg)
    assert trainer.iteration == 4
    real_loader = trainer.parts.loader

    def poisoned(iteration: int):  # type: ignore[no-untyped-def]
        for batch in real_loader(iteration):
            yield batch._replace(lr=batch.lr * float("nan"))

    monkeypatch.setattr(trainer.parts, "loader", poisoned)
    with pytest.raises(TrainingError, match=r"3 consecutive non-finite losses.*ckpt_00000004\.pt"):
        trainer.train()
    assert_same(trainer.parts.generator.state_dict(), good["generator"])  # no step was taken
    assert ckpt.CheckpointManager(tmp_path / "r" / "checkpoints").latest().name == "ckpt_00000004.pt"  # type: ignore[union-attr]
    assert "non-finite loss, step skipped" in (tmp_path / "r" / "log.txt").read_text()


# ---- distributed ----------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["srresnet", "srgan"])
def test_torchrun_two_processes_gloo(images: Path, tmp_path: Path, stage: str) -> None:
    env = torchrun_env()
    cmd = [sys.executable, *TORCHRUN_2, str(ROOT / "tests" / "ddp_worker.py"), str(tmp_path), str(images), stage]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "world 2 status finished" in done.stdout
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert_same(r0, r1)
    saved = ckpt.load(tmp_path / "run" / "checkpoints" / "ckpt_00000004.pt")
    assert_same(saved["generator"], r0)
    assert "batch 2 per process x 2 = 4" in (tmp_path / "run" / "log.txt").read_text()


def test_a_signal_to_one_rank_stops_every_rank_with_a_checkpoint(images: Path, tmp_path: Path) -> None:
    env = torchrun_env()
    worker = str(ROOT / "tests" / "ddp_worker.py")
    cmd = [sys.executable, *TORCHRUN_2, worker, str(tmp_path), str(images), "srresnet", "100000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    pids: dict[int, int] = {}
    for line in proc.stdout:
        for rank, pid in re.findall(r"rank (\d) pid (\d+)", line):  # findall: lines of two ranks may meet
            pids[int(rank)] = int(pid)
        if len(pids) == 2:
            break
    time.sleep(3)  # let a few iterations run
    os.kill(pids[1], signal.SIGTERM)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 0, out
    assert out.count("status interrupted") == 2, out
    saved = ckpt.CheckpointManager(tmp_path / "run" / "checkpoints").latest()
    assert saved is not None and 0 < ckpt.load(saved)["iteration"] < 100000
    assert_same(torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt"))


def test_torchrun_cli_entry_point(images: Path, tmp_path: Path) -> None:
    env = torchrun_env()
    cmd = [
        sys.executable,
        *TORCHRUN_2,
        "-m",
        "srgan",
        "train",
        "--hr-dir",
        str(images),
        "--scale",
        "2",
        "--run-dir",
        str(tmp_path / "r"),
        "train.iterations=2",
        *TINY_TRAINING,
        "data.workers=0",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "r" / "checkpoints" / "ckpt_00000002.pt").is_file()
    assert (tmp_path / "r" / "generator.safetensors").is_file()


@pytest.mark.parametrize(
    "options",
    [
        ("discriminator.arch=unet", "loss.adversarial=ragan", "loss.terms.feature_matching.weight=0.5"),
        (
            "discriminator.spectral_norm=true",
            "discriminator.batch_norm=false",
            "loss.terms.artifact.weight=1.0",
            "train.ema_decay=0.9",
        ),
    ],
)
def test_gan_options_train_log_their_terms_and_resume_bit_identically(
    images: Path, tmp_path: Path, options: tuple[str, ...]
) -> None:
    extra = ("loss.perceptual=mse", "train.precision=fp32", "optim.schedule=constant", *options)
    full = Trainer(tiny(images, tmp_path / "full", "srgan", "train.iterations=4", *extra))
    batch = fixed_batch(full)
    logged = full.parts.step(batch, 0)
    assert logged is not None
    for option in options:
        if option.startswith("loss.terms."):
            name = option.split(".")[2]
            assert logged[f"loss/g_{name}"] > 0, name
    full = Trainer(tiny(images, tmp_path / "full2", "srgan", "train.iterations=4", *extra))
    full.train()
    half = Trainer(tiny(images, tmp_path / "half", "srgan", "train.iterations=2", *extra))
    half.train()
    resumed = Trainer(tiny(images, tmp_path / "half", "srgan", "train.iterations=4", *extra))
    assert resumed.iteration == 2
    resumed.train()
    assert_same(resumed.parts.generator.state_dict(), full.parts.generator.state_dict())
    assert_same(resumed.parts.discriminator.state_dict(), full.parts.discriminator.state_dict())  # type: ignore[union-attr]


def test_renamed_and_removed_config_keys_get_one_sentence(images: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'model.d_channels' was renamed to 'discriminator.channels'"):
        build_config("cpu", "srgan", None, ["model.d_channels=8"])
    config = tmp_path / "old.yaml"
    config.write_text("loss:\n  pixel_downsample: 4\n")
    with pytest.raises(ConfigError, match=r"'loss.pixel_downsample' no longer exists: .*rejected experiment"):
        build_config(None, None, config)
    with pytest.raises(ConfigError, match=r"'loss.antialias' no longer exists: .*pilot .*P1"):
        build_config("cpu", "srgan", None, ["loss.antialias=true"])
    with pytest.raises(ConfigError, match=r"'train.icnr' no longer exists: .*grid is learned"):
        build_config("cpu", "srresnet", None, ["train.icnr=true"])
    with pytest.raises(ConfigError, match=r"'data.flat_target_blur' no longer exists: .*not the hatching"):
        build_config("cpu", "srgan", None, ["data.flat_target_blur=1.5"])


def test_stop_at_finishes_early_on_the_full_schedule_and_resume_from_forks_another_run(
    images: Path, tmp_path: Path
) -> None:
    common = ("train.iterations=6", "run.save_every=2", "train.precision=fp32", "optim.schedule=cosine")
    full = Trainer(tiny(images, tmp_path / "full", "srresnet", *common))
    full.train()
    part = Trainer(tiny(images, tmp_path / "part", "srresnet", *common, "train.stop_at=4"))
    result = part.train()
    assert result.status == "finished" and result.iteration == 4 and result.export is not None
    # the schedule was planned over 6 iterations, as in the full run: the same weights at 4
    at_4 = ckpt.load(tmp_path / "full" / "checkpoints" / "ckpt_00000004.pt")
    assert_same(part.parts.generator.state_dict(), at_4["generator"])
    fork_from = tmp_path / "part" / "checkpoints" / "ckpt_00000004.pt"
    fork = Trainer(tiny(images, tmp_path / "fork", "srresnet", *common, f"train.resume_from={fork_from}"))
    assert fork.iteration == 4
    fork.train()
    assert_same(fork.parts.generator.state_dict(), full.parts.generator.state_dict())
    again = Trainer(tiny(images, tmp_path / "fork", "srresnet", *common, f"train.resume_from={fork_from}"))
    assert again.iteration == 6  # the fork's own checkpoint wins over resume_from
    with pytest.raises(ConfigError, match=r"train.stop_at \(7\) is beyond train.iterations \(6\)"):
        tiny(images, tmp_path / "x", "srresnet", *common, "train.stop_at=7").validate()
