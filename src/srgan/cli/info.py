"""``srgan info``: the networks' structure and parameter counts."""

from __future__ import annotations

import argparse

from srgan.runtime import SRGAN_SCALES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from srgan.cli.options import Number

    parser.add_argument("--scale", type=Number(int), default=4, choices=SRGAN_SCALES)
    parser.add_argument(
        "--blocks", type=Number(int, 1, 256), default=16, help="residual blocks in the generator (1 to 256)"
    )
    parser.add_argument("--verbose", action="store_true", help="print every layer")


def run(args: argparse.Namespace) -> int:
    import torch

    from srgan.models import Discriminator, Generator

    g = Generator(scale=args.scale, num_blocks=args.blocks).eval()
    d = Discriminator().eval()
    lr = torch.rand(1, 3, 24, 24)
    with torch.inference_mode():
        sr = g(lr)
        logit = d(sr)
    rows = [
        (
            "Generator (SRResNet)",
            sum(p.numel() for p in g.parameters()),
            f"{tuple(lr.shape)} -> {tuple(sr.shape)}",
        ),
        (
            "Discriminator",
            sum(p.numel() for p in d.parameters()),
            f"{tuple(sr.shape)} -> {tuple(logit.shape)} logits",
        ),
    ]
    print(f"{'network':<22} {'parameters':>12}  shapes")
    for name, count, shapes in rows:
        print(f"{name:<22} {count:>12,}  {shapes}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.verbose:
        print(g)
        print(d)
    return 0
