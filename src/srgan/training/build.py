"""Building a training run's parts from its configuration: networks, the generator's loss (a list of
weighted terms), optimisers and learning-rate schedules.

Everything that can fail on a bad setting or a missing file fails here, before the first step.
To add a generator loss term: write its function in ``srgan.losses`` (taking a ``GeneratorBatch``
or wrapped in ``PairTerm``), give it a weight in ``LossConfig`` and one line in ``generator_terms``.
"""

from __future__ import annotations

import math
import signal
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from srgan import losses
from srgan.data.dataset import InfiniteSampler, SRTrainDataset, TrainSample
from srgan.data.teacher_cache import CacheError, TeacherCacheDataset
from srgan.models.discriminator import Discriminator, UNetDiscriminator, build_discriminator
from srgan.models.generator import Generator, init_icnr
from srgan.runtime import place
from srgan.training.config import Config, ConfigError
from srgan.training.steps import AdversarialStep, DiscriminatorPair, PixelStep, Step

if TYPE_CHECKING:
    from srgan.training.trainer import Trainer


def build_generator(cfg: Config) -> Generator:
    """The generator: ICNR-initialised when asked, or loaded from ``train.init_from``."""
    g = Generator.from_config(cfg.model)
    if cfg.train.icnr:
        if cfg.train.init_from:
            raise ConfigError(
                "train.icnr initialises a generator trained from scratch; it cannot go with train.init_from"
            )
        init_icnr(g)
    if cfg.train.init_from:
        from srgan.modelfiles.loader import ModelLoadError, load_generator

        source = cfg.train.init_from
        try:
            loaded = load_generator(source, scale=cfg.model.scale)
        except ModelLoadError as exc:
            raise ConfigError(f"train.init_from: {exc}") from exc
        if loaded.config != g.config:
            raise ConfigError(f"train.init_from {source} is a {loaded.config}, but the config asks for {g.config}")
        g.load_state_dict(loaded.state_dict())
    return g


def wrap(module: nn.Module, cfg: Config, distributed: bool, device: torch.device) -> nn.Module:
    """``module`` placed on the device, then SyncBatchNorm, torch.compile and DDP as configured."""
    module = place(module, device, cfg.train.channels_last)
    if cfg.train.sync_bn and distributed:
        if device.type != "cuda":
            raise ConfigError("train.sync_bn needs CUDA (SyncBatchNorm has no CPU kernel); leave it off on CPU")
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if cfg.train.compile:
        module = torch.compile(module)  # type: ignore[assignment]
    if distributed:
        ids = [device.index] if device.type == "cuda" else None
        module = DistributedDataParallel(module, device_ids=ids)
    return module


def training_step(
    cfg: Config,
    trainer: Trainer,
    content: losses.PerceptualLoss | None,
    shallow: losses.PerceptualLoss | None = None,
) -> Step:
    """The stage's step, with its optimisers and (stage srgan) the generator loss."""
    device, dtype, generator = trainer.device, trainer.autocast_dtype, trainer.generator
    opt_g = optimiser(cfg, generator, cfg.optim.lr)
    if trainer.discriminator is None:
        return PixelStep(trainer.g, generator, opt_g, cfg.loss.pixel, device, dtype)
    d = trainer.discriminator
    criterion = place(losses.GeneratorLoss(generator_terms(cfg, content, shallow)), device, cfg.train.channels_last)
    return AdversarialStep(
        g=trainer.g,
        generator=generator,
        d_pair=wrap(DiscriminatorPair(d), cfg, trainer.dist.enabled, device),
        discriminator=d,
        opt_g=opt_g,
        opt_d=optimiser(cfg, d, cfg.optim.d_lr or cfg.optim.lr),
        criterion=criterion,
        relativistic=cfg.loss.adversarial == "ragan",
        device=device,
        autocast_dtype=dtype,
        ema_forward=trainer.ema_forward if trainer.ema is not None else None,
    )


