"""The SHA-256 a model file is known by: a bundled model's card, a teacher cache's manifest
(``teacher_sha256``), a video work folder's manifest. The plain digest of the file's bytes, so every record
of it, old or new, compares equal; read in blocks, so a large community file is never held whole."""

from __future__ import annotations

import hashlib
import os

_BLOCK = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
