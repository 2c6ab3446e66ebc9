"""Community networks' upscaling speed: srgan's path against spandrel's stock module.

For SPAN (48 features, x4), RealPLKSR (the published 64 x 28 blocks, 17-pixel kernels, x4) and
DAT-light (x4), on a 256x256 -> 1024x1024 upscale: spandrel's own module called directly (fp32,
NCHW, eval mode, inference mode: what chaiNNer-style tools run), against srgan's ``Upscaler`` on a
file of the same weights in fp32 and in bf16 (on CPUs with native bf16), with its default tiling.
SPAN and RealPLKSR run srgan's native networks (SPAN's Conv3XC folded once at load, not on every
call); DAT runs spandrel's module inside srgan's tiling. Weights are random (spandrel's own
initialisation): speed does not depend on their values. Times are the best of ``--repeats`` runs
after a warm-up; the PSNR column compares each srgan output with the stock module's.

    python benchmarks/zoo_speed.py [--repeats 3] [--size 256] [--threads 2]
    python benchmarks/zoo_speed.py --smoke      # a few seconds: 16x16 inputs, reduced networks
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_seconds, machine_line, table
from srgan.archs.zoo.spandrel_import import spandrel_registry
from srgan.inference.upscaler import Upscaler
from srgan.runtime import cpu_supports_bf16


def networks(smoke: bool) -> dict[str, Callable[[], torch.nn.Module]]:
    spandrel_registry()  # imports spandrel without torchvision
    from spandrel.architectures.DAT import DAT
    from spandrel.architectures.PLKSR import RealPLKSR
    from spandrel.architectures.SPAN import SPAN

    blocks, depth = (1, [1]) if smoke else (28, [18])
    return {
        "SPAN 48nf x4": lambda: SPAN(num_in_ch=3, num_out_ch=3, feature_channels=48, upscale=4),
        f"RealPLKSR 64x{blocks} x4": lambda: RealPLKSR(upscaling_factor=4, n_blocks=blocks, layer_norm=True),
        "DAT-light x4": lambda: DAT(
            upscale=4,
            embed_dim=60,
            depth=depth,
            num_heads=[6],
            expansion_factor=2,
            split_size=[8, 32],
            resi_connection="3conv",
            upsampler="pixelshuffledirect",
        ),
    }


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).item()
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=256, help="LR side (default 256: 256x256 -> 1024x1024)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="tiny inputs and networks, one run: checks the script")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size, repeats = (16, 1) if args.smoke else (args.size, args.repeats)
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    precisions = ["fp32", *(["bf16"] if cpu_supports_bf16() else [])]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in networks(args.smoke).items():
            stock = make().eval()
            path = Path(tmp) / "model.pth"
            torch.save(stock.state_dict(), path)
            with torch.inference_mode():
                reference = stock(x)
                base = best_seconds(lambda m=stock: m(x), 1, repeats)
            rows.append([name, "spandrel module, fp32", f"{base:.3f}", "1.00x", "-"])
            for precision in precisions:
                up = Upscaler.from_pretrained(path, precision=precision)
                sec = best_seconds(lambda u=up: u.upscale_tensor(x[0]), 1, repeats)
                quality = psnr(reference[0], up.upscale_tensor(x[0]))
                path_name = f"srgan {up.precision} (tile {up.auto_tile()}, {type(up._model).__name__})"
                rows.append([name, path_name, f"{sec:.3f}", f"{base / sec:.2f}x", f"{quality:.1f}"])
    print(f"{size}x{size} -> {4 * size}x{4 * size}; best of {repeats} after 1 warm-up; {machine_line()}")
    print(table(["network", "path", "s/image", "vs spandrel", "PSNR vs spandrel (dB)"], rows))


if __name__ == "__main__":
    main()
