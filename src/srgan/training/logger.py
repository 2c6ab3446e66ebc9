"""What a run reports: a plain-text log, a CSV of every scalar, TensorBoard, a progress bar.

Only the main process (rank 0) writes anything.
"""

from __future__ import annotations

import csv
import logging
import sys
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("srgan.train")


class RunLogger:
    def __init__(self, run_dir: Path, enabled: bool, tensorboard: bool, start_step: int, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self._tb = None
        self._csv = None
        self._bar = None
        self._text = None
        if not enabled:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        self._text = open(run_dir / "log.txt", "a", buffering=1)  # noqa: SIM115 - lives as long as the run
        new_csv = not (run_dir / "metrics.csv").exists()
        self._csv_file = open(run_dir / "metrics.csv", "a", newline="", buffering=1)  # noqa: SIM115
        self._csv = csv.writer(self._csv_file)
        if new_csv:
            self._csv.writerow(["step", "tag", "value", "time"])
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                # purge_step drops events a crashed run wrote after its last checkpoint
                self._tb = SummaryWriter(str(run_dir / "tensorboard"), purge_step=start_step or None)
            except ImportError:
                self.line(
                    "tensorboard is not installed (pip install 'srgan[tensorboard]'); logging to metrics.csv only"
                )
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=start_step, unit="it", dynamic_ncols=True, file=sys.stderr)

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        stamped = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}"
        if self._bar is not None:
            self._bar.write(stamped, file=sys.stderr)
        else:
            print(stamped, flush=True)
        if self._text is not None:
            self._text.write(stamped + "\n")

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        now = f"{time.time():.1f}"
        for tag, value in values.items():
            self._csv.writerow([step, tag, f"{value:.6g}", now])  # type: ignore[union-attr]
            if self._tb is not None:
                self._tb.add_scalar(tag, value, step)

    def image(self, step: int, tag: str, image_hwc: np.ndarray) -> None:
        if self.enabled and self._tb is not None:
            self._tb.add_image(tag, image_hwc, step, dataformats="HWC")

    def advance(self, n: int = 1, postfix: str = "") -> None:
        if self._bar is not None:
            self._bar.update(n)
            if postfix:
                self._bar.set_postfix_str(postfix, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._tb is not None:
            self._tb.close()
        if self._csv is not None:
            self._csv_file.close()
        if self._text is not None:
            self._text.close()


class StatWindow:
    """Per-step statistics averaged over a logging window, with the window's speed."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}
        self.steps = 0
        self.started = time.perf_counter()

    def add(self, stats: dict[str, float]) -> None:
        for k, v in stats.items():
            self.values.setdefault(k, []).append(v)
        self.steps += 1

    def close(self) -> tuple[dict[str, float], float]:
        """The means and the speed in steps per second; the window starts afresh."""
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        means = {k: sum(v) / len(v) for k, v in self.values.items()}
        speed = self.steps / elapsed
        self.__init__()  # type: ignore[misc]
        return means, speed
