"""docs/results and docs/img keep what the docs, configs and scripts cite, nothing else (issue 30)."""

from __future__ import annotations

import fnmatch
import itertools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEPT = ("docs/results", "docs/img")
CITING = ("README.md", "docs", "configs", "scripts", "tests", "src")
# The ways a citation names a family of files: docs/results/<name>.eval.json, M.{jpeg75,noise10}.Set14.json,
# v2_pilots/NAME.set14.json, docs/results/*.jpeg75.Set14.json.
PLACEHOLDER = re.compile(r"<[^>]+>|\bM(?=\.)|\bNAME\b")
BRACES = re.compile(r"\{([^{}]*,[^{}]*)\}")
ROOTS = {f"{root}/" for root in KEPT} | {f"{root.removeprefix('docs/')}/" for root in KEPT}
TOKEN = re.compile(r"[\w./<>{},*-]*(?:results|img)/[\w./<>{},*-]*")


def files_under(*paths: str) -> list[str]:
    """Every file under ``paths`` (files themselves included), relative to the repository."""
    found = [p for path in paths for p in ([ROOT / path] if (ROOT / path).is_file() else (ROOT / path).rglob("*"))]
    return sorted(str(p.relative_to(ROOT)) for p in found if p.is_file() and "__pycache__" not in p.parts)


def expand(token: str) -> list[str]:
    """A cited path as shell-like globs: placeholders become ``*``, ``{a,b}`` one glob per choice."""
    token = PLACEHOLDER.sub("*", token.strip(".,;:)"))
    parts = BRACES.split(token)
    choices = [p.split(",") if i % 2 else [p] for i, p in enumerate(parts)]
    return ["".join(c) for c in itertools.product(*choices)]


def citations(text: str) -> tuple[str, list[str]]:
    """A text and the globs its cited paths stand for."""
    return text, [g.lstrip("./") for token in TOKEN.findall(text) for g in expand(token)]


def cited(path: str, text: str, globs: list[str]) -> bool:
    """``text`` names ``path``: by its file name, a glob that matches it, or its folder below the kept roots (a root
    itself, "see results/" or a line wrapped after "docs/results/", cites nothing in particular)."""
    if Path(path).name in text:
        return True
    return any(fnmatch.fnmatch(path, f"*{g}*" if g.endswith("/") else f"*{g}") for g in globs if g not in ROOTS)


def test_every_kept_result_and_image_is_cited() -> None:
    files = files_under(*KEPT)
    texts = {
        path: citations((ROOT / path).read_text(errors="replace"))
        for path in files_under(*CITING)
        if path.endswith((".md", ".yaml", ".py", ".sh", ".txt", ".json")) and path != "tests/test_docs.py"
    }
    uncited = [f for f in files if not any(cited(f, *text) for path, text in texts.items() if path != f)]
    assert not uncited, f"nothing in {', '.join(CITING)} cites these; remove them or cite them: {uncited}"
