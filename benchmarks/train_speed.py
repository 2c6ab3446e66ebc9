"""Seconds per training iteration: a naive reference loop vs srgan's own training step.

The naive loop is written the way the classic SRGAN repositories write it: fp32, NCHW, batch
16, HR patch 96, x4, the paper's G and D, VGG19 features to relu5_4 (random weights here; speed
does not depend on the values), BCE on sigmoid outputs. srgan's step is the trainer's own
``step`` (a ``TrainSample`` batch) with its defaults (on this CPU: bf16 autocast + channels_last).
Both get the same in-memory batch, so data loading is not part of either number.

    python benchmarks/train_speed.py [--iters 6] [--warmup 2]
    python benchmarks/train_speed.py --smoke    # tiny sizes, one iteration: checks the script runs
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, seconds_per_call, table
from srgan.data.dataset import NO_GRID, TrainSample
from srgan.models import Discriminator, Generator
from srgan.models.generator import GeneratorConfig
from srgan.models.vgg import VGG19Features
from srgan.runtime import precision_name
from srgan.training.config import build_config
from srgan.training.trainer import Trainer

SCALE = 4


def naive_srresnet_step(g: Generator, opt: torch.optim.Optimizer, lr: torch.Tensor, hr: torch.Tensor) -> None:
    sr = g(lr)
    loss = F.mse_loss(sr, hr)
    opt.zero_grad()
    loss.backward()
    opt.step()


def naive_srgan_step(g, d, vgg, opt_g, opt_d, lr, hr) -> None:  # type: ignore[no-untyped-def]
    sr = g(lr)
    real_p, fake_p = torch.sigmoid(d(hr)), torch.sigmoid(d(sr.detach()))
    loss_d = F.binary_cross_entropy(real_p, torch.ones_like(real_p)) + F.binary_cross_entropy(
        fake_p, torch.zeros_like(fake_p)
    )
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    fake_p = torch.sigmoid(d(sr))
    content = F.mse_loss(vgg(sr), vgg(hr).detach())
    loss_g = content + 1e-3 * F.binary_cross_entropy(fake_p, torch.ones_like(fake_p))
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iters", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="batch 2, patch 32, 2 blocks, one iteration")
    args = parser.parse_args()
    batch, patch, blocks = (2, 32, 2) if args.smoke else (16, 96, 16)
    if args.smoke:
        args.iters, args.warmup = 1, 0
    torch.manual_seed(0)
    lr = torch.rand(batch, 3, patch // SCALE, patch // SCALE)
    hr = torch.rand(batch, 3, patch, patch)
    timing = {}

    g = Generator.from_config(GeneratorConfig(num_blocks=blocks)).train()
    opt = torch.optim.Adam(g.parameters(), 1e-4, betas=(0.9, 0.999))
    timing["naive", "srresnet"] = seconds_per_call(lambda: naive_srresnet_step(g, opt, lr, hr), args.warmup, args.iters)
    d, vgg = Discriminator().train(), VGG19Features("VGG54", weights=None)
    opt_d = torch.optim.Adam(d.parameters(), 1e-4, betas=(0.9, 0.999))
    timing["naive", "srgan"] = seconds_per_call(
        lambda: naive_srgan_step(g, d, vgg, opt, opt_d, lr, hr), args.warmup, args.iters
    )

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "hr"
        folder.mkdir()
        Image.fromarray(np.zeros((patch, patch, 3), np.uint8)).save(folder / "x.png")
        torch.save(vgg.state_dict(), Path(tmp) / "vgg.pth")
        for stage in ("srresnet", "srgan"):
            cfg = build_config(
                "paper",
                stage,
                None,
                [
                    f"data.hr_dirs=[{folder}]",
                    f"run.run_dir={tmp}/run",
                    f"loss.weights={tmp}/vgg.pth",
                    "data.workers=0",
                    f"data.patch_size={patch}",
                    f"model.num_blocks={blocks}",
                ],
            )
            trainer = Trainer(cfg)
            step = trainer.parts.step
            fmt = torch.channels_last if cfg.train.channels_last else torch.contiguous_format
            sample = TrainSample(
                lr.contiguous(memory_format=fmt), hr.contiguous(memory_format=fmt), torch.tensor([NO_GRID] * batch)
            )
            timing["srgan", stage] = seconds_per_call(
                lambda step=step, sample=sample: step(sample, 0), args.warmup, args.iters
            )
            precision = precision_name(trainer.autocast_dtype)
            timing["mode"] = f"{precision}{' channels_last' if cfg.train.channels_last else ''}"

    rows = []
    for stage in ("srresnet", "srgan"):
        naive, ours = timing["naive", stage], timing["srgan", stage]
        rows.append([stage, f"{naive:.3f}", f"{ours:.3f}", f"{naive / ours:.2f}x"])
    network = "paper G/D" if blocks == 16 else f"G with {blocks} blocks, paper D"
    print(f"batch {batch}, HR patch {patch}, x{SCALE}, {network}, VGG19 relu5_4; {machine_line()}")
    print(f"srgan step mode: {timing['mode']}; median of {args.iters} iterations after {args.warmup} warm-up")
    print(table(["stage", "naive fp32 NCHW (s/it)", "srgan train step (s/it)", "speed-up"], rows))


if __name__ == "__main__":
    main()
