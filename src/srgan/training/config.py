"""Typed training configuration: dataclasses, presets, YAML files and ``a.b=value`` overrides.

Precedence: preset < YAML file < command-line overrides. Every key is checked against the
dataclasses; an unknown key is an error that lists the valid ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from srgan.archs.srresnet import GeneratorConfig
from srgan.losses.settings import OLD_KEYS, PAPER_FEATURE_SCALE, TERMS, TermSettings, default_terms
from srgan.runtime import PRECISIONS, SRGAN_SCALES
from srgan.schema import D_ARCHS, DiscriminatorConfig, RealisticConfig
from srgan.training.yaml_files import YamlFileError, load_config_file, parse_yaml

STAGES = ("srresnet", "srgan")
PRESETS = ("paper", "cpu")


class ConfigError(ValueError):
    """A configuration the trainer cannot run; the message says which key and why."""


class ConfigWarning(UserWarning):
    """A configuration that runs but is written in an old form; the message says the new one."""


# Keys that were renamed or removed: an old file gets one sentence naming the new key.
RENAMED_KEYS = {
    "model.d_channels": "discriminator.channels",
}
REMOVED_KEYS = {
    "loss.pixel_downsample": "the pixel term at LR resolution was a rejected experiment "
    "(docs/results/srgan_recipe_experiments.md, runs E13/E14/F2); remove the key",
    "loss.antialias": "the anti-aliased perceptual network was a pilot that changed nothing for the better at "
    "twice the time per iteration (docs/results/srgan_x4_v2_ablation.md, P1); remove the key",
    "train.icnr": "ICNR initialisation served no recipe: the v2 ablation found the grid is learned in the "
    "adversarial stage, not from the sub-pixel initialisation (docs/results/srgan_x4_v2_ablation.md); remove the key",
    "data.flat_target_blur": "grain-free targets were a pilot that took some texture out of skies but not the "
    "hatching, for 0.05-0.2 NIQE on realistic input (docs/results/srgan_x4_real_ablation.md); remove the key",
}
ADVERSARIAL_LOSSES = ("vanilla", "ragan")
DEGRADATIONS = ("bicubic", "realistic")
# (key, lowest, highest) for every number a run depends on; None = unbounded on that side.
RANGES: tuple[tuple[str, float | None, float | None], ...] = (
    ("model.num_blocks", 1, 256),
    ("model.channels", 1, 1024),
    ("discriminator.channels", 1, 1024),
    ("data.patch_size", 8, None),
    ("data.workers", 0, None),
    ("data.val_max_images", 1, None),
    ("data.realistic.clean_prob", 0, 1),
    ("data.realistic.light_prob", 0, 1),
    ("data.teacher_hr_weight", 0, 1),
    ("data.teacher_val_items", 0, None),
    ("loss.feature_scale", 0, None),
    ("loss.input_upsample", 1, 8),
    ("optim.lr", 1e-12, 10),
    ("optim.d_lr", 1e-12, 10),
    ("optim.gamma", 0, 1),
    ("optim.min_lr", 0, None),
    ("optim.warmup", 0, None),
    ("train.iterations", 1, None),
    ("train.batch_size", 1, None),
    ("train.ema_decay", 0, 0.999999),
    ("train.max_nonfinite", 1, None),
    ("train.stop_at", 1, None),
    ("run.save_every", 1, None),
    ("run.keep_last", 1, None),
    ("run.val_every", 1, None),
    ("run.log_every", 1, None),
)


@dataclass
class DataConfig:
    hr_dirs: list[str] = field(default_factory=list)
    lr_dirs: list[str] | None = None  # pre-made LR images matched by relative path; default: made on the fly
    val_dirs: list[str] = field(default_factory=list)
    val_max_images: int | None = None
    patch_size: int = 96  # HR patch side
    augment: bool = True
    cache: bool = False  # keep decoded training images in memory
    workers: int = 2
    pin_memory: bool = True  # used only with CUDA
    # how LR patches are made: bicubic (the paper and the benchmark protocol) | realistic (blur, resize,
    # noise and real JPEG in two rounds, srgan.data.degradations.realistic_lr, parameters below)
    degradation: str = "bicubic"
    realistic: RealisticConfig = field(default_factory=RealisticConfig)
    # a teacher-target cache (`srgan distill targets`) to train on instead of hr_dirs: stage srresnet's pixel
    # loss against a teacher's outputs is distillation; teacher_hr_weight w pulls towards the photos (the
    # target is (1 - w) x teacher + w x photo)
    teacher_cache: str | None = None
    teacher_hr_weight: float = 0.0
    # the cache's last N items are held out of training; validation reports the student's PSNR-Y to the
    # teacher's outputs on them (val/teacher_psnr_y), beside val_dirs' PSNR to the HR
    teacher_val_items: int = 0


@dataclass
class LossConfig:
    pixel: str = "mse"  # stage srresnet: mse | l1; stage srgan: the kind of the pixel term
    perceptual: str = "vgg19"  # stage srgan content loss: vgg19 | squeezenet | mse (the paper's SRGAN-MSE)
    layer: str = "VGG54"  # VGG22, VGG54, a torchvision layer name; for squeezenet fire2..fire9
    weights: str = "imagenet"  # "imagenet" (torch.hub cache / download) or a local file
    feature_scale: float = PAPER_FEATURE_SCALE  # the paper's rescaling of VGG feature maps
    input_upsample: int = 1  # enlarge images k times before the perceptual network (2 for squeezenet)
    adversarial: str = "vanilla"  # vanilla (the paper's BCE) | ragan (relativistic average, ESRGAN); D's loss too
    # stage srgan: the generator's loss terms by name, {weight, start, ...parameters} each (srgan.losses.settings);
    # the default is the paper's content x 1 + adversarial x 1e-3
    terms: dict[str, TermSettings] = field(default_factory=default_terms)


@dataclass
class OptimConfig:
    lr: float = 1e-4
    d_lr: float | None = None  # discriminator; default: lr
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "constant"  # constant | multistep | cosine
    milestones: list[int] = field(default_factory=list)  # multistep: iterations where lr *= gamma
    gamma: float = 0.1
    min_lr: float = 0.0  # cosine: final lr
    warmup: int = 0  # linear warm-up iterations


@dataclass
class TrainConfig:
    stage: str = "srresnet"  # srresnet (pixel loss) | srgan (D step, then G step)
    iterations: int = 1_000_000
    batch_size: int = 16  # per process; the total is batch_size x world size
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    precision: str = "auto"  # auto | fp32 | bf16 | fp16 (fp16 only on CUDA)
    channels_last: bool = True
    compile: bool = False  # torch.compile the generator and discriminator
    ema_decay: float = 0.0  # EMA of G for validation and export; 0 = off
    # Generator weights to start from (a checkpoint or export): stage srgan starts from a trained
    # SRResNet as the paper does; stage srresnet fine-tunes (optimiser and schedule start afresh).
    init_from: str | None = None
    # The EMA starts at init_from's weights with its full decay rather than warming up as from random
    # weights (fine-tuning a trained model); off in the bundled recipes, which were trained without it.
    ema_warm_start: bool = False
    sync_bn: bool = False  # SyncBatchNorm across processes (CUDA only)
    max_nonfinite: int = 10  # stop after this many consecutive non-finite losses
    # Finish (save, export) at this iteration while the schedule stays planned over ``iterations``: a bundled
    # model taken from part of a planned run replays from its file.
    stop_at: int | None = None
    # Another run's checkpoint to continue from (networks, optimisers, schedule, data position) when this run
    # folder has none yet: a fork with changed settings (--resume overrides it; the folder's own checkpoint wins).
    resume_from: str | None = None

    @property
    def end(self) -> int:
        """The iteration this run finishes at."""
        return self.stop_at if self.stop_at is not None else self.iterations


@dataclass
class RunConfig:
    run_dir: str = "runs/srgan"
    save_every: int = 1000
    keep_last: int = 3
    # psnr_y | ssim_y | teacher_psnr_y (data.teacher_val_items; higher is better) | niqe (lower is better)
    best_metric: str = "psnr_y"
    val_every: int = 1000
    log_every: int = 50
    tensorboard: bool = True


@dataclass
class Config:
    model: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> Config:
        choices = {
            ("train", "stage"): STAGES,
            ("train", "precision"): PRECISIONS,
            ("loss", "adversarial"): ADVERSARIAL_LOSSES,
            ("data", "degradation"): DEGRADATIONS,
            ("discriminator", "arch"): D_ARCHS,
            ("loss", "pixel"): ("mse", "l1"),
            ("loss", "perceptual"): ("vgg19", "squeezenet", "mse"),
            ("optim", "schedule"): ("constant", "multistep", "cosine"),
            ("run", "best_metric"): ("psnr_y", "ssim_y", "niqe", "teacher_psnr_y"),
        }
        for (section, key), allowed in choices.items():
            value = getattr(getattr(self, section), key)
            if value not in allowed:
                raise ConfigError(f"{section}.{key} must be one of {', '.join(allowed)}; got {value!r}")
        if self.model.scale not in SRGAN_SCALES:
            raise ConfigError(f"model.scale must be one of {SRGAN_SCALES}; got {self.model.scale}")
        if self.data.patch_size % self.model.scale:
            raise ConfigError(
                f"data.patch_size {self.data.patch_size} is not a multiple of model.scale {self.model.scale}"
            )
        if self.train.stage == "srgan" and self.data.patch_size < 16:
            raise ConfigError("data.patch_size must be at least 16 for the discriminator")
        for key, value in _numbers(self.to_dict(), ""):
            if not math.isfinite(value):
                raise ConfigError(f"{key} must be a finite number; got {value}")
        for name, term in self.loss.terms.items():
            for key, value in _numbers(dataclasses.asdict(term), f"loss.terms.{name}."):
                if value < 0:
                    raise ConfigError(f"{key} must be at least 0; got {value}")
        for key, low, high in RANGES:
            number: Any = functools.reduce(getattr, key.split("."), self)  # "data.realistic.clean_prob" too
            if number is None:
                continue
            if (low is not None and number < low) or (high is not None and number > high):
                bounds = f"at least {low}" if high is None else f"between {low} and {high}"
                raise ConfigError(f"{key} must be {bounds}; got {number}")
        if self.data.realistic.clean_prob + self.data.realistic.light_prob > 1:
            raise ConfigError("data.realistic.clean_prob + data.realistic.light_prob must be at most 1")
        if self.train.ema_warm_start and not (self.train.init_from and self.train.ema_decay > 0):
            raise ConfigError(
                "train.ema_warm_start keeps train.init_from's weights in the EMA; set both and train.ema_decay"
            )
        if self.train.stop_at is not None and self.train.stop_at > self.train.iterations:
            raise ConfigError(
                f"train.stop_at ({self.train.stop_at}) is beyond train.iterations ({self.train.iterations})"
            )
        if self.optim.min_lr > self.optim.lr:
            raise ConfigError(f"optim.min_lr ({self.optim.min_lr}) is above optim.lr ({self.optim.lr})")
        if self.data.teacher_cache and self.data.hr_dirs:
            raise ConfigError("data.teacher_cache and data.hr_dirs exclude each other; train on one")
        if self.data.teacher_val_items and not self.data.teacher_cache:
            raise ConfigError("data.teacher_val_items holds out items of data.teacher_cache; set that too")
        if self.run.best_metric == "teacher_psnr_y" and not self.data.teacher_val_items:
            raise ConfigError("run.best_metric teacher_psnr_y is measured on data.teacher_val_items; set that too")
        if not self.data.hr_dirs and not self.data.teacher_cache:
            raise ConfigError("no training images: set data.hr_dirs (or pass --hr-dir DIR) or data.teacher_cache")
        return self


def check_same_networks(saved: dict[str, Any], cfg: Config, path: str | Path) -> None:
    """A checkpoint resumes only into the networks it was trained with; name every differing key."""
    current = cfg.to_dict()
    differing = [
        f"{section}.{key} {saved_value} -> {current[section].get(key)}"
        for section in ("model", "discriminator")
        for key, saved_value in (saved.get(section) or {}).items()
        if section != "model" or key != "d_channels"  # an older key, now discriminator.channels
        if current[section].get(key) != saved_value
    ]
    if differing:
        raise ConfigError(
            f"{path} was trained with other networks ({'; '.join(differing)}); use the settings it was "
            "trained with, or another run folder"
        )


def _numbers(mapping: dict[str, Any], prefix: str) -> typing.Iterator[tuple[str, float]]:
    """Every number in a (nested) settings mapping, with its dotted key; list items as key[i]."""
    for key, value in mapping.items():
        if isinstance(value, dict):
            yield from _numbers(value, f"{prefix}{key}.")
        elif isinstance(value, list | tuple):
            yield from ((f"{prefix}{key}[{i}]", v) for i, v in enumerate(value) if _is_number(v))
        elif _is_number(value):
            yield f"{prefix}{key}", value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def preset(name: str, stage: str = "srresnet") -> Config:
    """Built-in starting points.

    paper: Ledig et al.'s settings: batch 16, HR patch 96, Adam(lr 1e-4, beta1 0.9); SRResNet
    1e6 iterations with MSE; SRGAN 2e5 iterations, lr 1e-4 then 1e-5 after 1e5, VGG54 + 1e-3 adv.
    cpu: sized for real progress on a 2-core CPU in about an hour: the paper network and
    batch, L1 with Adam 2e-4 and a cosine schedule over 6000 iterations (stage 1, about 0.53 s
    per iteration in bf16), or 1500 GAN iterations at 1e-4 decaying to 1e-5 (stage 2).
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}")
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; use one of {', '.join(STAGES)}")
    cfg = Config()
    cfg.train.stage = stage
    cfg.run.run_dir = f"runs/{stage}_x4"
    cfg.run.best_metric = "psnr_y" if stage == "srresnet" else "niqe"
    if name == "paper":
        if stage == "srresnet":
            cfg.train.iterations = 1_000_000
        else:
            cfg.train.iterations = 200_000
            cfg.optim.schedule, cfg.optim.milestones = "multistep", [100_000]
    elif stage == "srresnet":
        cfg.train.iterations = 6000
        cfg.loss.pixel = "l1"
        cfg.optim.lr, cfg.optim.schedule = 2e-4, "cosine"
        cfg.run.save_every, cfg.run.val_every = 250, 500
    else:
        cfg.train.iterations = 1500
        cfg.optim.schedule, cfg.optim.min_lr = "cosine", 1e-5
        cfg.run.save_every, cfg.run.val_every = 100, 250
    return cfg


