"""Upscaling jobs for the web server: a bounded queue, a worker pool, results on disk with a
size cap and expiry. No web framework here, so it can be tested on its own.

CPU work runs in a ThreadPoolExecutor (torch releases the GIL), never on the event loop. Result
files are named by the server (``<job id>.png``, an animation's ``<job id>.gif``/``.webp``/``.png``, in a
private temporary folder), never by the client.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

# the suffixes of the files the server writes -> their media type
MEDIA_TYPES = {".png": "image/png", ".gif": "image/gif", ".webp": "image/webp"}


class JobCancelled(Exception):
    """The server is shutting down; the job stops where it is."""


class QueueFull(Exception):
    """Too many jobs waiting or running; the client should retry later."""


class Reservation:
    """A place in the queue, held while an upload is being read, so that no more uploads are read
    at once than can become jobs. It holds the place until ``expires`` (a ``time.monotonic()``): a
    client that declares a body and never sends it cannot keep the place. ``JobManager.submit`` turns
    it into the job; ``release`` gives an unused place back (it does nothing once the place is used,
    released or expired). The manager's set of reservations is the one record of which places are held."""

    def __init__(self, manager: JobManager, expires: float) -> None:
        self._manager = manager
        self.expires = expires

    @property
    def held(self) -> bool:
        """Whether this still holds its place (not used, released or expired)."""
        return self._manager.holds(self)

    def release(self) -> None:
        self._manager._release(self)


@dataclass
class Job:
    id: str
    model: str
    strength: float = 1.0  # blend towards the model's fidelity base (1 = the model itself)
    outscale: float | None = None  # final factor; None = the model's
    width_limit: int | None = None  # fit the result to this width and/or height (aspect kept)
    height_limit: int | None = None
    suffix: str = "png"  # the result's format: png, or an animation's own (gif, webp, png for APNG)
    frames: int = 1  # an animation's frame count
    status: str = "queued"  # queued | running | done | failed
    done: int = 0
    total: int = 0
    error: str | None = None
    width: int = 0
    height: int = 0
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def to_dict(self) -> dict[str, object]:
        result: dict[str, object] = {
            "id": self.id,
            "model": self.model,
            "strength": self.strength,
            "outscale": self.outscale,
            "width_limit": self.width_limit,
            "height_limit": self.height_limit,
            "status": self.status,
            "progress": {"done": self.done, "total": self.total},
            "error": self.error,
            "format": self.suffix,
            "frames": self.frames,
        }
        if self.status == "done":
            result.update(
                width=self.width,
                height=self.height,
                result=f"/api/jobs/{self.id}/result",
                input_preview=f"/api/jobs/{self.id}/input",
            )
        return result


# (uploaded file, the job (model, strength, outscale), progress callback, result path, preview path)
# -> (width, height) of the result
UpscaleFunction = Callable[[Path, "Job", Callable[[int, int], None], Path, Path], tuple[int, int]]


