"""The web page in a real browser (Debian's Chromium driven by Playwright), and a bounded load test,
both against a live uvicorn server on 127.0.0.1."""

from __future__ import annotations

import concurrent.futures
import io
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi", reason="srgan serve needs the web extra")
import httpx
import uvicorn

from srgan.modelfiles.safetensors import save_generator
from srgan.models import Generator
from srgan.web.app import ServeConfig, create_app

from .conftest import wait_for_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    torch.manual_seed(0)
    g = Generator(scale=2, num_blocks=1, channels=8).eval()
    model = tmp_path_factory.mktemp("m") / "tiny-x2.safetensors"
    save_generator(model, g.state_dict(), g.config)
    app = create_app(
        ServeConfig([str(model)], max_pixels=1_000_000, max_upload_mb=2, workers=1, max_queue=8, precision="fp32")
    )
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_for_server(url)
    yield url
    srv.should_exit = True
    thread.join(10)


def small_png(path: Path, w: int = 40, h: int = 30) -> Path:
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 6 % 256, yy * 8 % 256, (xx + yy) * 3 % 256], axis=2).astype(np.uint8)
    Image.fromarray(rgb).save(path)
    return path


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make setup installs Debian's chromium)")
def test_page_in_a_real_browser(server: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    image = small_png(tmp_path / "photo.png")
    (tmp_path / "notes.txt").write_text("not an image")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(accept_downloads=True)
        page.goto(server)
        page.wait_for_selector("#model option", state="attached")
        page.set_input_files("#file", str(image))
        page.click("#go")
        page.wait_for_selector("#result:not([hidden])", timeout=60_000)
        page.wait_for_function("document.getElementById('after').naturalWidth > 0")
        assert page.eval_on_selector("#after", "e => [e.naturalWidth, e.naturalHeight]") == [80, 60]
        assert page.eval_on_selector("#before", "e => [e.naturalWidth, e.naturalHeight]") == [40, 30]  # the input
        box = "e => {const r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]}"
        assert page.eval_on_selector("#before", box) == page.eval_on_selector("#after", box), "stretched over it"
        assert "80 × 60" in page.inner_text("#size")
        page.fill("#slider", "20")
        page.dispatch_event("#slider", "input")
        assert page.eval_on_selector("#before", "e => e.style.clipPath") == "inset(0px 80% 0px 0px)"
        page.check("#zoom")
        assert "zoom" in page.get_attribute("#viewer", "class")  # type: ignore[operator]
        assert page.eval_on_selector("#before", box) == page.eval_on_selector("#after", box), "also at 100%"
        with page.expect_download() as info:
            page.click("#download")
        saved = tmp_path / "download.png"
        info.value.save_as(saved)
        assert Image.open(saved).size == (80, 60)

        page.set_input_files("#file", str(tmp_path / "notes.txt"))
        page.click("#go")
        page.wait_for_selector("#error:not([hidden])")
        assert "not a readable image" in page.inner_text("#error")
        browser.close()


def test_bounded_load(server: str) -> None:
    """50 concurrent uploads: each is answered (202 or 503), every accepted job finishes, and the
    server answers a cheap request quickly while loaded. Bounded in count and time."""
    buf = io.BytesIO()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(buf, "PNG")
    body = buf.getvalue()

    def post(_: int) -> httpx.Response:
        return httpx.post(f"{server}/api/upscale", files={"file": ("a.png", body, "image/png")}, timeout=30)

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(post, range(50)))
    codes = [r.status_code for r in responses]
    assert set(codes) <= {202, 503} and len(codes) == 50
    assert codes.count(202) >= 1
    assert all(r.headers.get("retry-after") for r in responses if r.status_code == 503)
    t = time.perf_counter()
    assert httpx.get(f"{server}/api/models", timeout=5).status_code == 200
    assert time.perf_counter() - t < 2.0
    deadline = time.time() + 60
    pending = [r.json()["id"] for r in responses if r.status_code == 202]
    while pending and time.time() < deadline:
        pending = [
            i
            for i in pending
            if httpx.get(f"{server}/api/jobs/{i}", timeout=5).json()["status"] not in ("done", "failed")
        ]
        time.sleep(0.1)
    assert not pending, f"{len(pending)} jobs hung"


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make setup installs Debian's chromium)")
def test_page_upscales_an_animated_gif(server: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    frames = [Image.open(small_png(tmp_path / f"f{i}.png")).rotate(180 * i) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=[50, 90, 130], loop=0)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(accept_downloads=True)
        page.goto(server)
        page.wait_for_selector("#model option", state="attached")
        page.set_input_files("#file", str(tmp_path / "anim.gif"))
        page.click("#go")
        page.wait_for_selector("#result:not([hidden])", timeout=60_000)
        page.wait_for_function("document.getElementById('after').naturalWidth > 0")
        assert page.eval_on_selector("#after", "e => [e.naturalWidth, e.naturalHeight]") == [80, 60]
        assert "80 × 60 px, 3 frames" in page.inner_text("#size")
        assert page.inner_text("#download") == "Download GIF"
        with page.expect_download() as info:
            page.click("#download")
        saved = tmp_path / "download.gif"
        info.value.save_as(saved)
        browser.close()
    with Image.open(saved) as im:
        assert im.format == "GIF" and im.size == (80, 60) and im.n_frames == 3
        durations = []
        for i in range(3):
            im.seek(i)
            durations.append(im.info["duration"])
        assert durations == [50, 90, 130]
