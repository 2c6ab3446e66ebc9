"""Atomic file writes: write to a temp file beside the target, then rename over it.

A reader (or a crash) never sees a half-written file: the target is either the old file or
the complete new one, because rename within a directory is atomic on POSIX and Windows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_TEMP_NAME = re.compile(r"^\..+\.(\d+)\.tmp$")  # what atomic_path writes to: .<target name>.<pid>.tmp


def remove_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Delete the temp files ``atomic_path`` left beside ``path`` in processes that no longer run
    (killed mid-write); a live writer's file is left alone. Returns what was removed."""
    target = Path(path)
    removed = []
    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        pid = tmp.name[len(target.name) + 2 : -len(".tmp")]
        if pid.isdigit() and _remove_if_dead(tmp, int(pid)):
            removed.append(tmp)
    return removed


def remove_stale_temps_in(folder: str | os.PathLike[str]) -> list[Path]:
    """``remove_stale_temps`` for every file of a folder at once: one pass over the folder, for a writer
    of many files there (each file's own pass would read the whole folder again)."""
    removed = []
    with os.scandir(folder) as entries:
        for entry in entries:
            m = _TEMP_NAME.match(entry.name)
            if m and _remove_if_dead(Path(entry.path), int(m.group(1))):
                removed.append(Path(entry.path))
    return removed


def _remove_if_dead(tmp: Path, pid: int) -> bool:
    if process_alive(pid):
        return False
    tmp.unlink(missing_ok=True)
    return True


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive, not ours to judge
    return True


@contextmanager
def atomic_path(path: str | os.PathLike[str], overwrite: bool = True) -> Iterator[Path]:
    """Yield a temp path to write; on success it replaces ``path``, on error it is removed.

    With ``overwrite=False`` an existing target (a dangling symlink included: something is there)
    raises FileExistsError before anything is written; a folder at ``path`` is never replaced
    (IsADirectoryError).
    """
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a folder")
    if not overwrite and os.path.lexists(target):
        raise FileExistsError(f"{target} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        # Some writers create private (0600) files; give the result the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        if not overwrite and os.path.lexists(target):
            raise FileExistsError(f"{target} already exists")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
