"""The bundled training recipes (configs/): ``extends:`` chains, the ``loss.terms`` form and the old flat keys."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from srgan.losses.settings import OLD_KEYS, STAGE_SRGAN_ONLY, default_terms
from srgan.training.config import Config, ConfigError, ConfigWarning, apply_mapping, build_config
from srgan.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))
# Each file's settings as resolved before the files used ``extends:`` and ``loss.terms`` (taken from the
# old files with the old flat keys).
BEFORE = json.loads((ROOT / "tests" / "data" / "configs_resolved.json").read_text())
# Settings a file gained on purpose since: its recipe replays from the file alone.
# init_from and stop_at replace the instructions the files' comments used to give (train.stop_at: where the
# bundled model was taken from a longer planned run).
GAINED: dict[str, dict[tuple[str, str], object]] = {
    "configs/srgan_x4.yaml": {("train", "init_from"): "src/srgan/weights/srresnet-x4.safetensors"},
    "configs/srresnet_x4.yaml": {("train", "stop_at"): 9290},
    "configs/srresnet_x4_continue.yaml": {("train", "init_from"): "runs/srresnet_x4/generator.safetensors"},
    "configs/srgan_x4_v2.yaml": {("train", "stop_at"): 2600},
    "configs/srgan_x4_v2_stage2.yaml": {("train", "stop_at"): 250},
    "configs/srgan_x4_real.yaml": {("train", "stop_at"): 1000},
    "configs/srgan_x4_real_stage2.yaml": {("train", "stop_at"): 350},
}


def resolved(config: Config) -> dict[str, Any]:
    """The settings as plain JSON, with a term that is off reduced to its weight (its start means nothing)."""
    data: dict[str, Any] = json.loads(json.dumps(config.to_dict()))
    for name, term in data["loss"]["terms"].items():
        if term["weight"] == 0 and name not in ("content", "adversarial"):
            data["loss"]["terms"][name] = {"weight": 0.0}
    return data


def load(path: Path, overrides: list[str] | None = None) -> Config:
    return build_config(None, None, path, overrides or [])


@pytest.mark.parametrize("path", [p for p in CONFIGS if str(p.relative_to(ROOT)) in BEFORE], ids=lambda p: p.name)
def test_each_config_resolves_to_the_settings_it_had_before(path: Path) -> None:
    key = str(path.relative_to(ROOT))
    before = Config()
    apply_mapping(before, BEFORE[key])
    for (section, name), value in GAINED.get(key, {}).items():
        setattr(getattr(before, section), name, value)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)  # the bundled files use no old key
        assert resolved(load(path)) == resolved(before)


def test_every_config_loads_without_old_keys_and_validates() -> None:
    for path in CONFIGS:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConfigWarning)
            teacher = load(path).data.teacher_cache  # distillation (also by extends:) trains on a cache, not photos
            load(path, [] if teacher else ["data.hr_dirs=[x]"]).validate()
    # the forks the bundled srgan-x4-real came from, each a file
    fork = load(ROOT / "configs" / "srgan_x4_real_fork.yaml")
    assert fork.train.resume_from == "runs/srgan_x4_real/checkpoints/ckpt_00001000.pt" and fork.train.stop_at == 1500
    assert (fork.loss.terms["flat_lattice_error"].weight, fork.data.realistic.clean_prob) == (1000.0, 0.1)


def test_a_stage_two_file_states_only_what_differs_from_its_base() -> None:
    text = (ROOT / "configs" / "srgan_x4_v2_stage2.yaml").read_text()
    assert "extends: srgan_x4_v2.yaml" in text and "hr_dirs" not in text and "squeezenet" not in text


def test_extends_chains_merge_section_by_section_and_refuse_loops(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("train: {iterations: 7, seed: 3}\nloss: {terms: {pixel: {weight: 0.5}}}\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\ntrain: {seed: 4}\nloss: {terms: {pixel: {start: 2}}}\n")
    cfg = load(tmp_path / "child.yaml")
    assert (cfg.train.iterations, cfg.train.seed) == (7, 4)
    assert (cfg.loss.terms["pixel"].weight, cfg.loss.terms["pixel"].start) == (0.5, 2)
    (tmp_path / "base.yaml").write_text("extends: child.yaml\n")
    with pytest.raises(ValueError, match="extends it back"):
        load(tmp_path / "child.yaml")


def old_style(config: Config) -> dict[str, Any]:
    """``config``'s settings written with the old flat ``loss.*`` keys instead of ``loss.terms``."""
    data = config.to_dict()
    terms = data["loss"].pop("terms")
    defaults = {name: vars(t) for name, t in default_terms().items()}
    inverse = {new: old for old, targets in OLD_KEYS.items() for new in targets}
    for name, settings in terms.items():
        for key, value in settings.items():
            if value == defaults[name][key] or (key == "start" and settings["weight"] == 0):
                continue
            data["loss"][inverse[f"{name}.{key}"]] = value  # a KeyError: no old key could say it
    return data


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("recipes")
    (root / "hr").mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        small = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        Image.fromarray(small).resize((64, 64), Image.BICUBIC).save(root / "hr" / f"{i}.png")
    from srgan.models.squeezenet import SqueezeNetFeatures

    torch.manual_seed(0)
    torch.save(SqueezeNetFeatures("fire9", weights=None).state_dict(), root / "squeezenet.pth")
    return root / "hr", root / "squeezenet.pth"


