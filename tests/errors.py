"""Shared check for the tests/test_errors_*.py files: a command fails with one sentence."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from srgan.cli import main


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its content hash (to show nothing changed or appeared)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def fails_with_one_sentence(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str, status: int = 2, folder: Path | None = None
) -> str:
    """Run ``srgan argv``; assert the exit status, the message (naming the file or option), no
    traceback, and (with ``folder``) that no file there changed or appeared."""
    before = snapshot(folder) if folder is not None else None
    capsys.readouterr()
    assert main(argv) == status
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert lines and all(line.count(". ") <= 1 for line in lines), err  # one sentence per problem
    if folder is not None:
        assert snapshot(folder) == before, "a file changed or appeared"
    return err
