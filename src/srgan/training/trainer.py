"""The two-stage SRGAN trainer (Ledig et al., 2017, Sec. 3.2).

Stage ``srresnet``: the generator alone with a pixel loss. Stage ``srgan``: every iteration
first updates D (real HR = 1, G(LR) detached = 0), then G with content + 1e-3 x adversarial.
Runs on one CPU, one GPU, or many processes under torchrun (DistributedDataParallel).
"""

from __future__ import annotations

import gc
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from srgan.data.dataset import SRTrainDataset, TrainSample
from srgan.modelfiles import checkpoint as ckpt
from srgan.runtime import RuntimeChoiceError, autocast_dtype, precision_name
from srgan.training import build
from srgan.training.config import Config, ConfigError, to_yaml
from srgan.training.distributed import any_true, average_buffers, barrier, cleanup, init_distributed
from srgan.training.ema import EMA
from srgan.training.logger import RunLogger, StatWindow
from srgan.training.steps import AdversarialStep
from srgan.training.validation import BestTracker, load_samples, validate


def check_same_networks(saved: dict[str, Any], cfg: Config, path: Path) -> None:
    """A checkpoint resumes only into the networks it was trained with; name every differing key."""
    current = cfg.to_dict()
    differing = [
        f"{section}.{key} {saved_value} -> {current[section].get(key)}"
        for section in ("model", "discriminator")
        for key, saved_value in (saved.get(section) or {}).items()
        if section != "model" or key != "d_channels"  # an older key, now discriminator.channels
        if current[section].get(key) != saved_value
    ]
    if differing:
        raise ConfigError(
            f"{path} was trained with other networks ({'; '.join(differing)}); use the settings it was "
            "trained with, or another run folder"
        )


class TrainingError(RuntimeError):
    """Training cannot go on; the message says why, and the last good checkpoint is intact."""


@dataclass
class TrainResult:
    iteration: int
    status: str  # finished | interrupted
    checkpoint: Path | None
    export: Path | None
    best_metric: float | None