def first_iterations(config: Config, run_dir: Path, iterations: int = 3) -> tuple[list[dict[str, str]], list[Any]]:
    config.run.run_dir = str(run_dir)
    trainer = Trainer(config)
    parts = trainer.parts
    data = parts.loader(0)
    stats = []
    for iteration in range(iterations):
        logged = parts.step(next(data), iteration)
        parts.step.advance_schedules()
        stats.append({k: v.hex() for k, v in (logged or {}).items()})
    return stats, [t.clone() for t in parts.generator.state_dict().values()]


@pytest.mark.parametrize("path", [p for p in CONFIGS if "stage: srgan" in p.read_text() or "extends" in p.read_text()])
def test_old_and_new_style_recipes_train_to_the_same_numbers(
    path: Path, tiny_data: tuple[Path, Path], tmp_path: Path
) -> None:
    hr, squeezenet = tiny_data
    small = [
        f"data.hr_dirs=[{hr}]",
        "data.teacher_cache=null",  # a distillation recipe's terms train on photos here alike
        "data.teacher_val_items=0",
        "data.val_dirs=[]",
        "data.cache=false",
        "data.workers=0",
        "data.patch_size=32",
        "train.batch_size=2",
        "train.init_from=null",
        "train.ema_warm_start=false",
        "train.resume_from=null",
        "train.precision=fp32",
        "train.device=cpu",
        "model.num_blocks=2",
        "run.tensorboard=false",
        f"loss.weights={squeezenet}",
    ]
    new = load(path, small)
    if new.train.stage != "srgan":
        pytest.skip("a pixel stage has no loss terms")
    old = Config()
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", ConfigWarning)
        apply_mapping(old, old_style(new))
    assert any("loss.terms." in str(n.message) for n in notes)  # each old key is told its new form
    assert resolved(old) == resolved(new)
    torch.manual_seed(0)
    new_stats, new_weights = first_iterations(new, tmp_path / "new")
    torch.manual_seed(0)
    old_stats, old_weights = first_iterations(old, tmp_path / "old")
    assert new_stats == old_stats and all(s for s in new_stats)
    assert all(torch.equal(a, b) for a, b in zip(new_weights, old_weights, strict=True))


def small_srresnet_run(hr: Path) -> list[str]:
    """Overrides that make configs/srresnet_x4.yaml a few-second run on ``hr``."""
    return [
        f"data.hr_dirs=[{hr}]",
        "data.workers=0",
        "data.patch_size=32",
        "train.batch_size=2",
        "train.precision=fp32",
        "train.device=cpu",
        "train.init_from=null",
        "model.num_blocks=2",
        "data.val_dirs=[]",
        "run.tensorboard=false",
    ]


