"""Videos and animated images in ``srgan upscale`` (PyAV): every other stream, timestamp, colour tag and the
bit depth kept; resume after kill -9 bit for bit; repeated frames reused; torchrun shares segments."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from srgan.modelfiles.safetensors import save_generator

from .conftest import TORCHRUN_2, blur_generator, torchrun_env, trained_like

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
    jitter: int = 0,
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
            pixels = arr
            if jitter:  # a near-repeat: every sample moved by up to `jitter` levels
                moved = arr.astype(np.int32) + rng.integers(-jitter, jitter + 1, arr.shape)
                pixels = np.clip(moved, 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, "rgb48le" if deep else "rgb24")
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
    make_clip(clip, frames=12, extras=False)
    srgan(str(clip), "--segment-frames", "3", *common(model_file), check=True)  # four GOPs joined
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


def make_animation(path: Path, fmt: str) -> list[int]:
    """Three 16x12 frames, each with a transparent corner, of different durations; loop 2. Returns the durations."""
    durations = [60, 100, 140]
    frames = []
    for i in range(3):
        arr = np.zeros((12, 16, 4), np.uint8)
        arr[..., i] = 200
        arr[..., 3] = 255
        arr[:4, :4, 3] = 0
        arr[6:, 4 * i : 4 * i + 4, :3] = 90
        frames.append(Image.fromarray(arr, "RGBA"))
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], duration=durations, loop=2, disposal=2)
    return durations


@pytest.mark.parametrize(("name", "fmt"), [("anim.gif", "GIF"), ("anim.webp", "WEBP"), ("anim.png", "PNG")])
def test_animations_keep_frames_durations_loop_and_transparency(
    model_file: Path, tmp_path: Path, name: str, fmt: str
) -> None:
    src = tmp_path / name
    durations = make_animation(src, fmt)
    blur = tmp_path / "blur.safetensors"  # linear: transparent stays exactly transparent, opaque opaque
    save_generator(blur, blur_generator().state_dict(), blur_generator().config)
    done = srgan(str(src), *common(blur), check=True)
    assert "1 of 1 animation(s): 3 frame(s), of which 3 ran the network" in done.stdout, done.stdout
    out = tmp_path / f"anim_x2{src.suffix}"
    with Image.open(out) as im:
        assert im.format == fmt and im.size == (32, 24) and im.n_frames == 3
        assert im.info.get("loop") == 2
        got = []
        for i in range(3):
            im.seek(i)
            rgba = np.asarray(im.convert("RGBA"))
            got.append(im.info["duration"])
            assert rgba[:6, :6, 3].max() == 0 and rgba[12:20, 12:28, 3].min() == 255, "the transparent corner stays"
        assert got == durations


def test_an_animation_over_the_pixel_limit_or_the_free_memory_is_refused_before_any_frame(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import srgan.inference.budget as budget_module
    from srgan.cli import main

    src = tmp_path / "anim.gif"
    make_animation(src, "GIF")
    done = srgan(str(src), "--max-pixels", "100", *common(model_file))
    assert done.returncode == 1 and "16x12 = 192 pixels exceeds the limit of 100" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "anim_x2.gif").exists()

    def gif(path: Path, frames: int) -> Path:
        images = [Image.new("RGB", (200, 150), (i % 256, 40, 90)) for i in range(frames)]
        images[0].save(path, save_all=True, append_images=images[1:], duration=40)
        return path

    monkeypatch.setattr(budget_module, "available_memory", lambda: 1 << 30)  # a small machine: 1 GiB free
    long = gif(tmp_path / "long.gif", 1200)  # 1200 output frames of 400x300 kept until written: about 1.1 GiB
    capsys.readouterr()
    assert main(["upscale", str(long), *common(model_file)]) == 1
    err = capsys.readouterr().err
    assert f"{long}: upscaling its 1200 frames of 200x150 to 400x300 needs about" in err, err
    assert "but only 1.0 GiB is available" in err and "Traceback" not in err
    assert not (tmp_path / "long_x2.gif").exists()
    # 3 frames fit; their outputs are equal, which Pillow writes as one frame (was: a TypeError from its writer)
    assert main(["upscale", str(gif(tmp_path / "short.gif", 3)), *common(model_file)]) == 0
    assert (tmp_path / "short_x2.gif").exists()


def test_bad_videos_and_outputs_get_one_sentence_and_leave_nothing(model_file: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.mp4"
    make_clip(good, extras=False)
    (tmp_path / "cut.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "noise.mkv").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with av.open(str(tmp_path / "sound.mka"), "w") as out:
        a = out.add_stream("aac", rate=48000)
        af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        af.sample_rate, af.pts = 48000, 0
        out.mux(a.encode(af))
        out.mux(a.encode())
    out_dir = tmp_path / "out"
    cases = {
        "cut.mp4": "cut.mp4: not a readable video",
        "noise.mkv": "noise.mkv: not a readable video",
        "sound.mka": "sound.mka: has no video stream",
    }
    for name, message in cases.items():
        done = srgan(str(tmp_path / name), "-o", str(out_dir), *common(model_file))
        assert done.returncode == 1, done.stdout + done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not out_dir.exists() or not any(out_dir.iterdir())
    (tmp_path / "a-file").write_text("not a folder")
    done = srgan(str(good), "-o", str(tmp_path / "a-file" / "out"), *common(model_file))
    assert done.returncode == 1 and "cannot create the work folder" in done.stderr, done.stderr


def test_hdr_is_refused_unless_allowed(model_file: Path, tmp_path: Path) -> None:
    clip = tmp_path / "pq.mkv"
    make_clip(clip, extras=False, trc=16)
    done = srgan(str(clip), *common(model_file))
    assert done.returncode == 1 and "is HDR (PQ (SMPTE ST 2084))" in done.stderr and "--allow-hdr" in done.stderr
    assert not list(tmp_path.glob("pq_x2*")) and not list(tmp_path.glob(".pq*"))
    srgan(str(clip), "--allow-hdr", *common(model_file), check=True)
    assert describe(tmp_path / "pq_x2.mkv")["colour"][1] == 16


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # x264 clips a CRF over 51 to 51 without a word (was: accepted); x265 refuses it when it opens (was: exit 1
        # per file, after the video was probed); the default encoders are x264/x265
        (["--codec", "libx264", "--crf", "52"], "--crf for libx264 takes a whole number from 0 to 51, got 52"),
        (["--codec", "libx265", "--crf", "63"], "--crf for libx265 takes a whole number from 0 to 51, got 63"),
        (["--crf", "60"], "--crf for the default encoders (libx264 and libx265) takes a whole number from 0 to 51"),
        # FFmpeg's libsvtav1 reads CRF 0 as "not set" and would use SVT-AV1's default, 35
        (["--codec", "libsvtav1", "--crf", "0"], "--crf for libsvtav1 takes a whole number from 1 to 63, got 0"),
        (["--codec", "ffv1", "--crf", "10"], "--crf does not apply to ffv1: srgan sets a constant rate factor for"),
        (["--codec", "mpeg4", "--crf", "10"], "--crf does not apply to mpeg4"),
        (["--codec", "libx265", "--preset", "turbo"], "--preset for libx265 takes one of ultrafast, superfast"),
        (["--codec", "libsvtav1", "--preset", "14"], "--preset for libsvtav1 takes a whole number from -1 to 13"),
        (["--codec", "libvpx-vp9", "--preset", "medium"], "--preset for libvpx-vp9 takes one of best, good, realtime"),
        (["--codec", "ffv1", "--preset", "slow"], "--preset does not apply to ffv1"),
    ],
)
def test_crf_and_preset_outside_the_encoders_range_are_refused_before_any_work(
    model_file: Path, tmp_path: Path, options: list[str], message: str
) -> None:
    clip = tmp_path / "clip.mkv"
    make_clip(clip, extras=False)
    done = srgan(str(clip), *options, *common(model_file))
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, "one sentence"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv"], "no output, no work folder"


@pytest.mark.parametrize(
    ("options", "stream_options"),
    [
        (["--codec", "libx264", "--crf", "51"], {"crf": "51", "preset": "medium"}),
        (["--codec", "libsvtav1", "--crf", "63", "--preset", "12"], {"crf": "63", "preset": "12"}),
        (["--codec", "libvpx-vp9", "--crf", "40", "--preset", "realtime"], {"crf": "40", "deadline": "realtime"}),
    ],
)
def test_crf_and_preset_within_the_encoders_range_reach_the_encoder(
    model_file: Path, tmp_path: Path, options: list[str], stream_options: dict[str, str]
) -> None:
    from srgan.video.encode import EncoderOptions, choose_encoder
    from srgan.video.probe import probe_video

    clip = tmp_path / "clip.mkv"
    make_clip(clip, frames=2, extras=False)
    srgan(str(clip), *options, *common(model_file), check=True)
    assert describe(tmp_path / "clip_x2.mkv")["frames"] == 2
    codec, crf = options[1], int(options[3])
    preset = options[5] if len(options) > 4 else None
    encoder = choose_encoder(probe_video(clip), EncoderOptions(codec, crf, preset), clip)
    assert dict(encoder.options).items() >= stream_options.items()


def test_an_encoder_that_refuses_to_open_is_one_sentence_before_any_work(model_file: Path, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mkv"
    make_clip(clip, extras=False)
    # H.261 takes only 176x144 and 352x288 pictures: FFmpeg says so when the encoder opens, which srgan does
    # before making the work folder or running the network
    done = srgan(str(clip), "--codec", "h261", *common(model_file))
    assert done.returncode == 1 and "clip.mkv: the encoder h261 refuses these settings" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "0 frame(s), of which 0 ran the network" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv"], "no output, no work folder"


def test_without_pyav_a_video_gets_the_install_command(model_file: Path, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mkv"
    make_clip(clip, extras=False)
    code = "import sys; sys.modules['av'] = None; from srgan.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, "upscale", str(clip), *common(model_file)], capture_output=True, text=True
    )
    assert done.returncode == 1 and 'pip install "srgan[video]"' in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def decoded(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [f.to_ndarray().tobytes() for f in c.decode(video=0)]


def test_repeated_frames_reuse_the_previous_output(model_file: Path, tmp_path: Path) -> None:
    clip = tmp_path / "still.mkv"
    make_clip(clip, frames=8, repeat=4, codec="ffv1", pix_fmt="yuv444p", extras=False)
    done = srgan(str(clip), "--codec", "ffv1", *common(model_file), check=True)
    assert "8 frame(s), of which 2 ran the network (6 repeated a previous frame)" in done.stdout, done.stdout
    frames = decoded(tmp_path / "still_x2.mkv")
    assert len(frames) == 8 and frames[0] == frames[3] and frames[4] == frames[7] and frames[3] != frames[4]


def test_near_repeats_within_the_dedup_threshold_reuse_the_output(model_file: Path, tmp_path: Path) -> None:
    clip = tmp_path / "grain.mkv"
    make_clip(clip, frames=8, repeat=4, codec="ffv1", pix_fmt="yuv444p", extras=False, jitter=1)
    exact = srgan(str(clip), "--codec", "ffv1", "-o", str(tmp_path / "a.mkv"), *common(model_file), check=True)
    assert "of which 8 ran the network" in exact.stdout, exact.stdout
    near = srgan(
        str(clip), "--codec", "ffv1", "-o", str(tmp_path / "b.mkv"), "--dedup-threshold", "8", *common(model_file)
    )
    assert near.returncode == 0 and "8 frame(s), of which 2 ran the network" in near.stdout, near.stdout
    frames = decoded(tmp_path / "b.mkv")
    assert frames[1] == frames[0] and frames[4] != frames[3]


def test_kill_9_then_rerun_gives_the_same_file_as_one_run(model_file: Path, tmp_path: Path) -> None:
    clip = tmp_path / "long.mkv"
    make_clip(clip, frames=60, size=(96, 64), codec="ffv1", pix_fmt="yuv444p", extras=False)
    args = ["--codec", "ffv1", "--segment-frames", "4", *common(model_file)]
    whole = tmp_path / "whole.mkv"
    srgan(str(clip), "-o", str(whole), *args, check=True)

    out = tmp_path / "resumed.mkv"
    work = tmp_path / ".resumed.mkv.srgan-work"
    cmd = [sys.executable, "-m", "srgan", "upscale", str(clip), "-o", str(out), *args]
    proc = subprocess.Popen(
        cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.time() + 120
    while len(list(work.glob("segment-*.pkt"))) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not out.exists()
    finished = len(list(work.glob("segment-*.pkt")))
    assert 3 <= finished < 15

    changed = srgan(str(clip), "-o", str(out), *args[:3], "5", *args[4:])
    assert changed.returncode == 1 and "holds an unfinished run with other options" in changed.stderr, changed.stderr

    done = srgan(str(clip), "-o", str(out), *args, check=True)
    assert f"{60 - 4 * finished} frame(s)" in done.stdout, done.stdout
    assert decoded(out) == decoded(whole)
    assert describe(out) == describe(whole)
    assert not work.exists()


def test_sigterm_releases_its_claim_and_leaves_no_temp_file(model_file: Path, tmp_path: Path) -> None:
    clip = tmp_path / "long.mkv"
    make_clip(clip, frames=60, size=(96, 64), codec="ffv1", pix_fmt="yuv444p", extras=False)
    out = tmp_path / "out.mkv"
    work = tmp_path / ".out.mkv.srgan-work"
    args = [str(clip), "-o", str(out), "--codec", "ffv1", "--segment-frames", "4", *common(model_file)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "srgan", "upscale", *args], env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    while not list(work.glob("segment-*.pkt")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.002)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err, err
    assert not out.exists() and not list(tmp_path.glob(".out.mkv.*.tmp"))
    assert not list(work.glob("*.claim")) and not list(work.glob(".*.tmp")), sorted(p.name for p in work.iterdir())
    srgan(*args, check=True)
    assert len(decoded(out)) == 60 and not work.exists()


def test_two_torchrun_processes_share_a_folder_of_videos_animations_and_images(
    model_file: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "a.mkv", frames=16, codec="ffv1", pix_fmt="yuv444p")
    make_clip(folder / "b.mkv", frames=6, codec="ffv1", pix_fmt="yuv444p", extras=False)
    make_animation(folder / "c.gif", "GIF")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "d.png")
    args = ["--codec", "ffv1", "--segment-frames", "2", *common(model_file)]
    srgan(str(folder / "a.mkv"), "-o", str(tmp_path / "one.mkv"), *args, check=True)
    out = tmp_path / "out"
    cmd = [sys.executable, *TORCHRUN_2, "-m", "srgan", "upscale", str(folder), "-o", str(out), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=torchrun_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("upscaled 2 of 2 video(s) and 1 of 1 animation(s): 25 frame(s)") == 1, done.stdout
    assert "upscaled 1 of 1 image(s)" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ["a_x2.mkv", "b_x2.mkv", "c_x2.gif", "d_x2.png"]
    assert decoded(out / "a_x2.mkv") == decoded(tmp_path / "one.mkv")
    assert describe(out / "a_x2.mkv") == describe(tmp_path / "one.mkv")


def test_eval_scores_flicker_of_a_video(model_file: Path, tmp_path: Path) -> None:
    clip = tmp_path / "pan.mkv"
    make_clip(clip, frames=6, size=(48, 32), codec="ffv1", pix_fmt="yuv444p", repeat=3, extras=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "srgan", "eval", "--video", str(clip), "--model", str(model_file), "--scale", "2"]
    done = subprocess.run([*cmd, "--json", str(tmp_path / "r.json")], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    import json

    rows = {r["model"]: r for r in json.loads((tmp_path / "r.json").read_text())["clips"]}
    assert rows["bicubic"]["flicker"] == 0.0 and rows["bicubic"]["frames"] == 6
    model = rows[str(model_file)]
    # frames 0-2 and 3-5 are equal: only the one change counts, and a deterministic model repeats itself
    assert model["flicker"] > 0 and model["hr_flicker"] > 0
    assert "flicker = mean |d/dt SR_Y - d/dt bicubic_Y|" in done.stdout


def test_the_video_benchmark_runs() -> None:
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "video_speed.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script), "--smoke"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "| fp32      | 4      |" in done.stdout and "outside network" in done.stdout


def test_the_flicker_benchmark_runs_and_takes_a_model_file(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "video_flicker.py"
    extra = tmp_path / "tiny-x4.safetensors"
    g = trained_like(scale=4)
    save_generator(extra, g.state_dict(), g.config)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, str(script), "--smoke", "--model", f"mine={extra}"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "| pan  | bicubic     |" in done.stdout and "| zoom | srresnet-x4 |" in done.stdout
    assert "| pan  | mine        |" in done.stdout and "| zoom | mine        |" in done.stdout


def test_a_full_disk_keeps_the_finished_segments_for_a_rerun(model_file: Path, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mkv"
    make_clip(clip, frames=24, size=(96, 64), codec="ffv1", pix_fmt="yuv444p", extras=False)
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        args = [str(clip), "-o", str(disk), "--codec", "ffv1", "--segment-frames", "4", *common(model_file)]
        done = srgan(*args)
        assert done.returncode == 1 and "No space left on device" in done.stderr, done.stderr
        assert "re-run the same command to continue" in done.stderr and "Traceback" not in done.stderr
        assert not (disk / "clip_x2.mkv").exists()
        subprocess.run(["mount", "-o", "remount,size=50m", str(disk)], check=True)
        srgan(*args, check=True)
        assert describe(disk / "clip_x2.mkv")["frames"] == 24
        assert [p.name for p in disk.iterdir()] == ["clip_x2.mkv"]
    finally:
        subprocess.run(["umount", str(disk)], check=False)
