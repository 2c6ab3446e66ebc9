"""Reading YAML for the training configuration: a safe loader that refuses a key written twice, config files
(text only) and their ``extends:`` chains. Every problem is a ``YamlFileError`` whose message names the file
or value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class YamlFileError(ValueError):
    """A file or value that is not acceptable YAML; the message names it and says why."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a key written twice in one mapping (PyYAML keeps the last)."""


def _mapping_without_duplicates(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            line = key_node.start_mark.line + 1
            raise YamlFileError(f"key {key!r} is written twice (lines {seen[key]} and {line}); keep one")
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def parse_yaml(text: str, what: str) -> Any:
    """``text`` as YAML (safe: no tags that build Python objects), or a YamlFileError naming ``what``."""
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader: no tags that build Python objects
    except YamlFileError as exc:
        raise YamlFileError(f"{what}: {exc}") from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise YamlFileError(f"{what} is not valid YAML ({problem}{where})") from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise YamlFileError(f"config file {path} is not a text (YAML) file") from None
    except OSError as exc:
        raise YamlFileError(f"cannot read config file {path} ({exc.strerror})") from exc
    data = parse_yaml(text, f"config file {path}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise YamlFileError(f"config file {path} must hold a mapping of sections")
    return data


def load_config_file(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file's mapping with its ``extends:`` chain resolved: the named file (relative to this
    one) is read first and this file's settings are merged over it, section by section."""
    data = load_yaml(path)
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise YamlFileError(f"config file {path}: extends must name one config file; got {base!r}")
    base_path = Path(path).parent / base
    chain = (*_chain, Path(path).resolve())
    if base_path.resolve() in chain:
        raise YamlFileError(f"config file {path} extends {base}, which extends it back")
    if not base_path.is_file():
        raise YamlFileError(f"config file {path} extends {base_path}, which does not exist")
    return _merge(load_config_file(base_path, chain), data)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
