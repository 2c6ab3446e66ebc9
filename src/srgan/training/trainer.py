"""The two-stage SRGAN trainer (Ledig et al., 2017, Sec. 3.2).

Stage ``srresnet``: the generator alone with a pixel loss. Stage ``srgan``: every iteration
first updates D (real HR = 1, G(LR) detached = 0), then G with content + 1e-3 x adversarial.
Runs on one CPU, one GPU, or many processes under torchrun (DistributedDataParallel).
"""

from __future__ import annotations

import gc
import itertools
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from srgan import losses
from srgan.data.dataset import InfiniteSampler, SRTrainDataset
from srgan.modelfiles import checkpoint as ckpt
from srgan.runtime import RuntimeChoiceError, autocast_dtype, place, precision_name
from srgan.training import build
from srgan.training.config import Config, ConfigError, to_yaml
from srgan.training.distributed import any_true, average_buffers, barrier, cleanup, init_distributed
from srgan.training.ema import EMA
from srgan.training.logger import RunLogger
from srgan.training.steps import AdversarialStep, DiscriminatorPair, PixelStep, Step


class TrainingError(RuntimeError):
    """Training cannot go on; the message says why, and the last good checkpoint is intact."""


@dataclass
class TrainResult:
    iteration: int
    status: str  # finished | interrupted
    checkpoint: Path | None
    export: Path | None
    best_metric: float | None


