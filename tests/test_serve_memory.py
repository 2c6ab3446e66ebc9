"""`srgan serve` under concurrent maximum-size uploads: memory bounded by the jobs it accepts."""

from __future__ import annotations

import concurrent.futures
import io
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi", reason="srgan serve needs the web extra")
import httpx

from srgan.modelfiles.safetensors import save_generator
from srgan.models import Generator

from .conftest import start_serve


def rss_peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_concurrent_maximum_size_uploads_keep_memory_bounded(tmp_path: Path) -> None:
    torch.manual_seed(0)
    g = Generator(scale=2, num_blocks=1, channels=8).eval()
    model = tmp_path / "tiny-x2.safetensors"
    save_generator(model, g.state_dict(), g.config)
    side = 2000  # the largest accepted: --max-pixels 4,000,000
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buf, "PNG")
    body = buf.getvalue()  # about 12 MB of incompressible pixels
    workers, queue = 1, 4
    server, url = start_serve(
        "--model",
        str(model),
        "--workers",
        str(workers),
        "--queue",
        str(queue),
        "--max-pixels",
        str(side * side),
        "--max-upload-mb",
        "16",
        "--precision",
        "fp32",
    )
    try:
        base = rss_peak_mib(server.pid)

        def upload(_: int) -> int:
            files = {"file": ("big.png", body, "image/png")}
            return httpx.post(f"{url}/api/upscale", files=files, timeout=120).status_code

        with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
            codes = list(pool.map(upload, range(40)))
        accepted = codes.count(202)
        assert set(codes) <= {202, 503} and 1 <= accepted <= workers + queue + 1, codes
        deadline = time.time() + 240
        while time.time() < deadline:
            jobs_done = httpx.get(f"{url}/api/models", timeout=5).status_code == 200
            time.sleep(1)
            status = server.poll()
            assert status is None, "the server died"
            # wait until nothing is queued or running: the worker pool is idle again
            if jobs_done and not _busy(url):
                break
        peak = rss_peak_mib(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    # Only a running job holds decoded pixels (uploads wait on disk), so the bound is the base plus, per
    # worker, the per-job budget srgan upscale checks before starting (srgan.inference.files.estimate_bytes:
    # input, the tiler's buffers, the integer output, the network's working set), plus slack for the
    # HTTP server's own buffers.
    from srgan.inference.files import estimate_bytes
    from srgan.inference.upscaler import Upscaler

    per_job = estimate_bytes(
        Upscaler.from_pretrained(model, device="cpu", precision="fp32"), side, side, False, 8, None
    )
    bound = base + workers * per_job / 2**20 + 150
    print(f"serve RSS: base {base:.0f} MiB, peak {peak:.0f} MiB, bound {bound:.0f} MiB, accepted {accepted} of 40")
    assert peak < bound


def test_animations_at_the_per_job_budget_keep_memory_bounded(tmp_path: Path) -> None:
    """Animated uploads as long as the budget allows (every output frame counted), several at once: the
    server's peak stays within the same per-job bound as a maximum-size still image's."""
    from srgan.inference.files import estimate_bytes
    from srgan.inference.upscaler import Upscaler
    from srgan.video.animation import animation_bytes

    torch.manual_seed(0)
    g = Generator(scale=2, num_blocks=1, channels=8).eval()
    model = tmp_path / "tiny-x2.safetensors"
    save_generator(model, g.state_dict(), g.config)
    max_pixels, (w, h) = 1_000_000, (500, 400)
    per_job = estimate_bytes(Upscaler.from_pretrained(model, device="cpu", precision="fp32"), 1000, 1000, True, 8, None)
    budget = per_job - Upscaler.from_pretrained(model, device="cpu", precision="fp32").working_set_bytes()
    frames = max(n for n in range(1, 200) if animation_bytes(2, w, h, n, None) <= budget)  # the longest accepted

    def gif(n: int) -> bytes:
        rng = np.random.default_rng(n)
        images = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for _ in range(n)]
        buf = io.BytesIO()
        images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=40, loop=0)
        return buf.getvalue()

    longest, too_long = gif(frames), gif(frames + 1)
    workers, queue = 1, 3
    server, url = start_serve(
        "--model", str(model), "--workers", str(workers), "--queue", str(queue), "--max-pixels", str(max_pixels),
        "--max-upload-mb", "16", "--precision", "fp32",
    )  # fmt: skip
    try:
        base = rss_peak_mib(server.pid)
        refused = httpx.post(f"{url}/api/upscale", files={"file": ("a.gif", too_long, "image/gif")}, timeout=60)
        assert refused.status_code == 413 and f"of {frames + 1} frames" in refused.json()["error"], refused.text

        def upload(_: int) -> httpx.Response:
            return httpx.post(f"{url}/api/upscale", files={"file": ("a.gif", longest, "image/gif")}, timeout=120)

        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            responses = list(pool.map(upload, range(6)))
        accepted = [r.json()["id"] for r in responses if r.status_code == 202]
        assert {r.status_code for r in responses} <= {202, 503} and accepted, [r.status_code for r in responses]
        deadline = time.time() + 240
        while accepted and time.time() < deadline:
            assert server.poll() is None, "the server died"
            states = {i: httpx.get(f"{url}/api/jobs/{i}", timeout=5).json() for i in accepted}
            assert all(j["status"] != "failed" for j in states.values()), states
            accepted = [i for i, j in states.items() if j["status"] != "done"]
            time.sleep(0.5)
        assert not accepted, "jobs did not finish"
        peak = rss_peak_mib(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    bound = base + workers * per_job / 2**20 + 150
    print(f"serve RSS (animations of {frames} frames): base {base:.0f} MiB, peak {peak:.0f} MiB, bound {bound:.0f} MiB")
    assert peak < bound


def _busy(url: str) -> bool:
    # the probe upload is refused with 503 only while the queue is full; an idle server accepts it,
    # so poll the jobs' state through a tiny upload instead of reaching into the process
    small = io.BytesIO()
    Image.new("RGB", (8, 8)).save(small, "PNG")
    r = httpx.post(f"{url}/api/upscale", files={"file": ("s.png", small.getvalue(), "image/png")}, timeout=30)
    if r.status_code != 202:
        return True
    job = r.json()["id"]
    for _ in range(600):
        if httpx.get(f"{url}/api/jobs/{job}", timeout=5).json()["status"] in ("done", "failed"):
            return False
        time.sleep(0.2)
    return True


def test_sigterm_stops_the_server_within_seconds_and_removes_the_results(tmp_path: Path) -> None:
    import glob
    import signal
    import tempfile

    torch.manual_seed(0)
    g = Generator(scale=2, num_blocks=4, channels=32).eval()
    model = tmp_path / "x2.safetensors"
    save_generator(model, g.state_dict(), g.config)
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (1500, 1500, 3), dtype=np.uint8)).save(buf, "PNG")
    before = set(glob.glob(f"{tempfile.gettempdir()}/srgan-serve-*"))
    server, url = start_serve("--model", str(model), "--precision", "fp32", "--max-upload-mb", "16")
    try:
        folders = set(glob.glob(f"{tempfile.gettempdir()}/srgan-serve-*")) - before
        assert len(folders) == 1
        job = httpx.post(
            f"{url}/api/upscale", files={"file": ("b.png", buf.getvalue(), "image/png")}, timeout=60
        ).json()
        for _ in range(300):  # until the job is running
            if httpx.get(f"{url}/api/jobs/{job['id']}", timeout=5).json()["status"] == "running":
                break
            time.sleep(0.05)
        t0 = time.time()
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        assert time.time() - t0 < 10, "stopped at the next tile, not at the end of the job"
        time.sleep(0.5)
        assert not any(Path(f).exists() for f in folders), "the results folder is gone and not re-created"
    finally:
        if server.poll() is None:
            server.kill()
