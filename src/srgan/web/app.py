"""``srgan serve``: a small web page and JSON API for upscaling images (FastAPI + uvicorn).

API (all JSON unless noted):
- ``GET  /api/models``: the models on offer and the limits.
- ``POST /api/upscale`` (multipart: ``file``, optional ``model``): an image, or an animated GIF/WebP/APNG
  (every frame upscaled by ``srgan.video.animation``, as ``srgan upscale`` does); 202 with ``{"id",
  "status_url"}``; 413 too large (bytes or pixels per frame, checked before decoding, or an output, all
  frames of it, over the per-job memory budget), 415 a video (one sentence naming ``srgan upscale``), 422
  not a readable image, 400 unknown model, 408 body not sent before the upload deadline, 411 no
  Content-Length, 503 queue full (with Retry-After).
- ``GET  /api/jobs/{id}``: status, progress (tiles, or an animation's frames, done/total), error, and when
  done the result URLs, its format and frame count.
- ``GET  /api/jobs/{id}/result``: the upscaled PNG (an animation: in its own format); ``GET
  /api/jobs/{id}/input``: the input as decoded, PNG, at its own size (an animation: the upload itself); the
  page stretches it over the result for the before/after view.
"""

from __future__ import annotations

import math
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import anyio
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from srgan.imageio import ANIMATED_FORMATS, Header, ImageReadError, ReadPolicy, probe_header, write_image
from srgan.inference.files import OutputSize, image_bytes
from srgan.video.animation import animation_bytes
from srgan.web.jobs import MEDIA_TYPES, Job, JobManager, QueueFull, Reservation

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
STRENGTH_STEP = 0.05
MAX_LOADED_MODELS = 4
MAX_OUTSCALE = 16.0
MAX_SIDE = 32768
UPLOAD_PATH = "/api/upscale"


class ServeConfig:
    def __init__(
        self,
        models: list[str],
        max_pixels: int = 4_000_000,
        max_upload_mb: float = 25.0,
        workers: int = 1,
        max_queue: int = 8,
        device: str = "auto",
        precision: str = "auto",
        max_result_mb: float = 2048.0,
        result_ttl: float = 3600.0,
        upload_seconds: float = 60.0,
    ) -> None:
        if not models:
            raise ValueError("no model to serve: pass --model (a bundled name or a file)")
        # the command line checks these as it parses them; the same rule for Python callers
        for name, value, low in (
            ("max_pixels", max_pixels, 1),
            ("max_upload_mb", max_upload_mb, 1e-6),
            ("workers", workers, 1),
            ("max_queue", max_queue, 1),
            ("upload_seconds", upload_seconds, 1e-3),
        ):
            if not (math.isfinite(value) and value >= low):
                raise ValueError(f"{name} must be a finite number of at least {low:g}, got {value}")
        self.models = models
        self.max_pixels = max_pixels
        self.max_upload_bytes = int(max_upload_mb * 2**20)
        self.workers, self.max_queue = workers, max_queue
        self.device, self.precision = device, precision
        self.max_result_bytes = int(max_result_mb * 2**20)
        self.result_ttl = result_ttl
        self.upload_seconds = upload_seconds