def build_discriminator_for(cfg: Config) -> Discriminator | UNetDiscriminator | None:
    if cfg.train.stage != "srgan":
        return None
    if cfg.discriminator.arch == "unet" and cfg.data.patch_size % 8:
        raise ConfigError(f"discriminator.arch unet needs data.patch_size divisible by 8; got {cfg.data.patch_size}")
    try:
        return build_discriminator(cfg.discriminator)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def build_content_loss(cfg: Config, layer: str | None = None) -> losses.PerceptualLoss | None:
    """The perceptual loss of stage srgan at ``layer`` (default ``loss.layer``), or None for the
    paper's SRGAN-MSE (pixel MSE content)."""
    from srgan.models.weights import WeightsError

    loss = cfg.loss
    layer = layer or loss.layer
    if loss.perceptual == "mse":
        return None
    try:
        if loss.perceptual == "vgg19":
            from srgan.models.vgg import VGG19Features

            net: nn.Module = VGG19Features(layer, weights=loss.weights, input_upsample=loss.input_upsample)
        else:
            from srgan.models.squeezenet import SqueezeNetFeatures

            net = SqueezeNetFeatures(layer, weights=loss.weights, input_upsample=loss.input_upsample)
    except (WeightsError, ValueError) as exc:
        raise ConfigError(f"perceptual network ({loss.perceptual}, {layer}): {exc}") from exc
    if loss.antialias:
        net.antialias()  # type: ignore[operator]
    return losses.PerceptualLoss(net, loss.feature_scale)  # type: ignore[arg-type]


def _content_mse(batch: losses.GeneratorBatch) -> torch.Tensor:
    return losses.pixel_loss(batch.sr.float(), batch.hr.float(), "mse")


def _adversarial(kind: str, batch: losses.GeneratorBatch) -> torch.Tensor:
    if kind == "ragan":
        assert batch.real_logits is not None
        return losses.relativistic_generator_loss(batch.real_logits, batch.fake_logits)
    return losses.generator_adversarial_loss(batch.fake_logits)


def _pixel(kind: str, batch: losses.GeneratorBatch) -> torch.Tensor:
    return losses.pixel_loss(batch.sr.float(), batch.hr.float(), kind)


def _lattice(period: int, batch: losses.GeneratorBatch) -> torch.Tensor:
    return losses.lattice_loss(batch.sr, period)


def _lattice_error(period: int, batch: losses.GeneratorBatch) -> torch.Tensor:
    return losses.lattice_error_loss(batch.sr, batch.hr, period)


def _flat_lattice_error(period: int, batch: losses.GeneratorBatch) -> torch.Tensor:
    return losses.flat_lattice_error_loss(batch.sr, batch.hr, period)


def _flat_band(period: int, batch: losses.GeneratorBatch) -> torch.Tensor:
    return losses.flat_band_loss(batch.sr, batch.hr, period)


def _block_step(scale: int, smooth_levels: float, batch: losses.GeneratorBatch) -> torch.Tensor:
    if batch.jpeg_grid is None:
        raise ValueError("the block-step term needs each sample's JPEG grid, and this batch has none")
    return losses.block_step_loss(batch.sr, batch.hr, batch.jpeg_grid, scale, smooth_levels)


def _lattice_energy(period: int, batch: losses.GeneratorBatch) -> torch.Tensor:
    return losses.lattice_energy_loss(batch.sr, period)


def _chroma(batch: losses.GeneratorBatch) -> torch.Tensor:
    return losses.chroma_loss(batch.sr, batch.hr)


def _feature_matching(batch: losses.GeneratorBatch) -> torch.Tensor:
    assert batch.fake_features is not None and batch.real_features is not None
    return losses.feature_matching_loss(batch.fake_features, batch.real_features)


def _artifact(batch: losses.GeneratorBatch) -> torch.Tensor:
    return losses.artifact_loss(batch.sr, batch.hr, batch.sr_ema)


