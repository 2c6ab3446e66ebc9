"""Flicker (temporal stability) and PSNR-Y of the bundled models on two clips made from training photos.

The clips are HR; ``srgan eval --video`` scores them the same way (srgan.video.flicker: each frame's LR by the
protocol's bicubic; flicker = mean |d/dt SR_Y - d/dt bicubic_Y| in 8-bit levels, bicubic 0, the HR's own value
for scale):
- pan: a slow pan (one HR pixel per frame) over Kodak's kodim03, encoded near-losslessly (x264 CRF 10);
- zoom: a slow zoom (10% over the clip) into kodim08 with fresh Gaussian noise (sigma 4 levels) in every frame,
  encoded at x264 CRF 30: the noise and compression damage of real footage.
Both photos are from ../shared/data/train (never a benchmark set); without ../shared, noise patterns stand in.

    python benchmarks/video_flicker.py [--frames 24] [--size 256x192] [--photos ../shared/data/train/Kodak24crop]
    python benchmarks/video_flicker.py --model animevideov3=/tmp/animevideov3-x4.safetensors  # + any x4 model file
    python benchmarks/video_flicker.py --smoke        # 2 models, 4 small frames: checks the script runs

``--model NAME=FILE`` (repeatable) adds a model file to the bundled models, as row NAME: for example a Compact
model converted with ``scripts/release/ncnn_to_pth.py realesr-animevideov3-x4 FILE``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, table

TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "train" / "Kodak24crop"
CONFIGS = [
    ("srresnet-x4", 1.0),
    ("srgan-x4", 0.5),
    ("srgan-x4", 0.75),
    ("srgan-x4", 1.0),
    ("srgan-x4-real", 1.0),
]


def _photo(folder: Path, name: str, width: int, height: int) -> np.ndarray:
    from PIL import Image

    path = folder / name
    if not path.exists():
        return np.random.default_rng(len(name)).integers(0, 256, (height * 2, width * 2, 3), dtype=np.uint8)
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def make_clip(path: Path, kind: str, width: int, height: int, frames: int, photos: Path = TRAIN) -> None:
    import av
    from PIL import Image

    rng = np.random.default_rng(0)
    picture = _photo(photos, "kodim03.png" if kind == "pan" else "kodim08.png", width, height)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 24)
        stream.codec_context.options = {"crf": "10" if kind == "pan" else "30"}
        for i in range(frames):
            if kind == "pan":
                arr = picture[i : i + height, i : i + width]
            else:
                zoom = 1 + 0.1 * i / max(1, frames - 1)
                w, h = round(width / zoom * 1.5), round(height / zoom * 1.5)
                cy, cx = picture.shape[0] // 2, picture.shape[1] // 2
                crop = Image.fromarray(picture[cy - h // 2 : cy - h // 2 + h, cx - w // 2 : cx - w // 2 + w])
                arr = np.asarray(crop.resize((width, height), Image.BICUBIC)).astype(np.float32)
                arr = np.clip(arr + rng.normal(0, 4, arr.shape), 0, 255).round().astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), "rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def extra_model(text: str) -> tuple[str, str, float]:
    """``NAME=FILE``: an x4 model file, shown as NAME (label, model, strength)."""
    name, sep, file = text.partition("=")
    if not sep or not name or not Path(file).is_file():
        raise argparse.ArgumentTypeError(f"takes NAME=FILE with an existing model file, got {text!r}")
    return name, file, 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", default="256x192", help="HR clip size (LR is a quarter)")
    parser.add_argument("--photos", type=Path, default=TRAIN, help="folder with kodim03.png and kodim08.png")
    parser.add_argument(
        "--model", type=extra_model, action="append", default=[], metavar="NAME=FILE", help="add an x4 model file"
    )
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()

    from srgan.evaluation.protocol import bicubic
    from srgan.inference.upscaler import Upscaler
    from srgan.video.flicker import score_clip

    width, height = (64, 48) if args.smoke else tuple(int(v) for v in args.size.split("x"))
    frames = 4 if args.smoke else args.frames
    bundled = [(m if s == 1.0 else f"{m} @ {s:g}", m, s) for m, s in (CONFIGS[:1] if args.smoke else CONFIGS)]
    configs = bundled + args.model
    print(machine_line())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("pan", "zoom"):
            clip = Path(tmp) / f"{kind}.mkv"
            make_clip(clip, kind, width, height, frames, args.photos)
            score = score_clip(clip, bicubic(4), 4)
            rows.append([kind, "bicubic", f"{score.psnr_y:.2f}", f"{score.flicker:.3f}", f"{score.hr_flicker:.3f}"])
            for label, model, strength in configs:
                up = Upscaler.from_pretrained(model, device="cpu", precision="fp32", strength=strength)
                score = score_clip(clip, lambda lr, up=up: up.upscale_tensor(lr[0])[None], 4)
                rows.append([kind, label, f"{score.psnr_y:.2f}", f"{score.flicker:.3f}", f"{score.hr_flicker:.3f}"])
    source = "noise (no photos found)" if not (args.photos / "kodim03.png").exists() else str(args.photos)
    print(f"\nx4, {frames} frames of {width}x{height} HR per clip (fp32), from {source}")
    print(table(["clip", "model", "PSNR-Y", "flicker", "HR flicker"], rows))


if __name__ == "__main__":
    main()