def create_app(config: ServeConfig) -> FastAPI:
    from srgan.inference.upscaler import Upscaler
    from srgan.modelfiles.bundled import fidelity_base
    from srgan.runtime import return_freed_memory

    # A server's resident memory must follow its current jobs (the bound in docs/benchmarks.md), so
    # freed blocks go back to the system instead of being kept for speed as in `srgan upscale`.
    return_freed_memory()

    # Loaded models, the most recently used last; strengths are rounded to STRENGTH_STEP so a
    # slider cannot fill memory with networks.
    upscalers: OrderedDict[tuple[str, float], Upscaler] = OrderedDict()
    load_lock = threading.Lock()
    # Clients see names, never server paths: a bundled name as it is, a file by its name.
    sources = public_names(config.models)
    bases = {name: base for name, spec in sources.items() if (base := fidelity_base(spec)) is not None}

    def upscaler_for(name: str, strength: float) -> Upscaler:
        key = (name, strength)
        with load_lock:
            if key not in upscalers:
                upscalers[key] = Upscaler.from_pretrained(
                    sources[name], device=config.device, precision=config.precision, strength=strength
                )
                while len(upscalers) > MAX_LOADED_MODELS:
                    upscalers.popitem(last=False)
            upscalers.move_to_end(key)
            return upscalers[key]

    def upscale(source: Path, job: Job, progress: Any, result: Path, preview: Path) -> tuple[int, int]:
        """Runs in a worker: the upload is decoded here, never in the request handler."""
        from srgan.atomic import atomic_path
        from srgan.inference.files import upscale_file

        up = upscaler_for(job.model, job.strength)
        size = OutputSize(job.outscale, job.width_limit, job.height_limit)
        if job.frames > 1:
            return upscale_animation(up, source, job, progress, result, preview)
        try:
            done = upscale_file(
                up, source, result, "png", policy=ReadPolicy(max_pixels=config.max_pixels), progress=progress, size=size
            )
        except ImageReadError as exc:
            raise ImageReadError(str(exc).replace(str(source), "the upload")) from None
        width, height = done.output.size
        del done.output  # the result is written; free its pixels before the preview is made
        # The "before" view is the input itself, at its own size: the page stretches it over the result
        # (a full-size bicubic enlargement would cost as much memory as the result).
        with atomic_path(preview) as tmp:
            write_image(tmp, done.input, "png")
        return width, height

    def upscale_animation(
        up: Upscaler, source: Path, job: Job, progress: Any, result: Path, preview: Path
    ) -> tuple[int, int]:
        """The CLI's animation path (``srgan.video.animation``), frame by frame; the "before" view is the
        upload itself (browsers play it), copied before the worker deletes it."""
        import shutil

        from srgan.atomic import atomic_path
        from srgan.video import VideoError
        from srgan.video.animation import upscale_animation

        size = OutputSize(job.outscale, job.width_limit, job.height_limit)
        try:
            done = upscale_animation(
                up, source, result, size, progress=progress, policy=ReadPolicy(max_pixels=config.max_pixels)
            )
        except VideoError as exc:
            raise VideoError(str(exc).replace(str(source), "the upload")) from None
        with atomic_path(preview) as tmp:
            shutil.copyfile(source, tmp)
        return done.size

    for name in sources:  # every model is checked (and loaded) at start-up, not at the first upload
        upscaler_for(name, 1.0)
    jobs = JobManager(
        upscale, config.workers, config.max_queue, config.max_result_bytes, config.result_ttl, config.upload_seconds
    )
    scales = {name: upscaler_for(name, 1.0).scale for name in sources}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.shutdown()  # stop workers, delete the results folder

    app = FastAPI(title="srgan", docs_url="/api/docs", redoc_url=None, lifespan=lifespan)
    app.state.jobs = jobs
    static = Path(str(resources.files("srgan.web").joinpath("static")))
    app.mount("/static", StaticFiles(directory=static), name="static")

    def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    busy = HTTPException(503, "the server is busy; try again shortly", {"Retry-After": "5"})

    @app.middleware("http")
    async def limit_upload(request: Request, call_next: Any) -> Any:
        if request.method != "POST":
            return await call_next(request)
        length = request.headers.get("content-length")
        if length is None:
            return error(411, "send the upload with a Content-Length header")
        if int(length) > config.max_upload_bytes + 64 * 1024:  # multipart framing allowance
            return error(
                413,
                f"upload is {int(length) / 2**20:.1f} MB; the limit is {config.max_upload_bytes / 2**20:.0f} MB",
            )
        if request.url.path != UPLOAD_PATH:
            return await call_next(request)
        # A place in the queue is taken before the body is read, so a burst of uploads reads (and
        # buffers) only as many bodies as can become jobs; memory follows the jobs accepted.
        try:
            reservation = jobs.reserve()
        except QueueFull:
            # Read and drop the body (bounded by the Content-Length check above): a server that
            # answers before reading can reset the connection and lose its own answer.
            async for _ in request.stream():
                pass
            return await http_error(request, busy)
        request.state.reservation = reservation
        try:
            # The place is held only until the reservation's deadline: a client that declares a body
            # and never sends it gets 408 then, and cannot keep the queue full.
            with anyio.move_on_after(config.upload_seconds):
                return await call_next(request)
            return error(408, f"the upload did not arrive within {config.upload_seconds:g} seconds")
        finally:
            reservation.release()  # an upload refused after all (400, 408, 413, 422) gives its place back

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse((static / "index.html").read_text())

    @app.get("/api/models")
    async def models() -> dict[str, Any]:
        return {
            "models": list(sources),
            "default": next(iter(sources)),
            "max_pixels": config.max_pixels,
            "max_upload_mb": config.max_upload_bytes / 2**20,
            "blendable": bases,
        }

    @app.post(UPLOAD_PATH, status_code=202)
    async def submit(
        request: Request,
        file: Annotated[UploadFile, File()],
        model: Annotated[str | None, Form()] = None,
        strength: Annotated[float | None, Form()] = None,
        outscale: Annotated[float | None, Form()] = None,
        width: Annotated[int | None, Form()] = None,
        height: Annotated[int | None, Form()] = None,
    ) -> dict[str, str]:
        name = model or next(iter(sources))
        if name not in sources:
            raise HTTPException(400, f"unknown model {name!r}; choose one of {', '.join(sources)}")
        if strength is not None and not 0.0 <= strength <= 1.0:
            raise HTTPException(400, f"strength must be between 0 and 1, got {strength}")
        if strength is not None and strength != 1.0 and name not in bases:
            raise HTTPException(400, f"model {name!r} has no fidelity base to blend with; leave strength out")
        if outscale is not None and not 0.0 < outscale <= MAX_OUTSCALE:
            raise HTTPException(400, f"outscale must be above 0 and at most {MAX_OUTSCALE:g}, got {outscale}")
        if outscale is not None and (width is not None or height is not None):
            raise HTTPException(400, "give either outscale or width/height, not both")
        for label, side in (("width", width), ("height", height)):
            if side is not None and not 1 <= side <= MAX_SIDE:
                raise HTTPException(400, f"{label} must be between 1 and {MAX_SIDE}, got {side}")
        blend = 1.0 if strength is None else round(strength / STRENGTH_STEP) * STRENGTH_STEP
        reservation: Reservation = request.state.reservation  # taken by limit_upload
        # The multipart parser has spooled the upload to a temporary file; it is copied to a private
        # file in chunks, never held in memory whole. The body has arrived: the upload deadline no longer
        # applies (it would abandon the copy, and its file, in the worker thread).
        with anyio.CancelScope(shield=True):
            upload, header = await run_in_threadpool(
                _store_and_probe, file.file, config.max_upload_bytes, config.max_pixels, jobs.uploads_dir
            )
        try:
            _check_job_memory(header, scales[name], OutputSize(outscale, width, height), config.max_pixels)
            suffix, frames = (ANIMATED_FORMATS[header.format], header.frames) if header.animated else ("png", 1)
            job = jobs.submit(upload, name, blend, outscale, width, height, reservation, suffix, frames)
        except HTTPException:
            upload.unlink(missing_ok=True)
            raise
        except QueueFull:  # the server is shutting down
            upload.unlink(missing_ok=True)
            raise busy from None
        return {"id": job.id, "status_url": f"/api/jobs/{job.id}"}

    def job_or_404(job_id: str) -> Any:
        jobs.cleanup()  # an expired job is forgotten (and its files deleted) before it could be served
        job = jobs.get(job_id) if _JOB_ID.match(job_id) else None
        if job is None:
            raise HTTPException(404, "no such job (it may have expired)")
        return job

    @app.get("/api/jobs/{job_id}")
    async def status(job_id: str) -> dict[str, object]:
        return job_or_404(job_id).to_dict()

    def finished_file(job_id: str, preview: bool) -> FileResponse:
        job = job_or_404(job_id)
        if job.status != "done":
            raise HTTPException(409, f"job is {job.status}")
        path = jobs.preview_path(job) if preview else jobs.result_path(job)
        if not path.is_file():
            raise HTTPException(410, "the result was removed to make room; upscale again")
        # an animation's "before" view is the upload's own bytes: browsers must take it as the image type it was
        # checked to be, never sniff it as something else
        return FileResponse(
            path,
            media_type=MEDIA_TYPES[path.suffix],
            filename=None if preview else f"upscaled_{job.id[:8]}{path.suffix}",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    @app.get("/api/jobs/{job_id}/result")
    async def result(job_id: str) -> FileResponse:
        return finished_file(job_id, preview=False)

    @app.get("/api/jobs/{job_id}/input")
    async def input_preview(job_id: str) -> FileResponse:
        return finished_file(job_id, preview=True)

    return app


def public_names(models: list[str]) -> dict[str, str]:
    """name shown to clients -> the model as given on the command line (bundled name or path)."""
    names: dict[str, str] = {}
    for spec in models:
        base = spec if "/" not in spec and "\\" not in spec else Path(spec).name
        name, n = base, 2
        while name in names:
            name, n = f"{base} ({n})", n + 1
        names[name] = spec
    return names


def _check_job_memory(header: Header, scale: int, size: OutputSize, max_pixels: int) -> None:
    """The memory rule (README): a job may use what the largest accepted input (``max_pixels``, of the
    upload's kind: an animation's frames are RGBA canvases) needs at the model's own scale, output included;
    a larger output size, or an animation whose frames together need more, is refused (413) before the job
    is queued."""
    width, height = header.size
    final = size.target(width, height)
    alpha, bits = (True, 8) if header.animated else (header.alpha, header.bits)
    budget = image_bytes(scale, max_pixels, 1, alpha, bits, None)  # only w * h counts
    if header.animated:
        need = animation_bytes(scale, width, height, header.frames, final)
    else:
        need = image_bytes(scale, width, height, alpha, bits, final)
    if need > budget:
        out_w, out_h = size.written(width, height, scale)
        frames, fewer = (f" of {header.frames} frames", " or fewer frames") if header.animated else ("", "")
        raise HTTPException(
            413,
            f"a {out_w}x{out_h} result{frames} would need about {_size(need)}, more than this server's "
            f"{_size(budget)} per job (a {max_pixels:,}-pixel input at x{scale}); ask for a smaller size{fewer}",
        )


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{max(1, round(n / 2**20))} MiB"


def _store_and_probe(source: BinaryIO, max_bytes: int, max_pixels: int, folder: Path) -> tuple[Path, Header]:
    """Copy an upload to a private file in 1 MiB chunks and check its header and structure (no pixel
    is decoded: that happens in a worker, so memory is bounded by the jobs accepted, not the requests
    made)."""
    fd, name = tempfile.mkstemp(dir=folder, prefix="upload-", suffix=".bin")
    path = Path(name)
    try:
        written = 0
        with open(fd, "wb") as f:
            while chunk := source.read(1 << 20):
                written += len(chunk)
                if written > max_bytes:
                    raise HTTPException(413, f"upload exceeds the {max_bytes / 2**20:.0f} MB limit")
                f.write(chunk)
        header = probe_header(path, ReadPolicy(max_pixels=max_pixels, animations=True))
    except ImageReadError as exc:
        video = "not a readable image" in str(exc) and _is_video(path)
        path.unlink(missing_ok=True)
        if video:
            raise HTTPException(
                415,
                "the upload is a video; this page upscales images and animated GIF/WebP/APNG, so upscale "
                "videos on the command line with: srgan upscale VIDEO",
            ) from None
        message = str(exc).replace(str(path), "the upload")
        raise HTTPException(413 if "exceeds the limit" in message else 422, message) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, header


def _is_video(path: Path) -> bool:
    """A file Pillow cannot read that PyAV (when installed) finds a video in: its first packets only."""
    from srgan.video import VideoError
    from srgan.video.probe import media_kind

    try:
        return media_kind(path) == "video"
    except VideoError:
        return False
