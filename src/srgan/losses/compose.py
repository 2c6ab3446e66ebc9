"""The generator's loss as a list of weighted terms: what a term sees (``GeneratorBatch``), a named,
weighted term (``WeightedTerm``), their sum (``GeneratorLoss``), and what a term's builder is given
(``TermContext``). The terms themselves are in ``paper``, ``later``, ``lattice`` and ``experimental``;
``registry`` builds them from the configuration's ``loss.terms``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from srgan.losses.settings import TermSettings


@dataclass(frozen=True)
class GeneratorBatch:
    """What a generator loss term may look at in one G step."""

    sr: torch.Tensor
    hr: torch.Tensor
    fake_logits: torch.Tensor | None = None  # D on SR; None in stage srresnet (no discriminator)
    real_logits: torch.Tensor | None = None  # D on HR, detached; for the relativistic loss
    fake_features: list[torch.Tensor] | None = None  # D's intermediate features, for feature matching
    real_features: list[torch.Tensor] | None = None
    sr_ema: torch.Tensor | None = None  # the EMA generator's output, for the artifact term
    jpeg_grid: torch.Tensor | None = None  # (N, 2): where each LR's JPEG grid starts, for the block-step term


TermFunction = Callable[[GeneratorBatch], torch.Tensor]


@dataclass(frozen=True)
class WeightedTerm:
    """One named term of the generator loss, counted from iteration ``start`` on."""

    name: str
    weight: float
    function: TermFunction
    start: int = 0


class GeneratorLoss(nn.Module):
    """total = sum of weight x term over the terms active at this iteration.

    Returns a mapping with ``total`` and every active term (unweighted), which logging iterates.
    Terms that are ``nn.Module``s (the perceptual loss) are registered, so ``.to(device)`` moves
    them. Nothing here changes between steps: when a term starts is part of the term.
    """

    def __init__(self, terms: Sequence[WeightedTerm]) -> None:
        super().__init__()
        names = [t.name for t in terms]
        if len(set(names)) != len(names) or "total" in names:
            raise ValueError(f"loss term names must be unique and not 'total': {names}")
        self.terms = list(terms)
        self.term_modules = nn.ModuleList([t.function for t in terms if isinstance(t.function, nn.Module)])

    def needs(self, name: str) -> bool:
        return any(t.name == name for t in self.terms)

    def active(self, iteration: int) -> list[WeightedTerm]:
        return [t for t in self.terms if iteration >= t.start]

    def forward(self, batch: GeneratorBatch, iteration: int = 0) -> dict[str, torch.Tensor]:
        values: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=batch.sr.device)
        for term in self.active(iteration):
            value = term.function(batch)
            values[term.name] = value
            total = total + term.weight * value
        return {"total": total, **values}


class PairTerm(nn.Module):
    """Adapts a loss of (sr, hr), such as ``PerceptualLoss``, to a term of a ``GeneratorBatch``
    (a module, so the network inside it moves with the criterion)."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, batch: GeneratorBatch) -> torch.Tensor:
        return self.loss(batch.sr, batch.hr)


@dataclass(frozen=True)
class TermContext:
    """What a term's builder may need beyond its own settings."""

    scale: int  # the model's factor: the sub-pixel lattice's period, a JPEG block is 8 x scale HR pixels
    pixel_kind: str = "mse"  # loss.pixel: mse | l1
    adversarial: str = "vanilla"  # loss.adversarial: vanilla | ragan
    content: nn.Module | None = None  # the perceptual loss at loss.layer; None: pixel MSE (SRGAN-MSE)
    shallow: nn.Module | None = None  # the perceptual loss at loss.terms.content_shallow.layer


# A term's builder: its settings and the context in, the function of a GeneratorBatch out.
TermBuilder = Callable[[TermSettings, TermContext], TermFunction]