class JobManager:
    def __init__(
        self,
        upscale: UpscaleFunction,
        workers: int = 1,
        max_queue: int = 8,
        max_result_bytes: int = 2 << 30,
        ttl_seconds: float = 3600.0,
        reservation_seconds: float = 60.0,
    ) -> None:
        self._upscale = upscale
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="srgan-job")
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._jobs: dict[str, Job] = {}
        self._reservations: set[Reservation] = set()  # places held by uploads still being read
        self.reservation_seconds = reservation_seconds
        self.max_queue = max_queue
        self.max_result_bytes = max_result_bytes
        self.ttl_seconds = ttl_seconds
        self.results_dir = Path(tempfile.mkdtemp(prefix="srgan-serve-"))
        self.uploads_dir = self.results_dir / "uploads"
        self.uploads_dir.mkdir(mode=0o700)

    def pending(self) -> int:
        """Jobs queued or running, and places reserved by uploads being read."""
        with self._lock:
            return self._pending()

    def _pending(self) -> int:  # with the lock held
        now = time.monotonic()
        self._reservations = {r for r in self._reservations if now < r.expires}  # expired places are free again
        return len(self._reservations) + sum(j.status in ("queued", "running") for j in self._jobs.values())

    def reserve(self) -> Reservation:
        """Hold a place for an upload about to be read, for ``reservation_seconds``; QueueFull when
        there is none."""
        with self._lock:
            if self._closing.is_set() or self._pending() >= self.max_queue:
                raise QueueFull
            reservation = Reservation(self, time.monotonic() + self.reservation_seconds)
            self._reservations.add(reservation)
            return reservation

    def holds(self, reservation: Reservation) -> bool:
        with self._lock:
            return reservation in self._reservations and time.monotonic() < reservation.expires

    def _release(self, reservation: Reservation) -> None:
        with self._lock:
            self._take(reservation)

    def _take(self, reservation: Reservation | None) -> bool:  # with the lock held
        """Give up ``reservation``'s place if it still holds one (not expired); True if it did."""
        if reservation is None or reservation not in self._reservations:
            return False
        self._reservations.discard(reservation)
        return time.monotonic() < reservation.expires

    def submit(
        self,
        upload: Path,
        model: str,
        strength: float = 1.0,
        outscale: float | None = None,
        width: int | None = None,
        height: int | None = None,
        reservation: Reservation | None = None,
        suffix: str = "png",
        frames: int = 1,
    ) -> Job:
        """Queue the upscaling of ``upload`` (a file this manager then owns and deletes), in the
        place ``reservation`` holds, or in a free one. ``suffix``, ``frames``: an animation's format and
        frame count (its result is written in its own format)."""
        self.cleanup()
        with self._lock:
            if self._closing.is_set():
                raise QueueFull
            if not self._take(reservation) and self._pending() >= self.max_queue:
                raise QueueFull
            job = Job(uuid.uuid4().hex, model, strength, outscale, width, height, suffix=suffix, frames=frames)
            self._jobs[job.id] = job
        self._pool.submit(self._run, job, upload)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def result_path(self, job: Job) -> Path:
        return self.results_dir / f"{job.id}.{job.suffix}"

    def preview_path(self, job: Job) -> Path:
        return self.results_dir / f"{job.id}_input.{job.suffix}"

    def _run(self, job: Job, upload: Path) -> None:
        job.status = "running"

        def progress(done: int, total: int) -> None:
            if self._closing.is_set():  # shutting down: stop at the next tile
                raise JobCancelled("the server is shutting down")
            job.done, job.total = done, total

        status = "failed"
        try:
            job.width, job.height = self._upscale(upload, job, progress, self.result_path(job), self.preview_path(job))
            status = "done"
        except Exception as exc:  # reported to the client, never swallowed silently
            job.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError | MemoryError) else str(exc)
        finally:
            upload.unlink(missing_ok=True)
            job.finished = time.time()
            job.status = status  # last: a client that sees the final status sees everything else done
        self.cleanup()

    def cleanup(self) -> None:
        """Forget expired jobs and delete their files; then delete the oldest finished results
        while the folder is over its size cap."""
        now = time.time()
        with self._lock:
            expired = [j for j in self._jobs.values() if j.finished is not None and now - j.finished > self.ttl_seconds]
            for job in expired:
                del self._jobs[job.id]
            finished = sorted((j for j in self._jobs.values() if j.status == "done"), key=lambda j: j.finished or 0)
        for job in expired:
            self.result_path(job).unlink(missing_ok=True)
            self.preview_path(job).unlink(missing_ok=True)
        total = sum(p.stat().st_size for p in self.results_dir.glob("*") if p.is_file())  # results and previews
        for job in finished:
            if total <= self.max_result_bytes:
                break
            for path in (self.result_path(job), self.preview_path(job)):
                if path.exists():
                    total -= path.stat().st_size
                    path.unlink()
            with self._lock:
                self._jobs.pop(job.id, None)

    def shutdown(self) -> None:
        """Stop: queued jobs are cancelled, a running one stops at its next tile, and only when no
        worker can write any more is the results folder (with the users' images) removed."""
        self._closing.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.results_dir, ignore_errors=True)
