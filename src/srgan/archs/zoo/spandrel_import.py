"""Importing spandrel (the zoo extra) without torchvision, and srgan's registry of its SR architectures.

spandrel's package ``__init__`` builds its registry of all 42 architectures, and two of them import
torchvision at module level: LaMa (inpainting) and RestoreFormer (face restoration), for ``rotate``
and ``normalize``, which they call only when they run. Every SR architecture needs only torch, einops
and numpy, and torchvision's PyPI wheels pull a CUDA torch that cannot be imported beside a CPU
build. So ``spandrel_registry`` imports spandrel with a finder at the front of ``sys.meta_path``
that answers every ``torchvision`` import *during that one import* with an empty placeholder
module: names taken from it are stand-ins that raise ``ImportError`` when called. The finder is
removed and the placeholders are dropped from ``sys.modules`` right after, so a later ``import
torchvision`` elsewhere finds the real one (or fails as it would have). srgan then builds its own
registry from spandrel's without LaMa and RestoreFormer (``UNAVAILABLE``), so a file of theirs gets
a sentence, never a stand-in. ``tests/test_zoo.py`` checks that only those two modules hold
stand-ins. When ``spandrel_extra_arches`` is installed too, its SRFormer (Apache-2.0 upstream) is
added; srgan uses nothing else of that package (its other architectures carry non-commercial
licences).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
import types
from typing import Any

# spandrel declares torchvision, whose PyPI wheels pull a CUDA torch: it is installed without dependencies
ZOO_INSTALL = 'pip install "srgan[zoo]" && pip install --no-deps spandrel==0.4.2 spandrel_extra_arches==0.2.0'
# spandrel architectures that need torchvision (not SR networks); srgan never offers them
UNAVAILABLE = ("LaMa", "RestoreFormer")
# the extra package's architectures srgan registers
EXTRA_ARCHES = ("SRFormer",)


class ZooUnavailableError(ImportError):
    """spandrel is not installed (or not importable)."""


class _Unavailable:
    """A stand-in for a torchvision name: any use of it raises."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> _Unavailable:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Unavailable(f"{self._name}.{attr}")

    def __call__(self, *args: object, **kwargs: object) -> Any:
        raise ImportError(f"{self._name} is unavailable: srgan imports spandrel without torchvision")


class _Placeholder(types.ModuleType):
    def __getattr__(self, attr: str) -> _Unavailable:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Unavailable(f"{self.__name__}.{attr}")


class _NoTorchvision(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers ``import torchvision[.x]`` with placeholders, while it is on ``sys.meta_path``."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname == "torchvision" or fullname.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _Placeholder(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__path__ = []


_lock = threading.Lock()
_registry: Any = None


def spandrel_registry() -> Any:
    """srgan's registry of spandrel's SR architectures (a ``spandrel.ArchRegistry``), imported once."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = _build_registry(_import_spandrel())
        return _registry


def _import_spandrel() -> types.ModuleType:
    existing = sys.modules.get("spandrel")
    if existing is not None:
        return existing
    finder = _NoTorchvision()
    real = "torchvision" in sys.modules  # already imported by the user: spandrel gets the real one
    if not real:
        sys.meta_path.insert(0, finder)
    try:
        import spandrel
    except ImportError as exc:
        raise ZooUnavailableError(f"spandrel is not installed ({exc}); {ZOO_INSTALL}") from exc
    finally:
        if not real:
            sys.meta_path.remove(finder)
            for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
                if isinstance(sys.modules[name], _Placeholder):
                    del sys.modules[name]
    return spandrel


def _build_registry(spandrel: types.ModuleType) -> Any:
    registry = spandrel.ArchRegistry()
    registry.add(
        *(a for a in spandrel.MAIN_REGISTRY.architectures("detection") if a.architecture.id not in UNAVAILABLE)
    )
    try:
        import spandrel_extra_arches
    except ImportError:
        return registry
    registry.add(*(a for a in spandrel_extra_arches.EXTRA_REGISTRY if a.architecture.id in EXTRA_ARCHES))
    return registry


def zoo_available() -> bool:
    """spandrel imports (the zoo extra is installed)."""
    try:
        spandrel_registry()
    except ZooUnavailableError:
        return False
    return True
