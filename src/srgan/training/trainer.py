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

from srgan.archs import spec_for
from srgan.modelfiles import checkpoint as ckpt
from srgan.runtime import RuntimeChoiceError, autocast_dtype, precision_name
from srgan.training import build
from srgan.training.config import Config, ConfigError, check_same_networks, to_yaml
from srgan.training.distributed import any_true, average_buffers, barrier, cleanup, init_distributed
from srgan.training.logger import RunLogger, StatWindow
from srgan.training.steps import Placement
from srgan.training.validation import BestTracker, validate, validate_teacher


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
        self.parts = build.build_parts(cfg, self.dist, Placement(self.device, self.autocast_dtype))
        self.iteration = 0
        self.best = BestTracker(cfg.run.best_metric)
        self.nonfinite = 0
        self._stop_signal: str | None = None
        self._resumed_from: Path | None = None
        self._resume(resume)

    def _resume(self, resume: str | Path | None) -> None:
        fork = self.cfg.train.resume_from
        path = Path(resume) if resume else self.checkpoints.latest() or (Path(fork) if fork else None)
        if path is None:
            return
        if not path.is_file():
            raise ConfigError(f"checkpoint {path} does not exist")  # --resume or train.resume_from
        try:
            state = ckpt.load(path)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        if state["config"]["train"]["stage"] != self.stage:
            raise ConfigError(
                f"{path} is a {state['config']['train']['stage']} checkpoint; this run is stage {self.stage}"
            )
        check_same_networks(state["config"], self.cfg, path)
        parts = self.parts
        parts.generator.load_state_dict(state["generator"])
        if parts.ema is not None and state.get("ema") is not None:
            parts.ema.load_state_dict(state["ema"])
        if parts.discriminator is not None:
            parts.discriminator.load_state_dict(state["discriminator"])
        parts.step.load_state_dict(state)
        ckpt.set_rng_state(state["rng"])
        self.iteration = int(state["iteration"])
        self.best.best = state.get("best_metric")
        self.nonfinite = int(state.get("nonfinite", 0))
        self._resumed_from = path

    def state_dict(self) -> dict[str, Any]:
        parts = self.parts
        return {
            "iteration": self.iteration,
            "config": self.cfg.to_dict(),
            "generator_arch": spec_for(self.cfg.model.network()).name,
            "generator_config": self.cfg.model.network().to_dict(),
            "generator": parts.generator.state_dict(),
            "ema": parts.ema.state_dict() if parts.ema is not None else None,
            "discriminator": parts.discriminator.state_dict() if parts.discriminator is not None else None,
            **parts.step.state_dict(),
            "rng": ckpt.rng_state(),
            # The data stream is a pure function of (seed, iteration): that is the workers' RNG state.
            "data_position": self.iteration * self.cfg.train.batch_size * self.dist.world_size,
            "best_metric": self.best.best,
            "nonfinite": self.nonfinite,
        }

    # ---- the loop -----------------------------------------------------------------------------

    def _model(self) -> torch.nn.Module:
        """The model validation and export see: the EMA when there is one."""
        return self.parts.ema.model if self.parts.ema is not None else self.parts.generator

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._stop_signal = signal.Signals(signum).name
        signal.signal(signum, signal.SIG_DFL)  # a second signal stops at once

    def save(self, is_best: bool = False) -> Path | None:
        for module in (self.parts.generator, self.parts.discriminator):
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

        path = self.run_dir / "generator.safetensors"  # the EMA weights when EMA is on
        save_generator(
            path,
            self._model().state_dict(),
            self.cfg.model.network(),
            {"stage": self.stage, "iterations": str(self.iteration)},
        )
        return path

    def train(self) -> TrainResult:
        cfg, run = self.cfg, self.cfg.run
        self.logger = RunLogger(self.run_dir, self.dist.is_main, run.tensorboard, self.iteration, cfg.train.end)
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
        self.parts.step.unwrap()
        gc.collect()
        cleanup()

    def _describe(self) -> str:
        cfg = self.cfg
        total = cfg.train.batch_size * self.dist.world_size
        layout = " channels_last" if cfg.train.channels_last else ""
        content = "" if self.stage == "srresnet" else f", content {cfg.loss.perceptual}/{cfg.loss.layer}"
        shallow = cfg.loss.terms["content_shallow"]
        if shallow.weight > 0:
            content += f"{' +' if content else ', content'} {shallow.weight:g} x {cfg.loss.perceptual}/{getattr(shallow, 'layer', '')}"
        return (
            f"stage {self.stage}, {spec_for(cfg.model.network()).title} x{cfg.model.scale}: "
            f"{len(self.parts.dataset)} training images, batch "
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
        means.update(self.parts.step.learning_rates())
        self.logger.scalars(self.iteration, {**means, "speed/it_per_s": speed})
        total = self.cfg.train.end
        body = " ".join(f"{k}={v:.4g}" for k, v in means.items())
        eta = (total - self.iteration) / max(speed, 1e-9)
        self.logger.line(f"it {self.iteration}/{total} {body} | {speed:.2f} it/s, eta {eta / 60:.1f} min")

    def _validate(self) -> bool:
        """Validate (main process), log, and say whether this is the best model so far."""
        is_best = False
        if self.dist.is_main:
            with_niqe = self.stage == "srgan" or self.cfg.run.best_metric == "niqe"
            samples, scale = self.parts.val_samples, self.cfg.model.scale
            metrics, strip = validate(self._model(), samples, scale, self.device, with_niqe)
            metrics.update(validate_teacher(self._model(), self.parts.teacher_val_samples, scale, self.device))
            is_best = self.best.update(metrics)
            self.logger.scalars(self.iteration, metrics)
            if strip is not None:
                self.logger.image(self.iteration, "val/bicubic_sr_hr", strip)
            marker = " (best)" if is_best else ""
            self.logger.line("validation " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()) + marker)
        barrier()
        return is_best

    def _loop(self) -> TrainResult:
        cfg, run, parts = self.cfg, self.cfg.run, self.parts
        self._announce()
        for player in parts.step.players.values():
            player.forward.train()
        data = parts.loader(self.iteration)
        last_path: Path | None = None
        window = StatWindow()
        while self.iteration < cfg.train.end:
            stats = parts.step(next(data), self.iteration)
            # A skipped step still counts as an iteration, so the data stream stays a function of it.
            self.iteration += 1
            parts.step.advance_schedules()
            if stats is None:
                self._count_nonfinite()
                continue
            self.nonfinite = 0
            if parts.ema is not None:
                parts.ema.update(parts.generator)
            window.add(stats)
            self.logger.advance(1, " ".join(f"{k.split('/')[-1]}={v:.4g}" for k, v in stats.items()))
            done = self.iteration >= cfg.train.end
            if self.iteration % run.log_every == 0 or done:
                self._log_window(window)
            validating = bool(parts.val_samples or parts.teacher_val_samples)
            is_best = validating and (self.iteration % run.val_every == 0 or done) and self._validate()
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
