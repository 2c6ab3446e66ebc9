"""Exponential moving average of the generator's weights."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """ema = d * ema + (1 - d) * weights after every step, for parameters and floating-point
    buffers (BN statistics) alike; integer buffers are copied.

    d warms up as min(decay, (1 + n) / (10 + n)) over the first updates, so the average is not
    dominated by the random initial weights for the first ~1/(1 - decay) steps. ``warm``: the initial
    weights are a trained model's (fine-tuning), worth keeping, so d is ``decay`` from the first update;
    otherwise the average would follow the first steps of a fresh discriminator almost unfiltered.
    """

    def __init__(self, model: nn.Module, decay: float, warm: bool = False) -> None:
        self.decay = decay
        self.updates = 0
        self.warm = warm
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.decay if self.warm else min(self.decay, (1 + self.updates) / (10 + self.updates))
        for e, p in zip(self.model.state_dict().values(), model.state_dict().values(), strict=True):
            if e.is_floating_point():
                e.lerp_(p.detach(), 1.0 - d)
            else:
                e.copy_(p)
        # Eval mode again: a network whose inference weights are derived from its trained ones (SPAN's
        # folded convolutions) derives them from the new average, not from an average of derived ones.
        self.model.eval()

    def state_dict(self) -> dict[str, object]:
        """The checkpoint's ``ema`` record (srgan.modelfiles.checkpoint)."""
        from srgan.modelfiles.checkpoint import ema_record

        return ema_record(self.model.state_dict(), self.updates)

    def load_state_dict(self, record: dict[str, object]) -> None:
        self.updates = int(record["updates"])  # type: ignore[call-overload]
        self.model.load_state_dict(record["weights"])  # type: ignore[arg-type]