# ---- reading values into the dataclasses -------------------------------------------------


def _coerce(value: Any, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0])
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list | tuple):
            value = [value]  # a single folder given where a list is expected
        return [_coerce(v, item, key) for v in value]
    if origin is tuple:
        items = typing.get_args(hint)
        if not isinstance(value, list | tuple) or len(value) != len(items):
            raise ConfigError(f"{key} must be a list of {len(items)} values; got {value!r}")
        return tuple(_coerce(v, t, key) for v, t in zip(value, items, strict=True))
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false; got {value!r}")
    if isinstance(value, str) and hint in (int, float):
        # YAML 1.1 reads 3e-4 and 1e6 (no dot) as strings
        with contextlib.suppress(ValueError):
            value = float(value)
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)  # 1e6 in YAML
        raise ConfigError(f"{key} must be an integer; got {value!r}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{key} must be a number; got {value!r}")
    if hint is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key} must be a string; got {value!r}")
    raise ConfigError(f"{key}: unsupported type {hint}")


def _set(obj: Any, key_path: list[str], value: Any, full_key: str) -> None:
    if full_key in RENAMED_KEYS:
        raise ConfigError(f"config key {full_key!r} was renamed to {RENAMED_KEYS[full_key]!r}; use that name")
    if full_key in REMOVED_KEYS:
        raise ConfigError(f"config key {full_key!r} no longer exists: {REMOVED_KEYS[full_key]}")
    old = full_key.removeprefix("loss.")
    if len(key_path) == 1 and full_key.startswith("loss.") and old in OLD_KEYS:
        _set_old_loss_key(obj, old, value)
        return
    names = [f.name for f in dataclasses.fields(obj)]
    head = key_path[0]
    if head not in names:
        prefix = full_key[: len(full_key) - len(".".join(key_path))]
        raise ConfigError(
            f"unknown config key {prefix + head!r}; valid keys here: {', '.join(prefix + n for n in names)}"
        )
    current = getattr(obj, head)
    if isinstance(current, dict):  # loss.terms: name -> that term's settings record
        _set_term(current, key_path[1:], value, full_key.removesuffix("." + ".".join(key_path[1:])))
        return
    if dataclasses.is_dataclass(current):
        if len(key_path) == 1:
            if not isinstance(value, dict):
                raise ConfigError(f"{full_key} is a section; give its keys")
            for k, v in value.items():
                _set(current, [str(k)], v, f"{full_key}.{k}")
            return
        _set(current, key_path[1:], value, full_key)
        return
    if len(key_path) > 1:
        raise ConfigError(f"{'.'.join(full_key.split('.')[: -len(key_path) + 1])} is not a section")
    hints = typing.get_type_hints(type(obj))
    setattr(obj, head, _coerce(value, hints[head], full_key))


