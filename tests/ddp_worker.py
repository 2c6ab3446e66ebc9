"""Run under torchrun by tests/test_training.py: trains a tiny model with DDP (gloo), then every
rank saves its own generator weights so the test can compare them across ranks."""

import os
import sys
from pathlib import Path

import torch

from srgan.training.config import build_config
from srgan.training.trainer import Trainer

out, data, stage = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
iterations = sys.argv[4] if len(sys.argv) > 4 else "4"
overrides = [
    f"data.hr_dirs=[{data}]",
    f"run.run_dir={out / 'run'}",
    "model.scale=2",
    "model.num_blocks=1",
    "model.channels=8",
    "discriminator.channels=8",
    "data.patch_size=32",
    "data.workers=0",
    "train.batch_size=2",
    f"train.iterations={iterations}",
    "run.save_every=2",
    "run.tensorboard=false",
    "loss.perceptual=mse",
    "train.precision=fp32",
    "train.device=cpu",
]
trainer = Trainer(build_config("cpu", stage, None, overrides))
rank = trainer.dist.rank
# one write per line: both ranks share the pipe, and print's separate newline write lets lines interleave
sys.stdout.write(f"rank {rank} pid {os.getpid()}\n")
sys.stdout.flush()
generator = trainer.parts.generator
result = trainer.train()
torch.save(generator.state_dict(), out / f"rank{rank}.pt")
print(f"rank {rank} world {trainer.dist.world_size} status {result.status}")
