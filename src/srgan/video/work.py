"""The work folder of one video: resumable and shareable between processes.

``.<output name>.srgan-work/`` beside the output holds ``manifest.json`` (the input's size, mtime and a
hash of a few of its blocks, the model files' hashes, every option that changes the result, the segment
plan), one file per finished segment (written to a temp name and renamed, so a segment is there whole or
not at all) and claim files (hard-linked into place, which fails when the name exists, so exactly one process works on a
segment). A
re-run with the same command continues; a claim of a process that no longer runs is cleared first, so
its segment is redone."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srgan.atomic import atomic_path, process_alive
from srgan.video import VideoError

MANIFEST_VERSION = 1
_BLOCK = 1 << 20
_PACKET = struct.Struct("<qqqBI")  # pts, dts, duration, keyframe, size
_MAGIC = b"SRGANSEG1\n"


def file_fingerprint(path: Path) -> dict[str, Any]:
    """Size, mtime and a SHA-256 of the first, middle and last MiB: a changed file is noticed without
    reading all of a many-GB video."""
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for offset in sorted({0, max(0, stat.st_size // 2 - _BLOCK // 2), max(0, stat.st_size - _BLOCK)}):
            f.seek(offset)
            digest.update(f.read(_BLOCK))
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256_blocks": digest.hexdigest()}


def model_fingerprint(model: str | None) -> str | None:
    """SHA-256 of a model file (a bundled name is resolved to its file); None for no model."""
    if model is None:
        return None
    from srgan.modelfiles.bundled import bundled_path
    from srgan.modelfiles.fingerprint import file_sha256

    return file_sha256(bundled_path(model) or Path(model))


def work_folder(target: Path) -> Path:
    return target.with_name(f".{target.name}.srgan-work")


@dataclass
class WorkFolder:
    path: Path
    segments: list[tuple[int, int]]  # [start, stop) frame indices

    @classmethod
    def open(cls, target: Path, manifest: dict[str, Any], source: Path) -> WorkFolder:
        """The work folder for ``target``: created with ``manifest``, or an existing one continued when its
        manifest is the same; VideoError (one sentence) when it records another input or other options."""
        path = work_folder(target)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise VideoError(f"{source}: cannot create the work folder {path} ({exc.strerror or exc})") from exc
        manifest = {"version": MANIFEST_VERSION, **manifest}
        file = path / "manifest.json"
        text = json.dumps(manifest, indent=1, sort_keys=True)
        try:
            with atomic_path(file, overwrite=False) as tmp:
                tmp.write_text(text)
        except FileExistsError:
            old = json.loads(file.read_text())
            if old != json.loads(text):
                raise VideoError(
                    f"{source}: {path} holds an unfinished run with {_difference(old, manifest)}; re-run that "
                    f"command to continue it, or delete the folder to start again"
                ) from None
        except OSError as exc:
            raise VideoError(f"{source}: cannot write in {path} ({exc.strerror or exc})") from exc
        return cls(path, [tuple(s) for s in manifest["segments"]])  # type: ignore[misc]

    def segment_file(self, k: int) -> Path:
        return self.path / f"segment-{k:05d}.pkt"

    def done(self, k: int) -> bool:
        return self.segment_file(k).exists()

    def all_done(self) -> bool:
        return all(self.done(k) for k in range(len(self.segments)))

    def claim(self, name: str) -> bool:
        """True for exactly one process: the one that created ``name``.claim. The claim is written whole under a
        temp name and hard-linked into place (link fails if the name exists, as O_CREAT|O_EXCL does), so a
        process killed at any moment never leaves a claim without its owner in it."""
        tmp = self.path / f".{name}.{socket.gethostname()}.{os.getpid()}.claiming"
        tmp.write_text(f"{socket.gethostname()} {os.getpid()}\n")
        try:
            os.link(tmp, self.path / f"{name}.claim")
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def release(self, name: str) -> None:
        (self.path / f"{name}.claim").unlink(missing_ok=True)

    def release_mine(self) -> None:
        """Every claim of this process: an interrupt (Ctrl-C, SIGTERM) can land between a claim and the
        ``try`` that releases it."""
        me = f"{socket.gethostname()} {os.getpid()}"
        for claim in self.path.glob("*.claim"):
            try:
                if claim.read_text().strip() == me:
                    claim.unlink(missing_ok=True)
            except OSError:
                continue  # removed meanwhile
        for temp in self.path.glob(f".*.{socket.gethostname()}.{os.getpid()}.claiming"):
            temp.unlink(missing_ok=True)

    def clear_dead_claims(self) -> int:
        """Remove the claims of processes on this machine that no longer run (killed mid-segment):
        their segments are redone. Claims of finished segments are removed too."""
        host, removed = socket.gethostname(), 0
        for claim in self.path.glob("*.claim"):
            try:
                owner_host, pid = claim.read_text().split()
            except (OSError, ValueError):
                continue  # removed meanwhile
            if owner_host == host and not process_alive(int(pid)):
                claim.unlink(missing_ok=True)
                removed += 1
        return removed

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    if old.get("input") != new.get("input"):
        return "another input file (or this one changed)"
    if old.get("model") != new.get("model"):
        return "another model file"
    old_opts, new_opts = old.get("options", {}), new.get("options", {})
    changed = sorted(k for k in set(old_opts) | set(new_opts) if old_opts.get(k) != new_opts.get(k))
    if changed:
        return "other options (" + ", ".join(f"{k}: {old_opts.get(k)!r}" for k in changed) + ")"
    return "another segment plan or srgan version"


# ---- segment files: the encoder's packets, exactly as it wrote them ---------------------------------


def write_segment(path: Path, extradata: bytes | None, packets: list[tuple[int, int, int, bool, bytes]]) -> None:
    """(pts, dts, duration, keyframe, data) packets in decode order, written atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(_MAGIC)
        extra = extradata or b""
        f.write(struct.pack("<I", len(extra)) + extra)
        for pts, dts, duration, key, data in packets:
            f.write(_PACKET.pack(pts, dts, duration, key, len(data)))
            f.write(data)


def segment_extradata(path: Path) -> bytes:
    with open(path, "rb") as f:
        if f.read(len(_MAGIC)) != _MAGIC:
            raise VideoError(f"{path} is not a segment file of this srgan version; delete its work folder")
        (n,) = struct.unpack("<I", f.read(4))
        return f.read(n)


def read_segment(path: Path) -> Iterator[tuple[int, int, int, bool, bytes]]:
    with open(path, "rb") as f:
        if f.read(len(_MAGIC)) != _MAGIC:
            raise VideoError(f"{path} is not a segment file of this srgan version; delete its work folder")
        (n,) = struct.unpack("<I", f.read(4))
        f.read(n)
        while header := f.read(_PACKET.size):
            pts, dts, duration, key, size = _PACKET.unpack(header)
            yield pts, dts, duration, bool(key), f.read(size)