def _set_term(terms: dict[str, TermSettings], key_path: list[str], value: Any, prefix: str) -> None:
    """``prefix`` (``loss.terms``) ``.name[.key]`` = value, checked against the term's settings record."""
    if not key_path:
        if not isinstance(value, dict):
            raise ConfigError(f"{prefix} is a mapping of terms ({', '.join(TERMS)}) to their settings")
        for name, settings in value.items():
            _set_term(terms, [str(name)], settings, prefix)
        return
    name = key_path[0]
    if name not in TERMS:
        raise ConfigError(f"unknown loss term {prefix}.{name}; the terms are {', '.join(TERMS)}")
    if len(key_path) == 1 and not isinstance(value, dict):
        raise ConfigError(f"{prefix}.{name} is a term; give its settings, e.g. {{weight: 1.0}}")
    if len(key_path) == 1:
        for key, v in value.items():
            _set(terms[name], [str(key)], v, f"{prefix}.{name}.{key}")
    else:
        _set(terms[name], key_path[1:], value, f"{prefix}.{name}.{'.'.join(key_path[1:])}")


def _set_old_loss_key(loss: LossConfig, key: str, value: Any) -> None:
    """An old flat ``loss.<key>``: set what it now is, and say once (a warning) what to write instead."""
    new = OLD_KEYS[key]
    warnings.warn(
        f"loss.{key} is the old form of {' and '.join('loss.terms.' + k for k in new)}; "
        "write that instead (the old key still works)",
        ConfigWarning,
        stacklevel=2,
    )
    for target in new:
        name, field_name = target.split(".")
        _set(loss.terms[name], [field_name], value, f"loss.terms.{target}")


