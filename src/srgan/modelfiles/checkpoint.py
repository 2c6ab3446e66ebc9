"""Training checkpoints: the schema, atomic writing, last-K and best retention.

A checkpoint holds everything needed to continue bit-identically: weights, optimisers,
schedulers, EMA, grad scaler, RNG states and the iteration (which also fixes the data stream,
see srgan.data.dataset). It is a plain dict of tensors and Python values, so it loads with
``torch.load(weights_only=True)`` and no pickled code runs.

The schema (the keys the trainer writes, and the only place readers learn them):
- ``format``: "srgan-checkpoint"; ``iteration``; ``config`` (the training config as a mapping);
- ``generator_arch``: the generator's architecture (an ``ArchSpec`` name; absent before there was a choice:
  "srresnet"); ``generator_config``: its config as a mapping; ``generator``: its weights;
- ``ema``: None, or ``{"weights": state_dict, "updates": int}`` (the moving average of G);
- ``discriminator``, ``optimizer_g/d``, ``scheduler_g/d``, ``scaler``, ``rng``, ``data_position``,
  ``best_metric``, ``nonfinite``.
Checkpoints written before the ``ema`` record (EMA weights under ``generator_ema`` with a private
``_ema_updates`` entry) are upgraded when read.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from srgan.atomic import atomic_path
from srgan.runtime import load_failure

FORMAT = "srgan-checkpoint"
_NAME = re.compile(r"ckpt_(\d{8,})\.pt$")


def rng_state() -> dict[str, Any]:
    np_state: tuple[Any, ...] = np.random.get_state()  # type: ignore[assignment]
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "gauss": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Temp file, fsync, rename: a process killed at any moment leaves the old file intact."""
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path} is not a readable srgan checkpoint ({load_failure(exc)})") from None
    if not is_checkpoint(state):
        raise ValueError(f"{path} is not an srgan training checkpoint")
    return upgrade(state)


def is_checkpoint(obj: object) -> bool:
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def ema_record(weights: dict[str, torch.Tensor], updates: int) -> dict[str, Any]:
    return {"weights": weights, "updates": updates}


def upgrade(state: dict[str, Any]) -> dict[str, Any]:
    """The current schema from an older checkpoint (a no-op on a current one)."""
    if "generator_ema" in state:
        state = dict(state)
        old = state.pop("generator_ema")
        if old is None:
            state["ema"] = None
        else:
            old = dict(old)
            updates = int(old.pop("_ema_updates", torch.tensor(0)))
            state["ema"] = ema_record(old, updates)
    return state


def generator_weights(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], str, Any]:
    """The generator weights a checkpoint stands for (the EMA when it kept one), its architecture and
    its raw ``generator_config`` mapping (None in very old files)."""
    state = upgrade(state)
    ema = state.get("ema")
    weights = ema["weights"] if ema is not None else state["generator"]
    return weights, str(state.get("generator_arch", "srresnet")), state.get("generator_config")


class CheckpointManager:
    """ckpt_<iteration>.pt files in one folder: keeps the newest ``keep_last`` and ``best.pt``."""

    def __init__(self, folder: str | os.PathLike[str], keep_last: int = 3) -> None:
        self.folder = Path(folder)
        self.keep_last = max(keep_last, 1)

    def remove_stale_temp_files(self) -> None:
        """Temp files of a writer that was killed mid-save (the real checkpoints are untouched)."""
        if self.folder.is_dir():
            for tmp in self.folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)

    def checkpoints(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.folder.iterdir() if (m := _NAME.match(p.name))]
        return [p for _, p in sorted(found)]

    def latest(self) -> Path | None:
        found = self.checkpoints()
        return found[-1] if found else None

    @property
    def best(self) -> Path:
        return self.folder / "best.pt"

    def save(self, iteration: int, state: dict[str, Any], is_best: bool = False) -> Path:
        path = self.folder / f"ckpt_{iteration:08d}.pt"
        save(path, state)
        if is_best:
            # A hard link shares the bytes; replacing best.pt through a temp link stays atomic.
            tmp = self.folder / ".best.pt.tmp"
            tmp.unlink(missing_ok=True)
            try:
                os.link(path, tmp)
                os.replace(tmp, self.best)
            except OSError:  # file systems without hard links
                tmp.unlink(missing_ok=True)
                save(self.best, state)
        for old in self.checkpoints()[: -self.keep_last]:
            old.unlink(missing_ok=True)
        return path
