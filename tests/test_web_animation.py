"""Animated GIF/WebP/APNG on the web page, through a live uvicorn server on 127.0.0.1: the CLI's animation
path (frame count, durations, loop and transparency kept), the per-job memory budget counting every frame,
and a video refused with a sentence naming ``srgan upscale``."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="srgan serve needs the web extra")
import uvicorn

from srgan.modelfiles.safetensors import save_generator
from srgan.web.app import ServeConfig, create_app

from .conftest import blur_generator, wait_for_server

MAX_PIXELS = 50_000
DURATIONS = [60, 100, 140]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    # linear: a transparent pixel stays exactly transparent, an opaque one opaque
    model = tmp_path_factory.mktemp("m") / "blur-x2.safetensors"
    save_generator(model, blur_generator().state_dict(), blur_generator().config)
    app = create_app(ServeConfig([str(model)], max_pixels=MAX_PIXELS, max_upload_mb=2, max_queue=4, precision="fp32"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_for_server(url)
    yield url, app.state.jobs.uploads_dir
    srv.should_exit = True
    thread.join(10)


def animation(fmt: str, frames: int = 3, size: tuple[int, int] = (16, 12)) -> bytes:
    """Frames of different colours and durations, each with a transparent top-left corner; loop 2."""
    w, h = size
    images = []
    for i in range(frames):
        arr = np.zeros((h, w, 4), np.uint8)
        arr[..., i % 3] = 200
        arr[..., 3] = 255
        arr[:4, :4, 3] = 0
        arr[h // 2 :, (4 * i) % w : (4 * i) % w + 4, :3] = 90 + i
        images.append(Image.fromarray(arr, "RGBA"))
    durations = (DURATIONS * frames)[:frames]
    buf = io.BytesIO()
    images[0].save(buf, format=fmt, save_all=True, append_images=images[1:], duration=durations, loop=2, disposal=2)
    return buf.getvalue()


def upload(url: str, name: str, body: bytes, form: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{url}/api/upscale", files={"file": (name, body, "application/octet-stream")}, data=form, timeout=30
    )


def finished(url: str, job_id: str) -> dict[str, object]:
    import time

    deadline = time.time() + 120
    while time.time() < deadline:
        job: dict[str, object] = httpx.get(f"{url}/api/jobs/{job_id}", timeout=5).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError("job did not finish")


@pytest.mark.parametrize(
    ("fmt", "suffix", "media_type"),
    [("GIF", "gif", "image/gif"), ("WEBP", "webp", "image/webp"), ("PNG", "png", "image/png")],
)
def test_an_animation_comes_back_animated_with_its_timing_and_transparency(
    server: tuple[str, Path], fmt: str, suffix: str, media_type: str
) -> None:
    url, _ = server
    body = animation(fmt)
    r = upload(url, f"anim.{suffix}", body)
    assert r.status_code == 202, r.text
    job = finished(url, r.json()["id"])
    assert job["status"] == "done", job
    assert (job["width"], job["height"], job["frames"], job["format"]) == (32, 24, 3, suffix)
    assert job["progress"] == {"done": 3, "total": 3}, "progress counts frames"
    result = httpx.get(f"{url}{job['result']}", timeout=5)
    assert result.headers["content-type"] == media_type
    assert f'filename="upscaled_{str(job["id"])[:8]}.{suffix}"' in result.headers["content-disposition"]
    with Image.open(io.BytesIO(result.content)) as im:
        assert im.format == fmt and im.size == (32, 24) and im.n_frames == 3 and im.info.get("loop") == 2
        durations = []
        for i in range(3):
            im.seek(i)
            rgba = np.asarray(im.convert("RGBA"))
            durations.append(im.info["duration"])
            assert rgba[:6, :6, 3].max() == 0, "the transparent corner stays transparent"
            assert rgba[12:20, 12:28, 3].min() == 255, "the opaque part stays opaque"
        assert durations == DURATIONS
    before = httpx.get(f"{url}{job['input_preview']}", timeout=5)
    assert before.headers["content-type"] == media_type and before.content == body, "the before view is the upload"
    assert before.headers["x-content-type-options"] == "nosniff"


def test_an_animation_whose_frames_together_exceed_the_budget_is_refused_before_queueing(
    server: tuple[str, Path],
) -> None:
    url, uploads = server
    # 100x100 frames: one is well within the 50,000-pixel limit and its x2 output within the budget, so
    # a 3-frame animation is accepted; 40 frames of output held until the file is written are not
    accepted = upload(url, "few.gif", animation("GIF", frames=3, size=(100, 100)))
    assert accepted.status_code == 202, accepted.text
    r = upload(url, "many.gif", animation("GIF", frames=40, size=(100, 100)))
    assert r.status_code == 413, r.text
    message = r.json()["error"]
    assert "a 200x200 result of 40 frames would need about" in message and "fewer frames" in message
    assert finished(url, accepted.json()["id"])["status"] == "done"
    assert not list(uploads.iterdir()), "the refused upload is not kept"
    # the size asked for counts for every frame too
    r = upload(url, "few.gif", animation("GIF", frames=3, size=(100, 100)), {"outscale": "6"})
    assert r.status_code == 413 and "a 600x600 result of 3 frames" in r.json()["error"]


def test_a_frame_over_the_pixel_limit_is_refused(server: tuple[str, Path]) -> None:
    url, _ = server
    r = upload(url, "big.webp", animation("WEBP", frames=2, size=(300, 200)))
    assert r.status_code == 413 and "60,000 pixels exceeds the limit of 50,000" in r.json()["error"], r.text


def test_a_video_is_refused_with_a_sentence_naming_the_cli(server: tuple[str, Path], tmp_path: Path) -> None:
    av = pytest.importorskip("av", reason='the video extra is not installed (pip install "srgan[video]")')
    clip = tmp_path / "clip.mp4"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(24))
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for i in range(4):
            frame = av.VideoFrame.from_ndarray(np.full((24, 32, 3), i * 40, np.uint8), "rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    url, uploads = server
    r = upload(url, "clip.mp4", clip.read_bytes())
    assert r.status_code == 415, r.text
    assert "the upload is a video" in r.json()["error"] and "srgan upscale" in r.json()["error"]
    assert not list(uploads.iterdir())
