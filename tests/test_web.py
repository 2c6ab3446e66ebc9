from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi", reason="srgan serve needs the web extra")
from fastapi.testclient import TestClient

from srgan.modelfiles.safetensors import save_generator
from srgan.models import Generator
from srgan.web.app import ServeConfig, create_app
from srgan.web.jobs import JobManager, QueueFull

from .conftest import wait_done


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    g = Generator(scale=2, num_blocks=1, channels=8).eval()
    path = tmp_path_factory.mktemp("m") / "tiny.safetensors"
    save_generator(path, g.state_dict(), g.config)
    return path


@pytest.fixture()
def client(model_file: Path) -> Iterator[TestClient]:
    app = create_app(ServeConfig([str(model_file)], max_pixels=50_000, max_upload_mb=1, max_queue=2, precision="fp32"))
    with TestClient(app) as c:
        yield c


def png_bytes(w: int = 24, h: int = 16, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)).convert(mode).save(buf, "PNG")
    return buf.getvalue()


def png_header_only(w: int, h: int) -> bytes:
    """A PNG that claims w x h pixels but carries almost no data: a decompression-bomb header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


def test_upload_poll_and_download(client: TestClient) -> None:
    assert "srgan" in client.get("/").text
    r = client.post("/api/upscale", files={"file": ("../../evil name.png", png_bytes(), "image/png")})
    assert r.status_code == 202, r.text
    job = wait_done(client, r.json()["id"])
    assert job["status"] == "done" and (job["width"], job["height"]) == (48, 32)
    assert job["progress"] == {"done": 1, "total": 1}
    result = client.get(str(job["result"]))
    assert result.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(result.content)).size == (48, 32)
    assert Image.open(io.BytesIO(client.get(str(job["input_preview"])).content)).size == (24, 16)  # the input itself
    # results live only in the server's own folder, under names it chose
    folder = client.app.state.jobs.results_dir  # type: ignore[attr-defined]
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"{job['id']}.png", f"{job['id']}_input.png", "uploads"]
    assert not list((folder / "uploads").iterdir()), "the upload is deleted once it is processed"
    assert not (folder.parent / "evil name.png").exists()


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"this is not an image", 422, "not a readable image"),
        (png_bytes()[:80], 422, "not a readable image"),
        (b"", 422, "empty file"),
        (png_header_only(100_000, 100_000), 413, "exceeds the limit of 50,000"),
        (png_header_only(300, 300), 413, "90,000 pixels exceeds"),
    ],
)
def test_bad_uploads_are_refused_with_a_message(client: TestClient, content: bytes, status: int, message: str) -> None:
    r = client.post("/api/upscale", files={"file": ("x.png", content, "image/png")})
    assert r.status_code == status
    assert message in r.json()["error"]
    assert "upload-" not in r.json()["error"]  # the temp name is not leaked
    jobs = client.app.state.jobs  # type: ignore[attr-defined]
    assert [p.name for p in jobs.results_dir.iterdir()] == ["uploads"] and not list(jobs.uploads_dir.iterdir())


def test_size_unknown_model_and_missing_length_are_refused(client: TestClient) -> None:
    big = b"\0" * (2 * 2**20)
    r = client.post("/api/upscale", files={"file": ("big.png", big, "image/png")})
    assert r.status_code == 413 and "limit is 1 MB" in r.json()["error"]
    r = client.post("/api/upscale", files={"file": ("a.png", png_bytes(), "image/png")}, data={"model": "nope"})
    assert r.status_code == 400 and "unknown model" in r.json()["error"]

    def chunked() -> Iterator[bytes]:
        yield b"--x\r\n"

    r = client.post("/api/upscale", content=chunked(), headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 411


def test_unknown_jobs_and_path_traversal_give_404(client: TestClient) -> None:
    for path in (
        "/api/jobs/0123",
        "/api/jobs/..%2F..%2Fetc%2Fpasswd/result",
        "/api/jobs/%2e%2e/result",
        f"/api/jobs/{'a' * 32}/result",
    ):
        assert client.get(path).status_code == 404, path


def test_full_queue_answers_503_with_retry_after(client: TestClient) -> None:
    jobs: JobManager = client.app.state.jobs  # type: ignore[attr-defined]
    release = threading.Event()
    real = jobs._upscale

    def slow(*args: object) -> tuple[int, int]:
        release.wait(30)
        return real(*args)  # type: ignore[arg-type]

    jobs._upscale = slow  # type: ignore[assignment]
    ids = [client.post("/api/upscale", files={"file": ("a.png", png_bytes(), "image/png")}) for _ in range(3)]
    assert [r.status_code for r in ids] == [202, 202, 503]
    assert ids[2].headers["retry-after"] == "5" and "busy" in ids[2].json()["error"]
    assert client.get("/api/models").status_code == 200  # still responsive while workers are busy
    release.set()
    for r in ids[:2]:
        assert wait_done(client, r.json()["id"])["status"] == "done"
    assert client.post("/api/upscale", files={"file": ("a.png", png_bytes(), "image/png")}).status_code == 202


def test_an_upload_is_read_only_when_a_place_in_the_queue_is_free(client: TestClient) -> None:
    jobs: JobManager = client.app.state.jobs  # type: ignore[attr-defined]
    held = [jobs.reserve(), jobs.reserve()]  # two uploads being read fill the queue of 2
    with pytest.raises(QueueFull):
        jobs.reserve()
    r = client.post("/api/upscale", files={"file": ("a.png", png_bytes(), "image/png")})
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert not list(jobs.uploads_dir.iterdir()), "a refused upload is not stored"
    held[0].release()
    held[0].release()  # releasing twice gives back one place, not two
    assert jobs.pending() == 1
    bad = client.post("/api/upscale", files={"file": ("a.png", b"not an image", "image/png")})
    assert bad.status_code == 422 and jobs.pending() == 1, "a refused upload gives its place back"
    ok = client.post("/api/upscale", files={"file": ("a.png", png_bytes(), "image/png")})
    assert ok.status_code == 202 and wait_done(client, ok.json()["id"])["status"] == "done"
    held[1].release()
    assert jobs.pending() == 0


def test_a_reserved_place_becomes_the_job(tmp_path: Path) -> None:
    def fake(_upload: object, _job: object, _progress: object, result: Path, _preview: Path) -> tuple[int, int]:
        result.write_bytes(b"x")
        return 1, 1

    jobs = JobManager(fake, max_queue=1)  # type: ignore[arg-type]
    reservation = jobs.reserve()
    (jobs.uploads_dir / "u.bin").write_bytes(b"x")
    job = jobs.submit(jobs.uploads_dir / "u.bin", "m", reservation=reservation)  # not refused: the place is its own
    assert not reservation.held
    reservation.release()  # after submit: does nothing
    while job.status != "done":
        time.sleep(0.01)
    assert jobs.pending() == 0
    jobs.shutdown()
    with pytest.raises(QueueFull):
        jobs.reserve()


def test_failures_are_reported_not_swallowed(tmp_path: Path) -> None:
    def broken(*_args: object) -> tuple[int, int]:
        raise ValueError("the model could not run")

    jobs = JobManager(broken)  # type: ignore[arg-type]
    upload = jobs.uploads_dir / "u.bin"
    upload.write_bytes(b"x")
    job = jobs.submit(upload, "m")
    for _ in range(100):
        if job.status == "failed":
            break
        time.sleep(0.02)
    assert job.status == "failed" and job.error == "the model could not run"
    assert not upload.exists(), "the worker deletes the upload it owns"
    jobs.shutdown()


def test_results_expire_and_respect_the_size_cap() -> None:
    def fake(_data: object, _model: str, _progress: object, result: Path, preview: Path) -> tuple[int, int]:
        result.write_bytes(b"x" * 1000)
        preview.write_bytes(b"y" * 1000)
        return 1, 1

    jobs = JobManager(fake, max_queue=10, max_result_bytes=4500)  # type: ignore[arg-type]
    made = []
    for i in range(4):
        (jobs.uploads_dir / f"{i}.bin").write_bytes(b"x")
        made.append(jobs.submit(jobs.uploads_dir / f"{i}.bin", "m"))
        while made[-1].status != "done":
            time.sleep(0.01)
    jobs.cleanup()
    kept = sorted(p.name for p in jobs.results_dir.glob("*.png"))
    assert len(kept) == 4  # 2 jobs x 2 files = 4000 bytes <= 4500: the 2 oldest were removed
    assert jobs.get(made[0].id) is None and jobs.get(made[3].id) is not None
    jobs.ttl_seconds = 0
    time.sleep(0.01)
    jobs.cleanup()
    assert not list(jobs.results_dir.glob("*.png")) and jobs.get(made[3].id) is None
    jobs.max_queue = 0
    with pytest.raises(QueueFull):
        jobs.submit(jobs.uploads_dir / "late.bin", "m")
    jobs.shutdown()
    assert not jobs.results_dir.exists()


def test_strength_and_output_scale_through_the_api(model_file: Path) -> None:
    app = create_app(ServeConfig(["srgan-x4", str(model_file)], max_pixels=50_000, precision="fp32"))
    with TestClient(app) as c:
        info = c.get("/api/models").json()
        assert info["blendable"] == {"srgan-x4": "srresnet-x4"}
        assert info["models"] == ["srgan-x4", "tiny.safetensors"], "clients see names, never server paths"
        assert str(model_file.parent) not in c.get("/api/models").text
        sizes = {}
        for strength in ("0", "1"):
            form = {"model": "srgan-x4", "strength": strength, "outscale": "3"}
            r = c.post("/api/upscale", files={"file": ("a.png", png_bytes(), "image/png")}, data=form)
            assert r.status_code == 202, r.text
            job = wait_done(c, r.json()["id"])
            assert job["status"] == "done" and (job["width"], job["height"]) == (72, 48), job
            result = Image.open(io.BytesIO(c.get(str(job["result"])).content))
            before = Image.open(io.BytesIO(c.get(str(job["input_preview"])).content))
            assert result.size == (72, 48) and before.size == (24, 16)
            sizes[strength] = np.asarray(result, dtype=np.int16)
        assert np.abs(sizes["0"] - sizes["1"]).mean() > 0.5, "strength changes the picture"
        r = c.post("/api/upscale", files={"file": ("a.png", png_bytes(), "image/png")}, data={"width": "100"})
        job = wait_done(c, r.json()["id"])
        assert (job["width"], job["height"]) == (100, 67), "fit to a width, aspect kept"
        bad = [
            ({"model": "srgan-x4", "outscale": "2", "width": "100"}, "either outscale or width/height"),
            ({"model": "srgan-x4", "height": "0"}, "height must be between 1 and 32768"),
            ({"model": "srgan-x4", "strength": "1.5"}, "strength must be between 0 and 1"),
            ({"model": "tiny.safetensors", "strength": "0.5"}, "has no fidelity base"),
            ({"model": "srgan-x4", "outscale": "100"}, "outscale must be above 0 and at most 16"),
        ]
        for form, message in bad:
            r = c.post("/api/upscale", files={"file": ("a.png", png_bytes(), "image/png")}, data=form)
            assert r.status_code == 400 and message in r.json()["error"]


def test_a_bad_model_is_refused_at_start_up(tmp_path: Path) -> None:
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"junk\.pth is not a PyTorch or safetensors model file"):
        create_app(ServeConfig([str(tmp_path / "junk.pth")]))


def test_shutdown_stops_the_running_job_and_removes_the_results_for_good(tmp_path: Path) -> None:
    started, seen = threading.Event(), []

    def slow(_upload: object, _job: object, progress, result: Path, preview: Path) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        started.set()
        for tile in range(1000):
            progress(tile, 1000)  # raises once the manager is closing
            time.sleep(0.01)
            seen.append(tile)
        result.write_bytes(b"x")
        return 1, 1

    jobs = JobManager(slow)  # type: ignore[arg-type]
    (jobs.uploads_dir / "u.bin").write_bytes(b"x")
    job = jobs.submit(jobs.uploads_dir / "u.bin", "m")
    assert started.wait(10)
    t0 = time.time()
    jobs.shutdown()
    assert time.time() - t0 < 5, "shutdown waits one tile, not the whole job"
    assert job.status == "failed" and "shutting down" in (job.error or "")
    assert len(seen) < 1000 and not jobs.results_dir.exists()
    time.sleep(0.1)
    assert not jobs.results_dir.exists(), "nothing re-creates the folder"
    with pytest.raises(QueueFull):
        jobs.submit(tmp_path / "late.bin", "m")


def test_an_expired_result_is_never_served(client: TestClient) -> None:
    r = client.post("/api/upscale", files={"file": ("a.png", png_bytes(), "image/png")})
    job = wait_done(client, r.json()["id"])
    assert client.get(str(job["result"])).status_code == 200
    client.app.state.jobs.ttl_seconds = 0  # type: ignore[attr-defined]
    time.sleep(0.01)
    assert client.get(str(job["result"])).status_code == 404
    assert client.get(str(job["input_preview"])).status_code == 404


def test_an_upload_is_opened_once_before_it_is_queued(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The request reads the upload's header and checks its structure from one open (was three: probe opened it
    twice, then read_header again); decoding is the worker's."""
    import srgan.imageio as imageio

    real = imageio._open_unlimited
    opened: list[str] = []

    def counting(path: Path) -> Image.Image:
        if not threading.current_thread().name.startswith("srgan-job"):  # not the worker's decode
            opened.append(path.name)
        return real(path)

    monkeypatch.setattr(imageio, "_open_unlimited", counting)
    r = client.post("/api/upscale", files={"file": ("a.png", png_bytes(), "image/png")})
    assert r.status_code == 202 and wait_done(client, r.json()["id"])["status"] == "done"
    assert len(opened) == 1, opened
