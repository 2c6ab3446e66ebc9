"""Videos and animated images in ``srgan upscale`` (PyAV): every other stream, timestamp, colour tag and the
bit depth kept; resume after kill -9 bit for bit; repeated frames reused; torchrun shares segments."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

av = pytest.importorskip("av", reason='the video extra is not installed (pip install "srgan[video]")')

# VFR: 40 ms and 80 ms frames alternate (a 1 ms time base, as Matroska's)
VFR_STEPS = (40, 80)


def make_clip(
    path: Path,
    frames: int = 6,
    size: tuple[int, int] = (32, 24),
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    repeat: int = 1,
    trc: int = 1,
    extras: bool = True,
) -> None:
    """A clip with VFR timestamps, a rotation tag, SAR 4:3, BT.709 tags; with ``extras``: two AAC tracks
    (eng, fra; titles; the first default), a subtitle track, a font attachment, chapters and a title.
    Every ``repeat`` consecutive frames are equal."""
    w, h = size
    with av.open(str(path), "w") as out:
        out.metadata["title"] = "test clip"
        video = out.add_stream(codec, rate=Fraction(24000, 1001))
        video.width, video.height, video.pix_fmt = w, h, pix_fmt
        ctx = video.codec_context
        ctx.time_base = Fraction(1, 1000)
        ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range = 1, trc, 1, 1
        ctx.sample_aspect_ratio = Fraction(4, 3)
        if codec == "libx265":
            ctx.options = {"x265-params": "log-level=error"}
        video.set_display_rotation(90)
        audio = []
        if extras:
            for i, lang in enumerate(("eng", "fra")):
                a = out.add_stream("aac", rate=48000)
                a.layout = "mono"
                a.metadata.update(language=lang, title=f"commentary {lang}")
                a.disposition = av.stream.Disposition.default if i == 0 else av.stream.Disposition(0)
                audio.append(a)
            sub = out.add_mux_stream("subrip")
            sub.metadata["language"] = "deu"
            out.add_attachment("font.ttf", "font/ttf", b"not really a font")
            out.set_chapters(
                [
                    {"id": 1, "start": 0, "end": 100, "time_base": Fraction(1, 1000), "metadata": {"title": "one"}},
                    {"id": 2, "start": 100, "end": 300, "time_base": Fraction(1, 1000), "metadata": {"title": "two"}},
                ]
            )
        rng = np.random.default_rng(0)
        pts, arr = 0, None
        deep = "10" in pix_fmt
        for i in range(frames):
            if i % repeat == 0:
                arr = rng.integers(0, 1024 if deep else 256, (h, w, 3)).astype(np.uint16 if deep else np.uint8)
                if deep:
                    arr = arr * 64
            frame = av.VideoFrame.from_ndarray(arr, "rgb48le" if deep else "rgb24")
            frame.pts = pts
            pts += VFR_STEPS[i % 2]
            out.mux(video.encode(frame))
        out.mux(video.encode())
        for a in audio:
            for k in range(4):
                samples = np.sin(np.arange(1024, dtype=np.float32) * (k + 1) / 10)[None]
                af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                af.sample_rate, af.pts = 48000, k * 1024
                out.mux(a.encode(af))
            out.mux(a.encode())
        if extras:
            packet = av.Packet(b"Hallo")
            packet.stream, packet.pts, packet.dts, packet.duration = sub, 50, 50, 100
            packet.time_base = Fraction(1, 1000)
            out.mux(packet)


def describe(path: Path) -> dict[str, Any]:
    """What must be equal between input and output (apart from the video's pixels and size)."""
    with av.open(str(path)) as c:
        streams, hashes = [], {}
        for s in c.streams:
            meta = {k: v for k, v in s.metadata.items() if k.upper() not in ("DURATION", "ENCODER")}
            streams.append(
                (
                    s.type,
                    s.codec_context.name if s.codec_context and s.type != "video" else s.type,
                    meta,
                    int(s.disposition),
                )
            )
            hashes[s.index] = hashlib.sha256()
        for packet in c.demux():
            if packet.size and packet.stream.type != "video":
                hashes[packet.stream.index].update(
                    f"{packet.pts} {packet.dts} {packet.duration}".encode() + bytes(packet)
                )
        c.seek(0)
        v = c.streams.video[0]
        frames = list(c.decode(v))
        f0 = frames[0]
        return {
            "streams": streams,
            "copied": {i: h.hexdigest() for i, h in hashes.items() if c.streams[i].type != "video"},
            "chapters": c.chapters(),
            "title": c.metadata.get("title"),
            "frames": len(frames),
            "times": [Fraction(f.pts) * v.time_base for f in frames],
            "duration": c.duration,
            "colour": (f0.color_primaries, f0.color_trc, f0.colorspace, f0.color_range),
            "bits": max(comp.bits for comp in f0.format.components),
            "rotation": f0.rotation,
            "sar": v.sample_aspect_ratio,
        }


def srgan(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "srgan", "upscale", *args], capture_output=True, text=True, env=env, timeout=300
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def common(model_file: Path) -> list[str]:
    return ["--model", str(model_file), "--device", "cpu", "--precision", "fp32", "-q"]


def test_a_video_keeps_every_stream_timestamp_and_tag(model_file: Path, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mkv"
    make_clip(clip)
    done = srgan(str(clip), *common(model_file), check=True)
    out = tmp_path / "clip_x2.mkv"
    assert "upscaled 1 of 1 video(s): 6 frame(s), of which 6 ran the network" in done.stdout, done.stdout
    before, after = describe(clip), describe(out)
    assert [s[0] for s in after["streams"]] == ["video", "audio", "audio", "subtitle", "attachment"]
    assert after == before
    with av.open(str(out)) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (64, 48)
    assert not list(tmp_path.glob(".*")), "the work folder and temp files are gone"


def test_mp4_keeps_timestamps_and_refuses_subtitles_it_cannot_hold(model_file: Path, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    make_clip(clip, extras=False)
    srgan(str(clip), *common(model_file), check=True)
    assert describe(tmp_path / "clip_x2.mp4") == describe(clip)
    mkv = tmp_path / "subs.mkv"
    make_clip(mkv)
    done = srgan(str(mkv), "-o", str(tmp_path / "subs.mp4"), *common(model_file))
    assert done.returncode == 1
    assert "write an .mkv instead" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "subs.mp4").exists() and not list(tmp_path.glob(".subs*"))


def test_10_bit_stays_10_bit_in_hevc(model_file: Path, tmp_path: Path) -> None:
    clip = tmp_path / "deep.mkv"
    make_clip(clip, size=(64, 48), codec="libx265", pix_fmt="yuv420p10le", extras=False)
    srgan(str(clip), *common(model_file), check=True)
    out = tmp_path / "deep_x2.mkv"
    before, after = describe(clip), describe(out)
    assert after["bits"] == before["bits"] == 10
    assert after == before
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "hevc"
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p10le"
