"""Typed training configuration: dataclasses, presets, YAML files and ``a.b=value`` overrides.

Precedence: preset < YAML file < command-line overrides. Every key is checked against the
dataclasses; an unknown key is an error that lists the valid ones (reading keys: ``config_keys``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from srgan.archs import ArchError, NetworkConfig, by_name
from srgan.archs.compact import CompactConfig
from srgan.archs.span import SPANConfig
from srgan.archs.srresnet import GeneratorConfig
from srgan.losses.settings import (
    PAPER_FEATURE_SCALE,
    STAGE_SRGAN_ONLY,
    WITHOUT_DISCRIMINATOR,
    TermSettings,
    default_terms,
)
from srgan.runtime import PRECISIONS
from srgan.schema import D_ARCHS, DiscriminatorConfig, RealisticConfig
from srgan.training.config_keys import ConfigError as ConfigError
from srgan.training.config_keys import ConfigWarning as ConfigWarning
from srgan.training.config_keys import apply_mapping as apply_mapping
from srgan.training.config_keys import apply_overrides as apply_overrides
from srgan.training.config_keys import set_key
from srgan.training.yaml_files import YamlFileError, load_config_file

STAGES = ("srresnet", "srgan")
PRESETS = ("paper", "cpu")
# The generators srgan trains (model.arch): srgan.archs specs whose shape this config can state, each with
# the ModelConfig keys that state it (SRResNet's are the section's own keys, as they always were).
SHAPE_KEYS: dict[str, tuple[str, ...]] = {
    "srresnet": ("num_blocks", "channels", "in_channels"),
    "compact": ("compact",),
    "span": ("span",),
}
TRAINABLE_ARCHS = tuple(SHAPE_KEYS)


ADVERSARIAL_LOSSES = ("vanilla", "ragan")
DEGRADATIONS = ("bicubic", "realistic")
# (key, lowest, highest) for every number a run depends on; None = unbounded on that side.
RANGES: tuple[tuple[str, float | None, float | None], ...] = (
    ("model.num_blocks", 1, 256),
    ("model.channels", 1, 1024),
    ("model.span.norm", 0, 1),
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
class CompactShape:
    """``model.compact``: an SRVGGNetCompact student's shape (``CompactConfig``'s fields and defaults;
    its scale is ``model.scale``, RGB in and out)."""

    num_conv: int = CompactConfig.num_conv
    features: int = CompactConfig.features

    def network(self, scale: int) -> CompactConfig:
        return CompactConfig(scale=scale, num_conv=self.num_conv, features=self.features)


@dataclass
class SPANShape:
    """``model.span``: a SPAN student's shape (``SPANConfig``'s fields and defaults; its scale is
    ``model.scale``, RGB in and out). ``norm`` 1 centres the input on DIV2K's mean x 255 as the
    published files do."""

    features: int = SPANConfig.features
    norm: int = SPANConfig.norm

    def network(self, scale: int) -> SPANConfig:
        return SPANConfig(scale=scale, features=self.features, norm=self.norm)


@dataclass
class ModelConfig:
    """The generator a run trains: ``arch`` (one of TRAINABLE_ARCHS) and its shape. SRResNet's shape is
    this section's own keys, as it always was (``GeneratorConfig``'s); Compact's and SPAN's are the
    sections ``compact`` and ``span``. ``scale`` is every architecture's."""

    arch: str = "srresnet"
    scale: int = GeneratorConfig.scale
    num_blocks: int = GeneratorConfig.num_blocks
    channels: int = GeneratorConfig.channels
    in_channels: int = GeneratorConfig.in_channels
    compact: CompactShape = field(default_factory=CompactShape)
    span: SPANShape = field(default_factory=SPANShape)

    def network(self) -> NetworkConfig:
        """The chosen architecture's own config (``srgan.archs``), which builds, checks and exports it."""
        if self.arch == "compact":
            return self.compact.network(self.scale)
        if self.arch == "span":
            return self.span.network(self.scale)
        return GeneratorConfig(self.scale, self.num_blocks, self.channels, self.in_channels)

    def foreign_keys(self) -> list[str]:
        """The keys set away from their defaults that shape an architecture other than ``arch``
        (they would be ignored, so the config refuses them)."""
        default = ModelConfig()
        return [
            f"model.{key}"
            for arch, keys in SHAPE_KEYS.items()
            if arch != self.arch
            for key in keys
            if getattr(self, key) != getattr(default, key)
        ]


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
    model: ModelConfig = field(default_factory=ModelConfig)
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
            ("model", "arch"): TRAINABLE_ARCHS,
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
        self._validate_model()
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
        if self.train.stage == "srresnet":
            needs_d = [name for name in STAGE_SRGAN_ONLY if self.loss.terms[name].weight > 0]
            if needs_d:
                raise ConfigError(
                    f"loss.terms {', '.join(needs_d)} need stage srgan's discriminator; stage srresnet adds "
                    f"only {', '.join(WITHOUT_DISCRIMINATOR)} to its pixel loss"
                )
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

    def _validate_model(self) -> None:
        """``model.arch``'s scales and shape check (its ``ArchSpec``), and no key of another architecture."""
        model = self.model
        spec = by_name(model.arch)
        if model.scale not in spec.scales:
            raise ConfigError(
                f"model.scale must be one of {spec.scales} for model.arch {model.arch}; got {model.scale}"
            )
        foreign = model.foreign_keys()
        if foreign:
            raise ConfigError(
                f"{', '.join(foreign)} shape another architecture than model.arch {model.arch}; "
                f"remove {'them' if len(foreign) > 1 else 'it'} or set model.arch"
            )
        if model.arch != "srresnet":  # srresnet's ranges are RANGES' (model.num_blocks, model.channels)
            try:
                spec.checked(model.network())
            except ArchError as exc:
                raise ConfigError(f"model.{model.arch}: {exc}") from None


def check_same_networks(saved: dict[str, Any], cfg: Config, path: str | Path) -> None:
    """A checkpoint resumes only into the networks it was trained with; name every differing key."""
    current = cfg.to_dict()
    # a checkpoint written before model.arch trained the one architecture there was
    sections = {
        "model": {"arch": "srresnet", **(saved.get("model") or {})},
        "discriminator": saved.get("discriminator"),
    }
    differing = [
        f"{section}.{key} {saved_value} -> {current[section].get(key)}"
        for section in ("model", "discriminator")
        for key, saved_value in (sections[section] or {}).items()
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
        set_key(cfg, key.split("."), value, key)
    return cfg


def to_yaml(cfg: Config) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        return v

    return yaml.safe_dump(plain(cfg.to_dict()), sort_keys=False)
