"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

import torch


def machine_line() -> str:
    return (
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}, "
        f"{platform.processor() or 'cpu'}"
    )


def _timings(fn: Callable[[], object], warmup: int, repeats: int) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)


def seconds_per_call(fn: Callable[[], object], warmup: int, repeats: int) -> float:
    """Median wall time of ``fn`` after ``warmup`` untimed calls."""
    times = _timings(fn, warmup, repeats)
    return times[len(times) // 2]


def best_seconds(fn: Callable[[], object], warmup: int, repeats: int) -> float:
    """Best wall time of ``fn`` after ``warmup`` untimed calls (the least disturbed run)."""
    return _timings(fn, warmup, repeats)[0]


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = "| " + " | ".join(f"{{:<{w}}}" for w in widths) + " |"
    lines = [fmt.format(*headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)
