"""Building a training run's parts from its configuration: the ``Parts`` record (networks, EMA, the
stage's step with its optimisers and the generator's loss, the data) that ``Trainer`` runs. Each builder
takes the config sections it reads, not the whole configuration.

Everything that can fail on a bad setting or a missing file fails here, before the first step.
The generator loss terms are built by ``srgan.losses.registry`` from ``loss.terms``.
"""

from __future__ import annotations

import math
import signal
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from srgan.archs import spec_for
from srgan.data.dataset import InfiniteSampler, SRTrainDataset, TrainSample
from srgan.data.teacher_cache import CacheError, TeacherCacheDataset
from srgan.evaluation.protocol import Sample
from srgan.losses.compose import GeneratorLoss, TermContext, WeightedTerm
from srgan.losses.paper import PerceptualLoss
from srgan.losses.registry import build_terms
from srgan.losses.settings import TERMS, WITHOUT_DISCRIMINATOR, ShallowContentSettings
from srgan.models.discriminator import Discriminator, UNetDiscriminator, build_discriminator
from srgan.runtime import DistInfo, place
from srgan.schema import DiscriminatorConfig
from srgan.training.config import Config, ConfigError, DataConfig, LossConfig, ModelConfig, OptimConfig, TrainConfig
from srgan.training.ema import EMA
from srgan.training.steps import AdversarialStep, DiscriminatorPair, PixelStep, Placement, Player, Step
from srgan.training.validation import load_samples, load_teacher_samples


@dataclass
class Loader:
    """The training batches from stream position ``iteration`` on, on the training device in the configured
    memory format. The stream is a pure function of the seed and the position, so a resumed run sees
    exactly the batches it would have seen."""

    dataset: SRTrainDataset | TeacherCacheDataset
    data: DataConfig
    batch_size: int
    seed: int
    dist: DistInfo
    device: torch.device
    channels_last: bool

    def __call__(self, iteration: int) -> Iterator[TrainSample]:
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        for batch in data_loader(
            self.dataset, self.data, self.batch_size, self.seed, iteration, self.dist, self.device
        ):
            lr, hr = (t.to(self.device, non_blocking=True).contiguous(memory_format=fmt) for t in (batch.lr, batch.hr))
            yield TrainSample(lr, hr, batch.jpeg_grid.to(self.device))


@dataclass
class Parts:
    """Everything a run trains with, built before its first step. ``generator`` and ``discriminator``
    are the bare networks (what checkpoints hold); the step holds their wrapped forms."""

    generator: nn.Module  # model.arch's network (srgan.archs)
    discriminator: Discriminator | UNetDiscriminator | None
    ema: EMA | None
    step: Step
    dataset: SRTrainDataset | TeacherCacheDataset
    val_samples: list[Sample]
    teacher_val_samples: list[Sample]  # held-out cache items whose "HR" is the teacher's output
    loader: Loader


