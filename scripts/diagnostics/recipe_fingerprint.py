"""The first iterations of each bundled recipe, as exact numbers: every logged loss of every iteration and a
hash of the generator's weights after the last one, one JSON line per config. Two runs of this script with
the same arguments (before and after a change of the training code) must print the same lines: that is
what "the recipes train to the same numbers" means.

The configs run as written (their losses, weights, networks, init_from, data folders) with small sizes:
HR patch 32, batch 2, no workers, no cache, no validation, ``--iterations`` steps, fp32 on one thread.

    OMP_NUM_THREADS=1 python scripts/diagnostics/recipe_fingerprint.py configs/*.yaml [--iterations 20] [--set KEY=VALUE] [-o out.jsonl]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import torch

from srgan.training.config import build_config
from srgan.training.trainer import Trainer

SMALL = [
    "data.patch_size=32",
    "train.batch_size=2",
    "data.workers=0",
    "data.cache=false",
    "data.val_dirs=[]",
    "train.precision=fp32",
    "train.device=cpu",
    "run.tensorboard=false",
]


def fingerprint(config: Path, iterations: int, extra: list[str]) -> dict[str, object]:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = build_config(None, None, config, [*SMALL, f"run.run_dir={tmp}", *extra])
        trainer = Trainer(cfg)
        parts = trainer.parts
        for player in parts.step.players.values():
            player.forward.train()
        data = parts.loader(0)
        stats = []
        for iteration in range(iterations):
            logged = parts.step(next(data), iteration)
            parts.step.advance_schedules()
            if logged is not None and parts.ema is not None:
                parts.ema.update(parts.generator)
            stats.append({k: v.hex() for k, v in (logged or {}).items()})
        digest = hashlib.sha256()
        for tensor in parts.generator.state_dict().values():
            digest.update(tensor.detach().contiguous().numpy().tobytes())
    return {"config": str(config), "iterations": stats, "generator_sha256": digest.hexdigest()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", type=Path)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("-o", "--output", type=Path, help="also write the lines to this file")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="one more override")
    args = parser.parse_args()
    lines = [json.dumps(fingerprint(c, args.iterations, args.set), sort_keys=True) for c in args.configs]
    for line in lines:
        print(line)
    if args.output:
        args.output.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
