"""The one rule for every numeric command-line option: it parses as its kind, it is a finite number
(never inf or nan), and it lies in the option's range; otherwise argparse stops with exit status 2 and
one sentence naming the option, before any model is loaded or file read. Also the deprecated option
names, which keep working with a sentence naming the new one."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Number:
    """An argparse ``type``: ``kind`` (int or float) within [``low``, ``high``] (``above``: low excluded)."""

    kind: type[int] | type[float] = float
    low: float | None = None
    high: float | None = None
    above: bool = False

    @property
    def __name__(self) -> str:  # argparse names the type in some of its messages
        return "whole number" if self.kind is int else "number"

    def __call__(self, text: str) -> int | float:
        try:
            value = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"takes {self.describe()}, got {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"takes {self.describe()}, got {text!r} (not a finite number)")
        if not self.contains(value):
            raise argparse.ArgumentTypeError(f"takes {self.describe()}, got {text}")
        return value

    def contains(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or value <= self.high

    def describe(self) -> str:
        what = "a whole number" if self.kind is int else "a number"
        low, high = (_text(v) if v is not None else None for v in (self.low, self.high))
        if self.above:
            return f"{what} above {low}" + (f" and at most {high}" if high else "")
        if low is not None and high is not None:
            return f"{what} from {low} to {high}"
        if low is not None:
            return f"{what} of at least {low}"
        return f"{what} of at most {high}" if high is not None else what


def _text(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def number_list(number: Number) -> Any:
    """An argparse ``type`` for comma-separated numbers, each by ``number``'s rule."""

    def parse(text: str) -> list[int | float]:
        values = [number(v.strip()) for v in text.split(",") if v.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"takes {number.describe()} (or several, comma-separated), got {text!r}")
        return values

    parse.__name__ = "list of numbers"
    return parse


class Renamed(argparse.Action):
    """An old option name kept as an alias: it sets the new option and says, once, what to write now."""

    def __init__(self, option_strings: Sequence[str], dest: str, new: str = "", **kwargs: Any) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: str | None = None
    ) -> None:
        print(f"{parser.prog}: {option} is deprecated and will be removed; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)
