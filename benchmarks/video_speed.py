"""Video upscaling speed and memory: `srgan upscale clip.mp4` as the pipeline runs it (srgan.video).

For a synthetic clip (a slow pan over a training photo, or a noise pattern when ../shared is absent) of
WxH at 30 fps, x4 with srgan-x4, one row per precision: frames per second, the share of the wall time
spent outside the network (decode, colour conversion, resampling, encode, segment files, mux), and the
peak RSS of the whole process; then the peak RSS for a clip --long-factor times longer, which must be
the same (frames are streamed, segments are written as they finish).

Each measurement runs in a fresh process (``--worker``), so peak RSS is that run's alone.

    python benchmarks/video_speed.py [--size 640x360] [--seconds 10] [--precisions fp32,bf16,int8] [--skip-memory]
    python benchmarks/video_speed.py --smoke     # 64x36, 4 frames: checks the script runs (the suite does)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, table

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "train" / "Kodak24crop" / "kodim03.png"


def make_clip(path: Path, width: int, height: int, frames: int, fps: int = 30, photo: Path = PHOTO) -> None:
    """A slow diagonal pan (one pixel per frame) over a photo scaled to fit, encoded with libx264 CRF 18."""
    import av
    from PIL import Image

    if photo.exists():
        with Image.open(photo) as im:
            scale = max((width + frames) / im.width, (height + frames) / im.height, 1.0)
            im = im.convert("RGB").resize((int(im.width * scale) + 1, int(im.height * scale) + 1), Image.BICUBIC)
            picture = np.asarray(im)
    else:
        rng = np.random.default_rng(0)
        picture = rng.integers(0, 256, (height + frames + 1, width + frames + 1, 3), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        stream.codec_context.options = {"crf": "18"}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture[i : i + height, i : i + width]), "rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


class TimedUpscaler:
    """The Upscaler's public interface, timing every network call."""

    def __init__(self, upscaler) -> None:  # type: ignore[no-untyped-def]
        self._upscaler = upscaler
        self.scale, self.precision = upscaler.scale, upscaler.precision
        self.seconds = 0.0

    def upscale_tensor(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        out = self._upscaler.upscale_tensor(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        return out


def worker(clip: Path, precision: str, model: str) -> dict[str, float]:
    from srgan.inference.upscaler import Upscaler
    from srgan.video.pipeline import upscale_video

    upscaler = TimedUpscaler(Upscaler.from_pretrained(model, device="cpu", precision=precision))
    target = clip.with_name(f"{clip.stem}_{precision}.mp4")
    start = time.perf_counter()
    result = upscale_video(upscaler, clip, target, model={"model": model})  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    target.unlink()
    return {
        "frames": result.frames,
        "seconds": seconds,
        "network": upscaler.seconds,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "precision": upscaler.precision,
    }


def measure(clip: Path, precision: str, model: str) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--worker", str(clip), "--precisions", precision, "--model", model]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--long-factor", type=float, default=6.0, help="the memory check's longer clip (x this)")
    parser.add_argument("--precisions", default="fp32,bf16,int8")
    parser.add_argument("--model", default="srgan-x4")
    parser.add_argument("--photo", type=Path, default=PHOTO, help="the photo the clip pans over")
    parser.add_argument("--skip-memory", action="store_true", help="no longer clip for the memory check")
    parser.add_argument("--smoke", action="store_true", help="a tiny clip: check the script runs")
    parser.add_argument("--worker", metavar="CLIP", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(Path(args.worker), args.precisions, args.model)))
        return
    width, height = (64, 36) if args.smoke else tuple(int(v) for v in args.size.split("x"))
    frames = 4 if args.smoke else round(args.seconds * 30)
    precisions = ["fp32"] if args.smoke else args.precisions.split(",")
    print(machine_line())
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        make_clip(clip, width, height, frames, photo=args.photo)
        rows = []
        for precision in precisions:
            r = measure(clip, precision, args.model)
            outside = 1 - r["network"] / r["seconds"]
            rows.append(
                [
                    precision,
                    f"{r['frames']:.0f}",
                    f"{r['frames'] / r['seconds']:.3f}",
                    f"{100 * outside:.1f}%",
                    f"{r['peak_mib']:.0f}",
                ]
            )
        print(f"\n{width}x{height} 30 fps, {frames} frames, x4 {args.model} -> libx264 CRF 18 (default settings)")
        print(table(["precision", "frames", "fps", "outside network", "peak RSS MiB"], rows))
        if not (args.smoke or args.skip_memory):
            long_clip = Path(tmp) / "long.mp4"
            long_frames = round(frames * args.long_factor)
            make_clip(long_clip, width, height, long_frames, photo=args.photo)
            r = measure(long_clip, precisions[0], args.model)
            print(
                f"\npeak RSS with {long_frames} frames ({precisions[0]}): {r['peak_mib']:.0f} MiB "
                f"(against {rows[0][4]} MiB with {frames})"
            )


if __name__ == "__main__":
    main()