class Trainer:
    def __init__(self, cfg: Config, resume: str | Path | None = None) -> None:
        self.cfg = cfg.validate()
        self.dist, self.device = init_distributed(cfg.train.device)
        try:
            self.autocast_dtype = autocast_dtype(cfg.train.precision, self.device)
        except RuntimeChoiceError as exc:
            raise ConfigError(f"train.precision: {exc}") from exc
        self.run_dir = Path(cfg.run.run_dir)
        self.checkpoints = ckpt.CheckpointManager(self.run_dir / "checkpoints", cfg.run.keep_last)
        if self.dist.is_main:
            self.checkpoints.remove_stale_temp_files()
        self.stage = cfg.train.stage
        torch.manual_seed(cfg.train.seed)

        # Everything that can fail on a bad setting or a missing file fails here, before step 1.
        content = build.build_content_loss(cfg) if self.stage == "srgan" else None
        shallow_needed = self.stage == "srgan" and cfg.loss.shallow_weight > 0
        shallow = build.build_content_loss(cfg, cfg.loss.shallow_layer) if shallow_needed else None
        d = cfg.data
        realistic = d.realistic if d.degradation == "realistic" else None
        self.dataset = (
            build.teacher_dataset(cfg)
            if d.teacher_cache
            else SRTrainDataset(
                d.hr_dirs,
                cfg.model.scale,
                d.patch_size,
                d.augment,
                d.lr_dirs,
                d.cache,
                realistic,
                flat_target_blur=d.flat_target_blur,
            )
        )
        self.val_samples = load_samples(d.val_dirs, cfg.model.scale, d.val_max_images)
        self.generator = build.build_generator(cfg)
        self.discriminator = build.build_discriminator_for(cfg)
        self.g = build.wrap(self.generator, cfg, self.dist.enabled, self.device)
        self.ema = (
            EMA(self.generator, cfg.train.ema_decay, cfg.train.ema_warm_start) if cfg.train.ema_decay > 0 else None
        )
        self.step = build.training_step(cfg, self, content, shallow)

        self.iteration = 0
        self.best = BestTracker(cfg.run.best_metric)
        self.nonfinite = 0
        self._stop_signal: str | None = None
        self._resumed_from: Path | None = None
        self._resume(resume)

    # ---- set-up -------------------------------------------------------------------------------

    @property
    def _memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.cfg.train.channels_last else torch.contiguous_format

    def on_device(self, batch: TrainSample) -> TrainSample:
        """A loader's batch on the training device, the images in the configured memory format."""
        lr, hr = (
            t.to(self.device, non_blocking=True).contiguous(memory_format=self._memory_format)
            for t in (batch.lr, batch.hr)
        )
        return TrainSample(lr, hr, batch.jpeg_grid.to(self.device))

    def ema_forward(self, lr: torch.Tensor) -> torch.Tensor:
        """The moving average's output (the artifact term compares with it)."""
        assert self.ema is not None
        return self.ema.model(lr)

    def _resume(self, resume: str | Path | None) -> None:
        path = Path(resume) if resume else self.checkpoints.latest()
        if path is None:
            return
        if not path.is_file():
            raise ConfigError(f"checkpoint {path} does not exist")
        try:
            state = ckpt.load(path)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        if state["config"]["train"]["stage"] != self.stage:
            raise ConfigError(
                f"{path} is a {state['config']['train']['stage']} checkpoint; this run is stage {self.stage}"
            )
        check_same_networks(state["config"], self.cfg, path)
        self.generator.load_state_dict(state["generator"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        if self.discriminator is not None:
            self.discriminator.load_state_dict(state["discriminator"])
        self.step.load_state_dict(state)
        ckpt.set_rng_state(state["rng"])
        self.iteration = int(state["iteration"])
        self.best.best = state.get("best_metric")
        self.nonfinite = int(state.get("nonfinite", 0))
        self._resumed_from = path

    def state_dict(self) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "config": self.cfg.to_dict(),
            "generator_config": self.generator.config.to_dict(),
            "generator": self.generator.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "discriminator": self.discriminator.state_dict() if self.discriminator is not None else None,
            **self.step.state_dict(),
            "rng": ckpt.rng_state(),
            # The data stream is a pure function of (seed, iteration): that is the workers' RNG state.
            "data_position": self.iteration * self.cfg.train.batch_size * self.dist.world_size,
            "best_metric": self.best.best,
            "nonfinite": self.nonfinite,
        }

    # ---- the loop -----------------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._stop_signal = signal.Signals(signum).name
        signal.signal(signum, signal.SIG_DFL)  # a second signal stops at once

    def save(self, is_best: bool = False) -> Path | None:
        for module in (self.generator, self.discriminator):
            if module is not None:
                average_buffers(module)
        path = None
        if self.dist.is_main:
            path = self.checkpoints.save(self.iteration, self.state_dict(), is_best)
        barrier()
        return path

    def export(self) -> Path | None:
        if not self.dist.is_main:
            return None
        from srgan.modelfiles.safetensors import save_generator

        model = self.ema.model if self.ema is not None else self.generator
        path = self.run_dir / "generator.safetensors"  # the EMA weights when EMA is on
        save_generator(
            path,
            model.state_dict(),
            self.generator.config,
            {"stage": self.stage, "iterations": str(self.iteration)},
        )
        return path

    def train(self) -> TrainResult:
        cfg, run = self.cfg, self.cfg.run
        self.logger = RunLogger(self.run_dir, self.dist.is_main, run.tensorboard, self.iteration, cfg.train.iterations)
        if self.dist.is_main:
            (self.run_dir / "config.yaml").write_text(to_yaml(cfg))
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            return self._loop()
        finally:
            for s, h in handlers.items():
                signal.signal(s, h)
            self.logger.close()
            self._release_distributed()

    def _release_distributed(self) -> None:
        """Free the DDP wrappers, then the process group, while the interpreter is alive: left to
        interpreter shutdown, gloo's threads can still hold them and the process aborts at exit."""
        if isinstance(self.g, DistributedDataParallel):
            self.g = self.generator
        if isinstance(self.step, AdversarialStep) and isinstance(self.step.d_pair, DistributedDataParallel):
            self.step.d_pair = self.step.d_pair.module
        gc.collect()
        cleanup()

    def _describe(self) -> str:
        cfg = self.cfg
        total = cfg.train.batch_size * self.dist.world_size
        layout = " channels_last" if cfg.train.channels_last else ""
        content = "" if self.stage == "srresnet" else f", content {cfg.loss.perceptual}/{cfg.loss.layer}"
        if self.stage == "srgan" and cfg.loss.shallow_weight > 0:
            content += f" + {cfg.loss.shallow_weight:g} x {cfg.loss.shallow_layer}"
        return (
            f"stage {self.stage} x{cfg.model.scale}: {len(self.dataset)} training images, batch "
            f"{cfg.train.batch_size} per process x {self.dist.world_size} = {total}, patch {cfg.data.patch_size}, "
            f"{self.device} {precision_name(self.autocast_dtype)}{layout}{content}"
        )

    def _announce(self) -> None:
        cfg = self.cfg
        self.logger.line(self._describe())
        if self._resumed_from is not None:
            self.logger.line(f"resumed from {self._resumed_from} at iteration {self.iteration}")
        if cfg.train.init_from and self.iteration == 0:
            self.logger.line(f"generator initialised from {cfg.train.init_from}")
        if self.stage == "srgan" and not cfg.train.init_from and self.iteration == 0:
            self.logger.line("note: train.init_from is not set; the paper initialises SRGAN from a trained SRResNet")

    def _count_nonfinite(self) -> None:
        self.nonfinite += 1
        self.logger.line(f"iteration {self.iteration}: non-finite loss, step skipped ({self.nonfinite} in a row)")
        if self.nonfinite >= self.cfg.train.max_nonfinite:
            raise TrainingError(
                f"{self.nonfinite} consecutive non-finite losses at iteration {self.iteration}; stopped. "
                f"Last good checkpoint: {self.checkpoints.latest() or 'none yet'}. "
                "Try a lower optim.lr or train.precision=fp32."
            )

    def _log_window(self, window: StatWindow) -> None:
        means, speed = window.close()
        means.update(self.step.learning_rates())
        self.logger.scalars(self.iteration, {**means, "speed/it_per_s": speed})
        total = self.cfg.train.iterations
        body = " ".join(f"{k}={v:.4g}" for k, v in means.items())
        eta = (total - self.iteration) / max(speed, 1e-9)
        self.logger.line(f"it {self.iteration}/{total} {body} | {speed:.2f} it/s, eta {eta / 60:.1f} min")

    def _validate(self) -> bool:
        """Validate (main process), log, and say whether this is the best model so far."""
        is_best = False
        if self.dist.is_main:
            model = self.ema.model if self.ema is not None else self.generator
            with_niqe = self.stage == "srgan" or self.cfg.run.best_metric == "niqe"
            metrics, strip = validate(model, self.val_samples, self.cfg.model.scale, self.device, with_niqe)
            is_best = self.best.update(metrics)
            self.logger.scalars(self.iteration, metrics)
            if strip is not None:
                self.logger.image(self.iteration, "val/bicubic_sr_hr", strip)
            marker = " (best)" if is_best else ""
            self.logger.line("validation " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()) + marker)
        barrier()
        return is_best

    def _loop(self) -> TrainResult:
        cfg, run = self.cfg, self.cfg.run
        self._announce()
        self.g.train()
        if self.discriminator is not None:
            self.discriminator.train()
        data = build.data_loader(cfg, self.dataset, self.iteration, self.dist.rank, self.dist.world_size, self.device)
        last_path: Path | None = None
        window = StatWindow()
        while self.iteration < cfg.train.iterations:
            stats = self.step(self.on_device(next(data)), self.iteration)
            # A skipped step still counts as an iteration, so the data stream stays a function of it.
            self.iteration += 1
            self.step.advance_schedules()
            if stats is None:
                self._count_nonfinite()
                continue
            self.nonfinite = 0
            if self.ema is not None:
                self.ema.update(self.generator)
            window.add(stats)
            self.logger.advance(1, " ".join(f"{k.split('/')[-1]}={v:.4g}" for k, v in stats.items()))
            done = self.iteration >= cfg.train.iterations
            if self.iteration % run.log_every == 0 or done:
                self._log_window(window)
            is_best = bool(self.val_samples) and (self.iteration % run.val_every == 0 or done) and self._validate()
            stopping = any_true(self._stop_signal is not None, self.device)
            if self.iteration % run.save_every == 0 or done or is_best or stopping:
                last_path = self.save(is_best)
            if stopping:
                reason = self._stop_signal or "stop signal on another process"
                self.logger.line(
                    f"{reason}: saved {last_path} at iteration {self.iteration}; run the same command again to resume"
                )
                return TrainResult(self.iteration, "interrupted", last_path, None, self.best.best)
        export = self.export()
        if export is not None:
            self.logger.line(f"finished: generator exported to {export}")
        barrier()  # every rank leaves together, so none tears the process group down under another
        return TrainResult(self.iteration, "finished", last_path, export, self.best.best)
