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
from typing import Any

import torch
from torch import nn

from srgan import losses
from srgan.data.dataset import TrainSample
from srgan.training.distributed import all_true

Scheduler = torch.optim.lr_scheduler.LRScheduler


class Step:
    """Shared machinery: autocast, the scaler, the finite-loss guard and the BN-buffer restore."""

    def __init__(self, device: torch.device, autocast_dtype: torch.dtype | None, modules: list[nn.Module]) -> None:
        self.device = device
        self.autocast_dtype = autocast_dtype
        self.modules = modules
        self.scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype == torch.float16)

    # ---- what subclasses provide ----
    def run(self, batch: TrainSample, iteration: int) -> dict[str, float] | None:
        raise NotImplementedError

    def optimisers(self) -> dict[str, tuple[torch.optim.Optimizer, Scheduler]]:
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
        return [b for m in self.modules for b in m.buffers()]

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
        for _, scheduler in self.optimisers().values():
            scheduler.step()

    def learning_rates(self) -> dict[str, float]:
        return {f"lr/{name}": float(opt.param_groups[0]["lr"]) for name, (opt, _) in self.optimisers().items()}

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint keys optimizer_X / scheduler_X for X in g, d, and the scaler's state."""
        state: dict[str, Any] = {"scaler": self.scaler.state_dict()}
        for name, (opt, sched) in self.optimisers().items():
            state[f"optimizer_{name}"] = opt.state_dict()
            state[f"scheduler_{name}"] = sched.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, (opt, sched) in self.optimisers().items():
            opt.load_state_dict(state[f"optimizer_{name}"])
            sched.load_state_dict(state[f"scheduler_{name}"])
        self.scaler.load_state_dict(state["scaler"])


class PixelStep(Step):
    def __init__(
        self,
        g: nn.Module,
        generator: nn.Module,
        opt_g: tuple[torch.optim.Optimizer, Scheduler],
        pixel_kind: str,
        device: torch.device,
        autocast_dtype: torch.dtype | None,
    ) -> None:
        super().__init__(device, autocast_dtype, [generator])
        self.g, self.opt_g, self.pixel_kind = g, opt_g, pixel_kind

    def optimisers(self) -> dict[str, tuple[torch.optim.Optimizer, Scheduler]]:
        return {"g": self.opt_g}

    def run(self, batch: TrainSample, iteration: int) -> dict[str, float] | None:
        with self.autocast():
            sr = self.g(batch.lr)
        loss = losses.pixel_loss(sr.float(), batch.hr, self.pixel_kind)
        if not self.finite(loss):
            return None
        self.optimise(loss, self.opt_g[0])
        self.scaler.update()
        return {f"loss/pixel_{self.pixel_kind}": loss.item()}


class DiscriminatorPair(nn.Module):
    """D on real and on fake in one forward call: DistributedDataParallel syncs once per
    backward, while BatchNorm still sees the real and the fake batch separately, as in the paper."""

    def __init__(self, d: nn.Module) -> None:
        super().__init__()
        self.d = d

    def forward(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.d(real), self.d(fake)


class AdversarialStep(Step):
    def __init__(
        self,
        g: nn.Module,
        generator: nn.Module,
        d_pair: nn.Module,
        discriminator: nn.Module,
        opt_g: tuple[torch.optim.Optimizer, Scheduler],
        opt_d: tuple[torch.optim.Optimizer, Scheduler],
        criterion: losses.GeneratorLoss,
        relativistic: bool,
        device: torch.device,
        autocast_dtype: torch.dtype | None,
        ema_forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__(device, autocast_dtype, [generator, discriminator])
        self.g, self.d_pair, self.discriminator = g, d_pair, discriminator
        self.opt_g, self.opt_d = opt_g, opt_d
        self.criterion, self.relativistic = criterion, relativistic
        self.ema_forward = ema_forward

    def optimisers(self) -> dict[str, tuple[torch.optim.Optimizer, Scheduler]]:
        return {"g": self.opt_g, "d": self.opt_d}

    def run(self, batch: TrainSample, iteration: int) -> dict[str, float] | None:
        with self.autocast():
            sr = self.g(batch.lr)
            real_logits, fake_logits = self.d_pair(batch.hr, sr.detach())
        d_loss_fn = losses.relativistic_discriminator_loss if self.relativistic else losses.discriminator_loss
        loss_d = d_loss_fn(real_logits, fake_logits)
        if not self.finite(loss_d):
            return None
        self.optimise(loss_d, self.opt_d[0])

        self.discriminator.requires_grad_(False)
        try:
            with self.autocast():
                terms = self.criterion(self._generator_batch(batch, sr), iteration)
            if not self.finite(terms["total"]):
                return None
            self.optimise(terms["total"], self.opt_g[0])
        finally:
            self.discriminator.requires_grad_(True)
        self.scaler.update()
        return {
            "loss/d": loss_d.item(),
            **{f"loss/g_{name}": value.item() for name, value in terms.items()},
            "d/real_prob": torch.sigmoid(real_logits.float()).mean().item(),
            "d/fake_prob": torch.sigmoid(fake_logits.float()).mean().item(),
        }

    def _generator_batch(self, batch: TrainSample, sr: torch.Tensor) -> losses.GeneratorBatch:
        """D (frozen) on SR, and on HR and the EMA generator only where a term needs them."""
        lr, hr = batch.lr, batch.hr
        needs_features = self.criterion.needs("feature_matching")
        fake_logits, fake_features = self.discriminator.forward_features(sr)  # type: ignore[operator]
        real_logits = real_features = sr_ema = None
        if self.relativistic or needs_features:
            with torch.no_grad():
                real_logits, real_features = self.discriminator.forward_features(hr)  # type: ignore[operator]
        if self.criterion.needs("artifact") and self.ema_forward is not None:
            with torch.no_grad():
                sr_ema = self.ema_forward(lr)
        return losses.GeneratorBatch(
            sr=sr,
            hr=hr,
            fake_logits=fake_logits,
            real_logits=real_logits,
            fake_features=fake_features if needs_features else None,
            real_features=real_features,
            sr_ema=sr_ema,
            jpeg_grid=batch.jpeg_grid,
        )