def generator_terms(
    cfg: Config, content: losses.PerceptualLoss | None, shallow: losses.PerceptualLoss | None = None
) -> list[losses.WeightedTerm]:
    """The stage-srgan generator loss: content + adversarial_weight x adversarial (the paper), plus
    each optional term whose weight is above zero (``shallow``: the content loss at
    ``loss.shallow_layer``, needed when ``loss.shallow_weight`` is)."""
    loss, period = cfg.loss, cfg.model.scale
    content_fn = losses.PairTerm(content) if content is not None else _content_mse
    terms = [
        losses.WeightedTerm("content", 1.0, content_fn),
        losses.WeightedTerm("adversarial", loss.adversarial_weight, partial(_adversarial, loss.adversarial)),
    ]
    optional: list[tuple[str, float, losses.TermFunction, int]] = [
        ("pixel", loss.pixel_weight, partial(_pixel, loss.pixel), 0),
        ("lattice", loss.lattice_weight, partial(_lattice, period), loss.lattice_start),
        ("lattice_error", loss.lattice_error_weight, partial(_lattice_error, period), loss.lattice_start),
        ("flat_lattice_error", loss.flat_lattice_error_weight, partial(_flat_lattice_error, period), 0),
        ("flat_band", loss.flat_band_weight, partial(_flat_band, period), 0),
        ("block_step", loss.block_step_weight, partial(_block_step, period, loss.block_step_smooth_levels), 0),
        ("lattice_energy", loss.lattice_energy_weight, partial(_lattice_energy, period), loss.lattice_start),
        ("chroma", loss.chroma_weight, _chroma, 0),
        ("feature_matching", loss.feature_matching_weight, _feature_matching, 0),
        ("artifact", loss.artifact_weight, _artifact, 0),
    ]
    if loss.shallow_weight > 0:
        if shallow is None:
            raise ConfigError(
                "loss.shallow_weight needs a perceptual network; set loss.perceptual to vgg19 or squeezenet"
            )
        optional.append(("content_shallow", loss.shallow_weight, losses.PairTerm(shallow), 0))
    terms += [losses.WeightedTerm(name, w, fn, start) for name, w, fn, start in optional if w > 0]
    return terms


def lr_factor(cfg: Config, iteration: int) -> float:
    """The learning-rate multiplier at ``iteration`` (a pure function, so resuming is exact)."""
    o = cfg.optim
    warm = min(1.0, (iteration + 1) / o.warmup) if o.warmup > 0 else 1.0
    if o.schedule == "multistep":
        return warm * o.gamma ** sum(iteration >= m for m in o.milestones)
    if o.schedule == "cosine":
        t = min(iteration / max(cfg.train.iterations, 1), 1.0)
        floor = o.min_lr / o.lr
        return warm * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))
    return warm


def optimiser(cfg: Config, module: nn.Module, lr: float) -> tuple[torch.optim.Adam, torch.optim.lr_scheduler.LambdaLR]:
    opt = torch.optim.Adam(module.parameters(), lr=lr, betas=tuple(cfg.optim.betas))  # type: ignore[arg-type]
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, partial(lr_factor, cfg))


def _worker_init(_worker_id: int) -> None:
    # Ctrl-C reaches the whole process group; the main process saves a checkpoint and shuts
    # the workers down itself, so they must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def teacher_dataset(cfg: Config) -> TeacherCacheDataset:
    """Training pairs from ``data.teacher_cache``: the teacher's outputs as targets (distillation)."""
    d = cfg.data
    assert d.teacher_cache is not None
    try:
        return TeacherCacheDataset(d.teacher_cache, cfg.model.scale, d.patch_size, d.augment, d.teacher_hr_weight)
    except CacheError as exc:
        raise ConfigError(f"data.teacher_cache: {exc}") from exc


def data_loader(
    cfg: Config,
    dataset: SRTrainDataset | TeacherCacheDataset,
    iteration: int,
    rank: int,
    world_size: int,
    device: torch.device,
) -> Iterator[TrainSample]:
    """(LR, HR, JPEG grid) batches from stream position ``iteration`` on: the stream is a pure function of the
    seed and the position, so a resumed run sees exactly the batches it would have seen."""
    start = iteration * cfg.train.batch_size
    sampler = InfiniteSampler(len(dataset), cfg.train.seed, start=start, rank=rank, world_size=world_size)
    workers = cfg.data.workers
    loader = DataLoader(
        dataset,
        batch_size=cfg.train.batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=cfg.data.pin_memory and device.type == "cuda",
        persistent_workers=workers > 0,
        prefetch_factor=2 if workers > 0 else None,
        drop_last=True,
        worker_init_fn=_worker_init,
    )
    return iter(loader)
