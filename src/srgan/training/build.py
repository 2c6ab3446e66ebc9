"""Building a training run's parts from its configuration: networks, the generator's loss (a list of
weighted terms), optimisers and learning-rate schedules.

Everything that can fail on a bad setting or a missing file fails here, before the first step.
To add a generator loss term: write its function in ``srgan.losses`` (taking a ``GeneratorBatch``
or wrapped in ``PairTerm``), give it a weight in ``LossConfig`` and one line in ``generator_terms``.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from srgan import losses
from srgan.models.discriminator import Discriminator, UNetDiscriminator, build_discriminator
from srgan.models.generator import Generator, init_icnr
from srgan.training.config import Config, ConfigError


def build_generator(cfg: Config) -> Generator:
    g = Generator.from_config(cfg.model)
    if cfg.train.icnr:
        if cfg.train.init_from:
            raise ConfigError(
                "train.icnr initialises a generator trained from scratch; it cannot go with train.init_from"
            )
        init_icnr(g)
    return g


def build_discriminator_for(cfg: Config) -> Discriminator | UNetDiscriminator | None:
    if cfg.train.stage != "srgan":
        return None
    if cfg.discriminator.arch == "unet" and cfg.data.patch_size % 8:
        raise ConfigError(
            f"discriminator.arch unet needs data.patch_size divisible by 8; got {cfg.data.patch_size}"
        )
    try:
        return build_discriminator(cfg.discriminator)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def build_content_loss(cfg: Config) -> losses.PerceptualLoss | None:
    """The perceptual loss of stage srgan, or None for the paper's SRGAN-MSE (pixel MSE content)."""
    from srgan.models.weights import WeightsError

    loss = cfg.loss
    if loss.perceptual == "mse":
        return None
    try:
        if loss.perceptual == "vgg19":
            from srgan.models.vgg import VGG19Features

            net: nn.Module = VGG19Features(
                loss.layer, weights=loss.weights, input_upsample=loss.input_upsample
            )
        else:
            from srgan.models.squeezenet import SqueezeNetFeatures

            net = SqueezeNetFeatures(loss.layer, weights=loss.weights, input_upsample=loss.input_upsample)
    except (WeightsError, ValueError) as exc:
        raise ConfigError(f"perceptual network ({loss.perceptual}, {loss.layer}): {exc}") from exc
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


def _lattice_energy(period: int, batch: losses.GeneratorBatch) -> torch.Tensor:
    return losses.lattice_energy_loss(batch.sr, period)


def _chroma(batch: losses.GeneratorBatch) -> torch.Tensor:
    return losses.chroma_loss(batch.sr, batch.hr)


def _feature_matching(batch: losses.GeneratorBatch) -> torch.Tensor:
    assert batch.fake_features is not None and batch.real_features is not None
    return losses.feature_matching_loss(batch.fake_features, batch.real_features)


def _artifact(batch: losses.GeneratorBatch) -> torch.Tensor:
    return losses.artifact_loss(batch.sr, batch.hr, batch.sr_ema)


def generator_terms(cfg: Config, content: losses.PerceptualLoss | None) -> list[losses.WeightedTerm]:
    """The stage-srgan generator loss: content + adversarial_weight x adversarial (the paper), plus
    each optional term whose weight is above zero."""
    loss, period = cfg.loss, cfg.model.scale
    content_fn = losses.PairTerm(content) if content is not None else _content_mse
    terms = [
        losses.WeightedTerm("content", 1.0, content_fn),
        losses.WeightedTerm("adversarial", loss.adversarial_weight, partial(_adversarial, loss.adversarial)),
    ]
    optional: list[tuple[str, float, losses.TermFunction, int]] = [
        ("pixel", loss.pixel_weight, partial(_pixel, loss.pixel), 0),
        ("lattice", loss.lattice_weight, partial(_lattice, period), loss.lattice_start),
        ("lattice_energy", loss.lattice_energy_weight, partial(_lattice_energy, period), loss.lattice_start),
        ("chroma", loss.chroma_weight, _chroma, 0),
        ("feature_matching", loss.feature_matching_weight, _feature_matching, 0),
        ("artifact", loss.artifact_weight, _artifact, 0),
    ]
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


def optimiser(
    cfg: Config, module: nn.Module, lr: float
) -> tuple[torch.optim.Adam, torch.optim.lr_scheduler.LambdaLR]:
    opt = torch.optim.Adam(module.parameters(), lr=lr, betas=tuple(cfg.optim.betas))  # type: ignore[arg-type]
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, partial(lr_factor, cfg))
