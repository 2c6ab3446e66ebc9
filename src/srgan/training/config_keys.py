"""Reading settings into the config dataclasses: ``a.b=value`` keys, typed coercion, ``loss.terms``, and the
sentences for keys that were renamed, removed or written in the old flat loss form.

``srgan.training.config`` builds on it (presets, files, validation); the errors live here so both can raise them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import types
import typing
import warnings
from typing import Any

from srgan.losses.settings import OLD_KEYS, TERMS, TermSettings
from srgan.training.yaml_files import YamlFileError, parse_yaml

C = typing.TypeVar("C")  # a config dataclass (srgan.training.config.Config)


class ConfigError(ValueError):
    """A configuration the trainer cannot run; the message says which key and why."""


class ConfigWarning(UserWarning):
    """A configuration that runs but is written in an old form; the message says the new one."""


# Keys that were renamed or removed: an old file gets one sentence naming the new key.
RENAMED_KEYS = {
    "model.d_channels": "discriminator.channels",
}
REMOVED_KEYS = {
    "loss.pixel_downsample": "the pixel term at LR resolution was a rejected experiment "
    "(docs/results/srgan_recipe_experiments.md, runs E13/E14/F2); remove the key",
    "loss.antialias": "the anti-aliased perceptual network was a pilot that changed nothing for the better at "
    "twice the time per iteration (docs/results/srgan_x4_v2_ablation.md, P1); remove the key",
    "train.icnr": "ICNR initialisation served no recipe: the v2 ablation found the grid is learned in the "
    "adversarial stage, not from the sub-pixel initialisation (docs/results/srgan_x4_v2_ablation.md); remove the key",
    "data.flat_target_blur": "grain-free targets were a pilot that took some texture out of skies but not the "
    "hatching, for 0.05-0.2 NIQE on realistic input (docs/results/srgan_x4_real_ablation.md); remove the key",
}


def _coerce(value: Any, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0])
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list | tuple):
            value = [value]  # a single folder given where a list is expected
        return [_coerce(v, item, key) for v in value]
    if origin is tuple:
        items = typing.get_args(hint)
        if not isinstance(value, list | tuple) or len(value) != len(items):
            raise ConfigError(f"{key} must be a list of {len(items)} values; got {value!r}")
        return tuple(_coerce(v, t, key) for v, t in zip(value, items, strict=True))
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false; got {value!r}")
    if isinstance(value, str) and hint in (int, float):
        # YAML 1.1 reads 3e-4 and 1e6 (no dot) as strings
        with contextlib.suppress(ValueError):
            value = float(value)
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)  # 1e6 in YAML
        raise ConfigError(f"{key} must be an integer; got {value!r}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{key} must be a number; got {value!r}")
    if hint is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key} must be a string; got {value!r}")
    raise ConfigError(f"{key}: unsupported type {hint}")


def set_key(obj: Any, key_path: list[str], value: Any, full_key: str) -> None:
    if full_key in RENAMED_KEYS:
        raise ConfigError(f"config key {full_key!r} was renamed to {RENAMED_KEYS[full_key]!r}; use that name")
    if full_key in REMOVED_KEYS:
        raise ConfigError(f"config key {full_key!r} no longer exists: {REMOVED_KEYS[full_key]}")
    old = full_key.removeprefix("loss.")
    if len(key_path) == 1 and full_key.startswith("loss.") and old in OLD_KEYS:
        _set_old_loss_key(obj.terms, old, value)
        return
    names = [f.name for f in dataclasses.fields(obj)]
    head = key_path[0]
    if head not in names:
        prefix = full_key[: len(full_key) - len(".".join(key_path))]
        raise ConfigError(
            f"unknown config key {prefix + head!r}; valid keys here: {', '.join(prefix + n for n in names)}"
        )
    current = getattr(obj, head)
    if isinstance(current, dict):  # loss.terms: name -> that term's settings record
        _set_term(current, key_path[1:], value, full_key.removesuffix("." + ".".join(key_path[1:])))
        return
    if dataclasses.is_dataclass(current):
        if len(key_path) == 1:
            if not isinstance(value, dict):
                raise ConfigError(f"{full_key} is a section; give its keys")
            for k, v in value.items():
                set_key(current, [str(k)], v, f"{full_key}.{k}")
            return
        set_key(current, key_path[1:], value, full_key)
        return
    if len(key_path) > 1:
        raise ConfigError(f"{'.'.join(full_key.split('.')[: -len(key_path) + 1])} is not a section")
    hints = typing.get_type_hints(type(obj))
    setattr(obj, head, _coerce(value, hints[head], full_key))


def _set_term(terms: dict[str, TermSettings], key_path: list[str], value: Any, prefix: str) -> None:
    """``prefix`` (``loss.terms``) ``.name[.key]`` = value, checked against the term's settings record."""
    if not key_path:
        if not isinstance(value, dict):
            raise ConfigError(f"{prefix} is a mapping of terms ({', '.join(TERMS)}) to their settings")
        for name, settings in value.items():
            _set_term(terms, [str(name)], settings, prefix)
        return
    name = key_path[0]
    if name not in TERMS:
        raise ConfigError(f"unknown loss term {prefix}.{name}; the terms are {', '.join(TERMS)}")
    if len(key_path) == 1 and not isinstance(value, dict):
        raise ConfigError(f"{prefix}.{name} is a term; give its settings, e.g. {{weight: 1.0}}")
    if len(key_path) == 1:
        for key, v in value.items():
            set_key(terms[name], [str(key)], v, f"{prefix}.{name}.{key}")
    else:
        set_key(terms[name], key_path[1:], value, f"{prefix}.{name}.{'.'.join(key_path[1:])}")


def _set_old_loss_key(terms: dict[str, TermSettings], key: str, value: Any) -> None:
    """An old flat ``loss.<key>``: set what it now is, and say once (a warning) what to write instead."""
    new = OLD_KEYS[key]
    warnings.warn(
        f"loss.{key} is the old form of {' and '.join('loss.terms.' + k for k in new)}; "
        "write that instead (the old key still works)",
        ConfigWarning,
        stacklevel=2,
    )
    for target in new:
        name, field_name = target.split(".")
        set_key(terms[name], [field_name], value, f"loss.terms.{target}")


def apply_mapping(cfg: C, mapping: dict[str, Any]) -> C:
    for key, value in mapping.items():
        set_key(cfg, [str(key)], value, str(key))
    return cfg


def apply_overrides(cfg: C, overrides: list[str]) -> C:
    """``section.key=value`` strings; values are YAML (``8``, ``1e-4``, ``[a/, b/]``, ``null``)."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form section.key=value")
        try:
            value = parse_yaml(raw, f"override {item}: the value")
        except YamlFileError as exc:
            raise ConfigError(str(exc)) from None
        set_key(cfg, key.strip().split("."), value, key.strip())
    return cfg