def _worker_init(_worker_id: int) -> None:
    # Ctrl-C reaches the whole process group; the main process saves a checkpoint and shuts
    # the workers down itself, so they must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


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
        d = cfg.data
        self.dataset = SRTrainDataset(d.hr_dirs, cfg.model.scale, d.patch_size, d.augment, d.lr_dirs, d.cache)
        self.val_samples = self._load_validation()
        self.generator = build.build_generator(cfg)
        if cfg.train.init_from:
            self._init_generator(cfg.train.init_from)
        self.discriminator = build.build_discriminator_for(cfg)
        self.g = self._prepare(self.generator)
        self.ema = EMA(self.generator, cfg.train.ema_decay) if cfg.train.ema_decay > 0 else None
        opt_g = build.optimiser(cfg, self.generator, cfg.optim.lr)
        self.step: Step
        if self.discriminator is None:
            self.step = PixelStep(
                self.g, self.generator, opt_g, cfg.loss.pixel, self.device, self.autocast_dtype
            )
        else:
            criterion = losses.GeneratorLoss(build.generator_terms(cfg, content))
            place(criterion, self.device, cfg.train.channels_last)
            self.step = AdversarialStep(
                self.g, self.generator, self._prepare(DiscriminatorPair(self.discriminator)), self.discriminator,
                opt_g, build.optimiser(cfg, self.discriminator, cfg.optim.d_lr or cfg.optim.lr),
                criterion, cfg.loss.adversarial == "ragan", self.device, self.autocast_dtype,
                self._ema_forward if self.ema is not None else None,
            )  # fmt: skip

        self.iteration = 0
        self.best_metric: float | None = None
        self.nonfinite = 0
        self._stop_signal: str | None = None
        self._resumed_from: Path | None = None
        self._resume(resume)

    # ---- set-up -------------------------------------------------------------------------------

    @property
    def _memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.cfg.train.channels_last else torch.contiguous_format

    def _ema_forward(self, lr: torch.Tensor) -> torch.Tensor:
        assert self.ema is not None
        return self.ema.model(lr)

    def _load_validation(self) -> list[Any]:
        from srgan.evaluation.protocol import iter_samples

        samples = []
        for folder in self.cfg.data.val_dirs:
            if not Path(folder).is_dir():
                raise ConfigError(f"validation folder {folder} does not exist")
            samples += list(
                itertools.islice(
                    iter_samples(Path(folder), self.cfg.model.scale), self.cfg.data.val_max_images
                )
            )
        return samples

    def _init_generator(self, source: str) -> None:
        from srgan.modelfiles.loader import ModelLoadError, load_generator

        try:
            loaded = load_generator(source, scale=self.cfg.model.scale)
        except ModelLoadError as exc:
            raise ConfigError(f"train.init_from: {exc}") from exc
        if loaded.config != self.generator.config:
            raise ConfigError(
                f"train.init_from {source} is a {loaded.config}, but the config asks for {self.generator.config}"
            )
        self.generator.load_state_dict(loaded.state_dict())

    def _prepare(self, module: nn.Module) -> nn.Module:
        module = place(module, self.device, self.cfg.train.channels_last)
        if self.cfg.train.sync_bn and self.dist.enabled:
            if self.device.type != "cuda":
                raise ConfigError(
                    "train.sync_bn needs CUDA (SyncBatchNorm has no CPU kernel); leave it off on CPU"
                )
            module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
        if self.cfg.train.compile:
            module = torch.compile(module)  # type: ignore[assignment]
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            module = DistributedDataParallel(module, device_ids=ids)
        return module

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
        self.generator.load_state_dict(state["generator"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        if self.discriminator is not None:
            self.discriminator.load_state_dict(state["discriminator"])
        self.step.load_state_dict(state)
        ckpt.set_rng_state(state["rng"])
        self.iteration = int(state["iteration"])
        self.best_metric = state.get("best_metric")
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
            "best_metric": self.best_metric,
            "nonfinite": self.nonfinite,
        }

    def _loader(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        cfg = self.cfg
        sampler = InfiniteSampler(
            len(self.dataset), cfg.train.seed, start=self.iteration * cfg.train.batch_size,
            rank=self.dist.rank, world_size=self.dist.world_size,
        )  # fmt: skip
        loader = DataLoader(
            self.dataset,
            batch_size=cfg.train.batch_size,
            sampler=sampler,
            num_workers=cfg.data.workers,
            pin_memory=cfg.data.pin_memory and self.device.type == "cuda",
            persistent_workers=cfg.data.workers > 0,
            prefetch_factor=2 if cfg.data.workers > 0 else None,
            drop_last=True,
            worker_init_fn=_worker_init,
        )
        return iter(loader)

    # ---- validation ---------------------------------------------------------------------------

    @torch.inference_mode()
    def validate(self) -> dict[str, float]:
        from srgan.evaluation.protocol import bicubic, score

        model = self.ema.model if self.ema is not None else self.generator
        was_training = model.training
        model.eval()
        with_niqe = self.stage == "srgan" or self.cfg.run.best_metric == "niqe"
        results, sample_grid = [], None
        for i, sample in enumerate(self.val_samples):
            sr = model(sample.lr.float().to(self.device)).float().cpu()
            result, sr_u8 = score(sr, sample, self.cfg.model.scale, with_niqe)
            results.append(result)
            if i == 0:
                from srgan.evaluation.report import comparison_strip
                from srgan.imageio import to_uint8

                bic = to_uint8(bicubic(self.cfg.model.scale)(sample.lr)[0].float()).permute(1, 2, 0).numpy()
                sample_grid = comparison_strip([("bicubic", bic), ("SR", sr_u8), ("HR", sample.hr)], crop=192)
        model.train(was_training)
        metrics = {
            f"val/{k}": float(sum(getattr(r, k) for r in results) / len(results))
            for k in ("psnr_y", "ssim_y")
        }
        for key in ("niqe", "grid"):
            values = [getattr(r, key) for r in results if getattr(r, key) is not None]
            if values:
                metrics[f"val/{key}"] = float(sum(values) / len(values))
        if sample_grid is not None:
            import numpy as np

            self.logger.image(self.iteration, "val/bicubic_sr_hr", np.asarray(sample_grid))
        return metrics

    def _is_better(self, metrics: dict[str, float]) -> bool:
        key = f"val/{self.cfg.run.best_metric}"
        if key not in metrics:
            return False
        value = metrics[key]
        better = self.best_metric is None or (
            value < self.best_metric if self.cfg.run.best_metric == "niqe" else value > self.best_metric
        )
        if better:
            self.best_metric = value
        return better

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
        save_generator(path, model.state_dict(), self.generator.config,
                       {"stage": self.stage, "iterations": str(self.iteration)})  # fmt: skip
        return path

    def train(self) -> TrainResult:
        cfg, run = self.cfg, self.cfg.run
        self.logger = RunLogger(
            self.run_dir, self.dist.is_main, run.tensorboard, self.iteration, cfg.train.iterations
        )
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
        precision = precision_name(self.autocast_dtype)
        total = cfg.train.batch_size * self.dist.world_size
        content = "" if self.stage == "srresnet" else f", content {cfg.loss.perceptual}/{cfg.loss.layer}"
        return (f"stage {self.stage} x{cfg.model.scale}: {len(self.dataset)} training images, batch "
                f"{cfg.train.batch_size} per process x {self.dist.world_size} = {total}, patch {cfg.data.patch_size}, "
                f"{self.device} {precision}{' channels_last' if cfg.train.channels_last else ''}{content}")  # fmt: skip

    def _loop(self) -> TrainResult:
        cfg, run = self.cfg, self.cfg.run
        self.logger.line(self._describe())
        if self._resumed_from is not None:
            self.logger.line(f"resumed from {self._resumed_from} at iteration {self.iteration}")
        if cfg.train.init_from and self.iteration == 0:
            self.logger.line(f"generator initialised from {cfg.train.init_from}")
        if self.stage == "srgan" and not cfg.train.init_from and self.iteration == 0:
            self.logger.line(
                "note: train.init_from is not set; the paper initialises SRGAN from a trained SRResNet"
            )
        self.g.train()
        if self.discriminator is not None:
            self.discriminator.train()
        data = self._loader()
        last_path: Path | None = None
        window: dict[str, list[float]] = {}
        t_window = time.perf_counter()
        n_window = 0
        while self.iteration < cfg.train.iterations:
            lr, hr = next(data)
            lr = lr.to(self.device, non_blocking=True).contiguous(memory_format=self._memory_format)
            hr = hr.to(self.device, non_blocking=True).contiguous(memory_format=self._memory_format)
            stats = self.step(lr, hr, self.iteration)
            # A skipped step still counts as an iteration, so the data stream stays a function of it.
            self.iteration += 1
            self.step.advance_schedules()
            if stats is None:
                self.nonfinite += 1
                self.logger.line(
                    f"iteration {self.iteration}: non-finite loss, step skipped ({self.nonfinite} in a row)"
                )
                if self.nonfinite >= cfg.train.max_nonfinite:
                    latest = self.checkpoints.latest()
                    raise TrainingError(
                        f"{self.nonfinite} consecutive non-finite losses at iteration {self.iteration}; stopped. "
                        f"Last good checkpoint: {latest or 'none yet'}. Try a lower optim.lr or train.precision=fp32."
                    )
                continue
            self.nonfinite = 0
            if self.ema is not None:
                self.ema.update(self.generator)
            for k, v in stats.items():
                window.setdefault(k, []).append(v)
            n_window += 1
            self.logger.advance(1, " ".join(f"{k.split('/')[-1]}={v:.4g}" for k, v in stats.items()))

            done = self.iteration >= cfg.train.iterations
            if self.iteration % run.log_every == 0 or done:
                elapsed = time.perf_counter() - t_window
                means = {k: sum(v) / len(v) for k, v in window.items()}
                means.update(self.step.learning_rates())
                means["speed/it_per_s"] = n_window / elapsed
                self.logger.scalars(self.iteration, means)
                eta = (cfg.train.iterations - self.iteration) * elapsed / n_window
                body = " ".join(f"{k}={v:.4g}" for k, v in means.items() if not k.startswith("speed"))
                self.logger.line(f"it {self.iteration}/{cfg.train.iterations} {body} | "
                                 f"{n_window / elapsed:.2f} it/s, eta {eta / 60:.1f} min")  # fmt: skip
                window, n_window, t_window = {}, 0, time.perf_counter()

            is_best = False
            validate_now = self.val_samples and (self.iteration % run.val_every == 0 or done)
            if validate_now:
                metrics = self.validate() if self.dist.is_main else {}
                if self.dist.is_main:
                    is_best = self._is_better(metrics)
                    self.logger.scalars(self.iteration, metrics)
                    self.logger.line("validation " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
                                     + (" (best)" if is_best else ""))  # fmt: skip
                barrier()
            stopping = any_true(self._stop_signal is not None, self.device)
            if self.iteration % run.save_every == 0 or done or is_best or stopping:
                last_path = self.save(is_best)
            if stopping:
                self.logger.line(f"{self._stop_signal or 'stop signal on another process'}: saved {last_path} at "
                                 f"iteration {self.iteration}; run the same command again to resume")  # fmt: skip
                return TrainResult(self.iteration, "interrupted", last_path, None, self.best_metric)
        export = self.export()
        if export is not None:
            self.logger.line(f"finished: generator exported to {export}")
        barrier()  # every rank leaves together, so none tears the process group down under another
        return TrainResult(self.iteration, "finished", last_path, export, self.best_metric)
