"""The two kinds of training step. Each owns its optimisers, schedules and gradient scaler, skips a
step whose loss is not finite (on every process alike) and then restores the BatchNorm statistics
that the failed forward pass already moved.

``PixelStep``: stage srresnet, the generator alone with a pixel loss.
``AdversarialStep``: stage srgan, first D (real HR = real, G(LR) detached = fake), then G against
the updated D, with D frozen so no gradient (or DDP sync) reaches it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from srgan.data.dataset import TrainSample
from srgan.losses.compose import GeneratorBatch, GeneratorLoss
from srgan.losses.later import relativistic_discriminator_loss
from srgan.losses.paper import discriminator_loss, pixel_loss
from srgan.training.distributed import all_true

Scheduler = torch.optim.lr_scheduler.LRScheduler


@dataclass
class Player:
    """One network of a step: ``module`` is the bare network (its parameters and buffers, what a
    checkpoint saves), ``forward`` what its forward pass runs through (the module itself or its
    torch.compile / DistributedDataParallel wrapper), and the optimiser and schedule that update it."""

    module: nn.Module
    forward: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Scheduler

    def unwrap(self) -> None:
        """Drop a DDP wrapper (before the process group is torn down)."""
        if isinstance(self.forward, DistributedDataParallel):
            self.forward = self.forward.module


@dataclass(frozen=True)
class Placement:
    """Where a step computes: its device, and the autocast dtype (None: fp32)."""

    device: torch.device
    autocast_dtype: torch.dtype | None


class Step:
    """Shared machinery: autocast, the scaler, the finite-loss guard and the BN-buffer restore."""

    def __init__(self, placement: Placement, players: dict[str, Player]) -> None:
        self.device = placement.device
        self.autocast_dtype = placement.autocast_dtype
        self.players = players
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.autocast_dtype == torch.float16)

    # ---- what subclasses provide ----
    def run(self, batch: TrainSample, iteration: int) -> dict[str, float] | None:
        raise NotImplementedError

    # ---- shared ----
    def __call__(self, batch: TrainSample, iteration: int) -> dict[str, float] | None:
        """One optimisation step on a batch of samples already on the step's device."""
        saved = [b.detach().clone() for b in self._buffers()]
        stats = self.run(batch, iteration)
        if stats is None:  # the forward pass already moved BN running stats towards NaN
            with torch.no_grad():
                for b, s in zip(self._buffers(), saved, strict=True):
                    b.copy_(s)
        return stats

    def _buffers(self) -> list[torch.Tensor]:
        return [b for p in self.players.values() for b in p.module.buffers()]

    def autocast(self) -> AbstractContextManager[Any]:
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def finite(self, loss: torch.Tensor) -> bool:
        return all_true(bool(torch.isfinite(loss)), self.device)

    def optimise(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)

    def advance_schedules(self) -> None:
        for player in self.players.values():
            player.scheduler.step()

    def learning_rates(self) -> dict[str, float]:
        return {f"lr/{name}": float(p.optimizer.param_groups[0]["lr"]) for name, p in self.players.items()}

    def unwrap(self) -> None:
        for player in self.players.values():
            player.unwrap()

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint keys optimizer_X / scheduler_X for X in g, d, and the scaler's state."""
        state: dict[str, Any] = {"scaler": self.scaler.state_dict()}
        for name, player in self.players.items():
            state[f"optimizer_{name}"] = player.optimizer.state_dict()
            state[f"scheduler_{name}"] = player.scheduler.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, player in self.players.items():
            player.optimizer.load_state_dict(state[f"optimizer_{name}"])
            player.scheduler.load_state_dict(state[f"scheduler_{name}"])
        self.scaler.load_state_dict(state["scaler"])