def apply_mapping(cfg: Config, mapping: dict[str, Any]) -> Config:
    for key, value in mapping.items():
        _set(cfg, [str(key)], value, str(key))
    return cfg


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """``section.key=value`` strings; values are YAML (``8``, ``1e-4``, ``[a/, b/]``, ``null``)."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form section.key=value")
        try:
            value = parse_yaml(raw, f"override {item}: the value")
        except YamlFileError as exc:
            raise ConfigError(str(exc)) from None
        _set(cfg, key.strip().split("."), value, key.strip())
    return cfg


def build_config(
    preset_name: str | None = None,
    stage: str | None = None,
    config_file: str | Path | None = None,
    overrides: list[str] | None = None,
    values: dict[str, Any] | None = None,
) -> Config:
    """preset (default ``paper``) < file (with its ``extends:`` chain) < overrides < ``values`` (typed
    values by dotted key, from command-line flags). A file may name its own ``preset:``/``stage:``."""
    try:
        file_data = load_config_file(config_file) if config_file else {}
    except YamlFileError as exc:
        raise ConfigError(str(exc)) from None
    preset_name = preset_name or file_data.pop("preset", None) or "paper"
    file_stage = file_data.get("train", {}).get("stage") if isinstance(file_data.get("train"), dict) else None
    cfg = preset(preset_name, stage or file_stage or "srresnet")
    apply_mapping(cfg, file_data)
    if stage:
        cfg.train.stage = stage
    apply_overrides(cfg, overrides or [])
    for key, value in (values or {}).items():
        _set(cfg, key.split("."), value, key)
    return cfg


def to_yaml(cfg: Config) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        return v

    return yaml.safe_dump(plain(cfg.to_dict()), sort_keys=False)
