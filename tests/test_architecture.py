"""The dependency rules of docs/architecture.md, read from its table and checked on every import."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "srgan"


def rules() -> dict[str, set[str]]:
    """package -> the packages it may import, from the table in docs/architecture.md."""
    table = {}
    for line in (ROOT / "docs" / "architecture.md").read_text().splitlines():
        m = re.match(r"^\| `(\w+)` \|[^|]*\| ([^|]*) \|$", line)
        if m:
            allowed = m.group(2).strip()
            table[m.group(1)] = set() if allowed.startswith("(nothing)") else {a.strip() for a in allowed.split(",")}
    return table


def unit_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imports_of(path: Path) -> set[str]:
    """The srgan packages/modules a file imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("srgan."):
                found.add(node.module.split(".")[1])
            elif node.module == "srgan":
                found |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("srgan.")}
    return found


def test_the_table_covers_every_package() -> None:
    table = rules()
    units = {unit_of(p) for p in SRC.rglob("*.py")} - {"__init__", "__main__"}
    assert units <= set(table), f"packages missing from docs/architecture.md: {sorted(units - set(table))}"
    for allowed in table.values():
        assert allowed <= set(table), f"unknown package in the table: {sorted(allowed - set(table))}"


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_every_import_follows_the_dependency_rules(path: Path) -> None:
    unit = unit_of(path)
    if unit in ("__init__", "__main__"):
        return  # the package's lazy top-level names and the entry point
    allowed = rules()[unit] | {unit}
    used = imports_of(path) - {"__version__"}
    assert used <= allowed, (
        f"{path.relative_to(SRC)} imports {sorted(used - allowed)}; {unit} may import {sorted(allowed)}"
    )


def test_the_rules_have_no_cycle() -> None:
    table = rules()
    done: set[str] = set()

    def visit(unit: str, stack: tuple[str, ...]) -> None:
        assert unit not in stack, f"cycle: {' -> '.join((*stack, unit))}"
        if unit not in done:
            for dep in table[unit]:
                visit(dep, (*stack, unit))
            done.add(unit)

    for unit in table:
        visit(unit, ())


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def module_imports(path: Path, modules: set[str]) -> set[str]:
    """The srgan modules a file imports anywhere (module level or inside functions; ``TYPE_CHECKING``
    blocks too): ``from srgan.a import b`` counts ``srgan.a.b`` when that is a module, else ``srgan.a``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith("srgan"):
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module for a in node.names
            ]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("srgan")]
        found |= {n for n in names if n in modules}
    return found


def test_no_two_modules_import_each_other() -> None:
    """The rules above order the packages; inside a package, two modules that import each other (as
    training's build and trainer once did) are a cycle too."""
    paths = {module_name(p): p for p in SRC.rglob("*.py")}
    graph = {name: module_imports(path, set(paths)) - {name} for name, path in paths.items()}
    # a package's __init__ re-exporting its modules is not a cycle with them
    packages = {name for name, path in paths.items() if path.name == "__init__.py"}
    done: set[str] = set()

    def visit(module: str, stack: tuple[str, ...]) -> None:
        assert module not in stack, f"import cycle: {' -> '.join((*stack[stack.index(module) :], module))}"
        if module not in done:
            for dep in sorted(graph[module]):
                if not (dep in packages and module.startswith(dep + ".")):
                    visit(dep, (*stack, module))
            done.add(module)

    for module in sorted(graph):
        visit(module, ())