def build_parts(cfg: Config, dist: DistInfo, placement: Placement) -> Parts:
    """The parts of a run of ``cfg`` (validated) on this process."""
    device, stage = placement.device, cfg.train.stage
    content = build_content_loss(cfg.loss) if stage == "srgan" else None
    shallow = None
    shallow_term = cfg.loss.terms["content_shallow"]
    if shallow_term.weight > 0:  # either stage: it looks at SR and the target alone
        assert isinstance(shallow_term, ShallowContentSettings)
        shallow = build_content_loss(cfg.loss, shallow_term.layer)
    dataset = build_dataset(cfg.data, cfg.model.scale)
    val_samples = load_samples(cfg.data.val_dirs, cfg.model.scale, cfg.data.val_max_images)
    teacher_val = load_teacher_samples(dataset) if isinstance(dataset, TeacherCacheDataset) else []
    generator = build_generator(cfg.model, cfg.train)
    discriminator = build_discriminator_for(cfg.discriminator, cfg.data.patch_size) if stage == "srgan" else None
    train = cfg.train
    g = player(generator, generator, cfg.optim, train, dist, device, cfg.optim.lr)
    # the average is a copy of the placed generator (device, memory format)
    ema = EMA(generator, train.ema_decay, train.ema_warm_start) if train.ema_decay > 0 else None
    step: Step
    if discriminator is None:
        extra = generator_terms(cfg.loss, cfg.model.scale, None, shallow, names=WITHOUT_DISCRIMINATOR)
        criterion = place(GeneratorLoss(extra), device, train.channels_last) if extra else None
        step = PixelStep(g, cfg.loss.pixel, placement, criterion)
    else:
        terms = generator_terms(cfg.loss, cfg.model.scale, content, shallow)
        criterion = place(GeneratorLoss(terms), device, train.channels_last)
        d_lr = cfg.optim.d_lr or cfg.optim.lr
        d = player(discriminator, DiscriminatorPair(discriminator), cfg.optim, train, dist, device, d_lr)
        relativistic = cfg.loss.adversarial == "ragan"
        step = AdversarialStep(g, d, criterion, placement, relativistic, ema.model if ema is not None else None)
    loader = Loader(dataset, cfg.data, train.batch_size, train.seed, dist, device, train.channels_last)
    return Parts(generator, discriminator, ema, step, dataset, val_samples, teacher_val, loader)


def build_dataset(data: DataConfig, scale: int) -> SRTrainDataset | TeacherCacheDataset:
    """The training pairs: from ``data.hr_dirs``, or a teacher's outputs in ``data.teacher_cache`` (distillation)."""
    if data.teacher_cache:
        try:
            return TeacherCacheDataset(
                data.teacher_cache, scale, data.patch_size, data.augment, data.teacher_hr_weight, data.teacher_val_items
            )
        except CacheError as exc:
            raise ConfigError(f"data.teacher_cache: {exc}") from exc
    realistic = data.realistic if data.degradation == "realistic" else None
    return SRTrainDataset(
        data.hr_dirs,
        scale,
        data.patch_size,
        data.augment,
        data.lr_dirs,
        data.cache,
        realistic,
    )


def player(
    module: nn.Module,
    forward: nn.Module,
    optim: OptimConfig,
    train: TrainConfig,
    dist: DistInfo,
    device: torch.device,
    lr: float,
) -> Player:
    """``module`` placed on the device, ``forward`` (the module or a module around it) wrapped as
    configured, and an optimiser and schedule for ``module``'s parameters."""
    place(module, device, train.channels_last)
    optimizer, scheduler = optimiser(optim, train.iterations, module, lr)
    return Player(module, wrap(forward, train, dist.enabled, device), optimizer, scheduler)


def build_generator(model: ModelConfig, train: TrainConfig) -> nn.Module:
    """The generator of ``model.arch`` (built by its ``ArchSpec``): fresh, or loaded from ``train.init_from``
    (a file of the same architecture and shape)."""
    config = model.network()
    spec = spec_for(config)
    g = spec.build(config, {})
    if train.init_from:
        from srgan.modelfiles.loader import ModelLoadError, open_model

        source = train.init_from
        try:
            opened = open_model(source, scale=model.scale)
        except ModelLoadError as exc:
            raise ConfigError(f"train.init_from: {exc}") from exc
        if opened.network is None:
            raise ConfigError(f"train.init_from {source} is an ONNX model; start from its PyTorch weights")
        if opened.spec.arch != spec.name:
            raise ConfigError(
                f"train.init_from {source} is a {opened.spec.architecture.title} model, but model.arch is "
                f"{model.arch} ({spec.title}); start from a file of that architecture or set model.arch"
            )
        if opened.spec.config != config:
            raise ConfigError(f"train.init_from {source} is a {opened.spec.config}, but the config asks for {config}")
        g.load_state_dict(opened.network.state_dict())
    return g