def test_model_arch_srresnet_trains_the_numbers_the_paper_generator_always_did(
    tiny_data: tuple[Path, Path], tmp_path: Path
) -> None:
    """``model.arch`` (default srresnet) changes nothing for the recipes: written out or left out, the same numbers,
    from the generator the trainer built before there was a choice (``Generator.from_config`` of the section)."""
    from srgan.models.generator import Generator, GeneratorConfig
    from srgan.training.build import build_generator

    hr, _ = tiny_data
    small = small_srresnet_run(hr)
    recipe = ROOT / "configs" / "srresnet_x4.yaml"
    left_out, written = load(recipe, small), load(recipe, [*small, "model.arch=srresnet"])
    assert left_out.model.arch == "srresnet"
    torch.manual_seed(0)
    a = first_iterations(left_out, tmp_path / "a")
    torch.manual_seed(0)
    b = first_iterations(written, tmp_path / "b")
    assert a[0] == b[0] and all(torch.equal(x, y) for x, y in zip(a[1], b[1], strict=True))
    model = left_out.model
    torch.manual_seed(0)
    built = build_generator(model, left_out.train).state_dict()
    torch.manual_seed(0)
    before = Generator.from_config(GeneratorConfig(model.scale, model.num_blocks, model.channels, model.in_channels))
    assert all(torch.equal(x, y) for x, y in zip(built.values(), before.state_dict().values(), strict=True))


def test_stage_srresnet_adds_the_terms_that_need_no_discriminator_and_refuses_the_others(
    tiny_data: tuple[Path, Path], tmp_path: Path
) -> None:
    """Stage srresnet's loss is loss.pixel, plus any term of ``settings.WITHOUT_DISCRIMINATOR`` that is on (a
    distillation's Fourier term, a lattice term); with none on it trains exactly as it did."""
    hr, squeezenet = tiny_data
    small = [*small_srresnet_run(hr), "loss.pixel=l1"]
    recipe = ROOT / "configs" / "srresnet_x4.yaml"
    torch.manual_seed(0)
    plain = first_iterations(load(recipe, small), tmp_path / "plain")
    torch.manual_seed(0)
    off = first_iterations(load(recipe, [*small, "loss.terms.fourier.weight=0"]), tmp_path / "off")
    assert plain[0] == off[0] and all(torch.equal(x, y) for x, y in zip(plain[1], off[1], strict=True))
    assert all(set(s) == {"loss/pixel_l1"} for s in plain[0])
    torch.manual_seed(0)
    on = first_iterations(
        load(recipe, [*small, "loss.terms.fourier.weight=0.5", "loss.terms.lattice.weight=10"]), tmp_path / "on"
    )
    assert all(set(s) == {"loss/pixel_l1", "loss/fourier", "loss/lattice"} for s in on[0])
    assert on[0][0]["loss/pixel_l1"] == plain[0][0]["loss/pixel_l1"], "the same first batch and generator"
    assert not all(torch.equal(x, y) for x, y in zip(plain[1], on[1], strict=True)), "the terms moved the weights"
    perceptual = ["loss.perceptual=squeezenet", f"loss.weights={squeezenet}", "loss.terms.content_shallow.weight=1"]
    torch.manual_seed(0)
    felt = first_iterations(
        load(recipe, [*small, *perceptual, "loss.terms.content_shallow.layer=fire9"]), tmp_path / "p"
    )
    assert all(set(s) == {"loss/pixel_l1", "loss/content_shallow"} for s in felt[0])
    assert not all(torch.equal(x, y) for x, y in zip(plain[1], felt[1], strict=True))
    with pytest.raises(ConfigError, match="content_shallow needs a perceptual network"):
        first_iterations(
            load(recipe, [*small, "loss.perceptual=mse", "loss.terms.content_shallow.weight=1"]), tmp_path / "m"
        )
    for term in STAGE_SRGAN_ONLY:
        with pytest.raises(ConfigError, match=rf"loss.terms {term} need stage srgan's discriminator"):
            load(recipe, [*small, f"loss.terms.{term}.weight=0.1"]).validate()