class PixelStep(Step):
    """The pixel loss, plus ``extra``: the terms of ``loss.terms`` that need no discriminator, if any are on."""

    def __init__(self, g: Player, pixel_kind: str, placement: Placement, extra: GeneratorLoss | None = None) -> None:
        super().__init__(placement, {"g": g})
        self.g, self.pixel_kind, self.extra = g, pixel_kind, extra

    def run(self, batch: TrainSample, iteration: int) -> dict[str, float] | None:
        with self.autocast():
            sr = self.g.forward(batch.lr)
        pixel = loss = pixel_loss(sr.float(), batch.hr, self.pixel_kind)
        terms: dict[str, torch.Tensor] = {}
        if self.extra is not None:
            with self.autocast():  # as stage srgan's terms: a perceptual network runs at the training precision
                terms = self.extra(GeneratorBatch(sr=sr, hr=batch.hr), iteration)
            loss = pixel + terms.pop("total")
        if not self.finite(loss):
            return None
        self.optimise(loss, self.g.optimizer)
        self.scaler.update()
        return {f"loss/pixel_{self.pixel_kind}": pixel.item(), **{f"loss/{n}": v.item() for n, v in terms.items()}}


class DiscriminatorPair(nn.Module):
    """D on real and on fake in one forward call: DistributedDataParallel syncs once per
    backward, while BatchNorm still sees the real and the fake batch separately, as in the paper."""

    def __init__(self, d: nn.Module) -> None:
        super().__init__()
        self.d = d

    def forward(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.d(real), self.d(fake)


class AdversarialStep(Step):
    """``d.forward`` is a ``DiscriminatorPair`` (or its wrapper); ``ema_forward`` the EMA generator,
    for the artifact term."""

    def __init__(
        self,
        g: Player,
        d: Player,
        criterion: GeneratorLoss,
        placement: Placement,
        relativistic: bool = False,
        ema_forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__(placement, {"g": g, "d": d})
        self.g, self.d = g, d
        self.criterion, self.relativistic = criterion, relativistic
        self.ema_forward = ema_forward

    def run(self, batch: TrainSample, iteration: int) -> dict[str, float] | None:
        with self.autocast():
            sr = self.g.forward(batch.lr)
            real_logits, fake_logits = self.d.forward(batch.hr, sr.detach())
        d_loss_fn = relativistic_discriminator_loss if self.relativistic else discriminator_loss
        loss_d = d_loss_fn(real_logits, fake_logits)
        if not self.finite(loss_d):
            return None
        self.optimise(loss_d, self.d.optimizer)

        self.d.module.requires_grad_(False)
        try:
            with self.autocast():
                terms = self.criterion(self._generator_batch(batch, sr), iteration)
            if not self.finite(terms["total"]):
                return None
            self.optimise(terms["total"], self.g.optimizer)
        finally:
            self.d.module.requires_grad_(True)
        self.scaler.update()
        return {
            "loss/d": loss_d.item(),
            **{f"loss/g_{name}": value.item() for name, value in terms.items()},
            "d/real_prob": torch.sigmoid(real_logits.float()).mean().item(),
            "d/fake_prob": torch.sigmoid(fake_logits.float()).mean().item(),
        }

    def _generator_batch(self, batch: TrainSample, sr: torch.Tensor) -> GeneratorBatch:
        """D (frozen) on SR, and on HR and the EMA generator only where a term needs them."""
        lr, hr = batch.lr, batch.hr
        discriminator = self.d.module
        needs_features = self.criterion.needs("feature_matching")
        fake_logits, fake_features = discriminator.forward_features(sr)  # type: ignore[operator]
        real_logits = real_features = sr_ema = None
        if self.relativistic or needs_features:
            with torch.no_grad():
                real_logits, real_features = discriminator.forward_features(hr)  # type: ignore[operator]
        if self.criterion.needs("artifact") and self.ema_forward is not None:
            with torch.no_grad():
                sr_ema = self.ema_forward(lr)
        return GeneratorBatch(
            sr=sr,
            hr=hr,
            fake_logits=fake_logits,
            real_logits=real_logits,
            fake_features=fake_features if needs_features else None,
            real_features=real_features,
            sr_ema=sr_ema,
            jpeg_grid=batch.jpeg_grid,
        )