def wrap(module: nn.Module, train: TrainConfig, distributed: bool, device: torch.device) -> nn.Module:
    """``module`` placed on the device, then SyncBatchNorm, torch.compile and DDP as configured."""
    module = place(module, device, train.channels_last)
    if train.sync_bn and distributed:
        if device.type != "cuda":
            raise ConfigError("train.sync_bn needs CUDA (SyncBatchNorm has no CPU kernel); leave it off on CPU")
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if train.compile:
        module = torch.compile(module)  # type: ignore[assignment]
    if distributed:
        ids = [device.index] if device.type == "cuda" else None
        module = DistributedDataParallel(module, device_ids=ids)
    return module


def build_discriminator_for(config: DiscriminatorConfig, patch_size: int) -> Discriminator | UNetDiscriminator:
    if config.arch == "unet" and patch_size % 8:
        raise ConfigError(f"discriminator.arch unet needs data.patch_size divisible by 8; got {patch_size}")
    try:
        return build_discriminator(config)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def build_content_loss(loss: LossConfig, layer: str | None = None) -> PerceptualLoss | None:
    """The perceptual loss of stage srgan at ``layer`` (default ``loss.layer``), or None for the
    paper's SRGAN-MSE (pixel MSE content)."""
    from srgan.models.weights import WeightsError

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
    return PerceptualLoss(net, loss.feature_scale)  # type: ignore[arg-type]


def generator_terms(
    loss: LossConfig,
    scale: int,
    content: PerceptualLoss | None,
    shallow: PerceptualLoss | None = None,
    names: Collection[str] = tuple(TERMS),
) -> list[WeightedTerm]:
    """The generator loss's terms of ``loss.terms`` among ``names`` that are on (stage srgan: content +
    1e-3 x adversarial, the paper, and any other), built by ``srgan.losses.registry``."""
    context = TermContext(scale, loss.pixel, loss.adversarial, content, shallow)
    try:
        return build_terms(loss.terms, context, names)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def lr_factor(o: OptimConfig, iterations: int, iteration: int) -> float:
    """The learning-rate multiplier at ``iteration`` of a run of ``iterations`` (a pure function, so
    resuming is exact)."""
    warm = min(1.0, (iteration + 1) / o.warmup) if o.warmup > 0 else 1.0
    if o.schedule == "multistep":
        return warm * o.gamma ** sum(iteration >= m for m in o.milestones)
    if o.schedule == "cosine":
        t = min(iteration / max(iterations, 1), 1.0)
        floor = o.min_lr / o.lr
        return warm * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))
    return warm


def optimiser(
    optim: OptimConfig, iterations: int, module: nn.Module, lr: float
) -> tuple[torch.optim.Adam, torch.optim.lr_scheduler.LambdaLR]:
    opt = torch.optim.Adam(module.parameters(), lr=lr, betas=tuple(optim.betas))  # type: ignore[arg-type]
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, partial(lr_factor, optim, iterations))


def _worker_init(_worker_id: int) -> None:
    # Ctrl-C reaches the whole process group; the main process saves a checkpoint and shuts
    # the workers down itself, so they must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def data_loader(
    dataset: SRTrainDataset | TeacherCacheDataset,
    data: DataConfig,
    batch_size: int,
    seed: int,
    iteration: int,
    dist: DistInfo,
    device: torch.device,
) -> Iterator[TrainSample]:
    """(LR, HR, JPEG grid) batches from stream position ``iteration`` on, on the host."""
    start = iteration * batch_size
    sampler = InfiniteSampler(len(dataset), seed, start=start, rank=dist.rank, world_size=dist.world_size)
    workers = data.workers
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=data.pin_memory and device.type == "cuda",
        persistent_workers=workers > 0,
        prefetch_factor=2 if workers > 0 else None,
        drop_last=True,
        worker_init_fn=_worker_init,
    )
    return iter(loader)
