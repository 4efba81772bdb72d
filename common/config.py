"""Typed configs: nested frozen dataclasses with named presets, flat overrides and saved resolved copies.

A pipeline's config is a frozen dataclass whose fields are settings or groups of settings (frozen
dataclasses themselves, such as ``data``, ``model`` and ``training``); code reads them by attribute
(``config.model.frame_size``). Every setting has one name, unique in the whole config, and that flat
name is its face to users: the command line sets it (``--frame-size 16``, ``--set filters=16,32``),
``config.json`` stores the settings flat under those names, and :func:`replace` changes them by name
wherever they sit. Unknown keys are rejected loudly.

    config = resolve(PRESETS, "tiny", {"epochs": "3"})   # strings from the command line, typed here
    config = replace(config, frame_size=16)              # typed values, flat names
    save(config, run_dir / "config.json")                # {"dataset": "", "frame_size": 16, ...}
    config = load(VideoConfig, run_dir / "config.json")
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import pathlib
import typing
from typing import Any, TypeVar

from common.errors import UserError

ConfigT = TypeVar("ConfigT")


@dataclasses.dataclass(frozen=True)
class Setting:
    """One leaf of a config: its flat name, the group path that holds it, its field and type."""

    name: str
    path: tuple[str, ...]  # the group fields from the top, e.g. ("model",) for config.model.frame_size
    field: dataclasses.Field
    annotation: Any
    group: str  # the group's name ("" at the top level), for --help

    @property
    def help(self) -> str:
        return self.field.metadata.get("help", "")


def _is_group(annotation: Any) -> bool:
    return isinstance(annotation, type) and dataclasses.is_dataclass(annotation)


@functools.cache
def settings(config_class: type) -> dict[str, Setting]:
    """Every setting of ``config_class`` by its flat name, in declaration order (groups in place).

    Raises:
        TypeError: when two settings share a name (a config must give each one its own).
    """
    found: dict[str, Setting] = {}

    def walk(cls: type, path: tuple[str, ...]) -> None:
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            annotation = hints[field.name]
            if _is_group(annotation):
                walk(annotation, (*path, field.name))
                continue
            if field.name in found:
                raise TypeError(f"{config_class.__name__}: two settings are named '{field.name}'")
            found[field.name] = Setting(field.name, path, field, annotation, path[-1] if path else "")

    walk(config_class, ())
    return found


def field_names(config_class: type) -> list[str]:
    """The flat names of every setting."""
    return list(settings(config_class))


def parse_value(text: str, annotation: Any, key: str) -> Any:
    """Parses a command-line string into the type a config field declares."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or str(annotation).startswith("typing.Optional") or " | " in str(annotation):
        arguments = [a for a in typing.get_args(annotation) if a is not type(None)]
        if text.lower() in ("none", "null", ""):
            return None
        return parse_value(text, arguments[0], key)
    if origin in (tuple, list):
        (item_type, *_) = typing.get_args(annotation) or (str,)
        items = [item for item in text.replace(" ", "").split(",") if item]
        return tuple(parse_value(item, item_type, key) for item in items)
    try:
        if annotation is bool:
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if annotation is int:
            return int(text)
        if annotation is float:
            return float(text)
    except ValueError:
        type_name = getattr(annotation, "__name__", str(annotation))
        raise UserError(f"config key '{key}' expects {type_name}, got '{text}'") from None
    return text


def _unknown(config_class: type, keys) -> None:
    known = settings(config_class)
    unknown = sorted(key for key in keys if key not in known)
    if unknown:
        raise UserError(
            f"unknown config key{'s' if len(unknown) > 1 else ''} {', '.join(repr(k) for k in unknown)} for "
            f"{config_class.__name__}; valid keys: {', '.join(sorted(known))}"
        )


def replace(config: ConfigT, **changes: Any) -> ConfigT:
    """``config`` with settings changed by flat name, wherever they sit (typed values).

    Raises:
        UserError: for a name that is not a setting of the config.
    """
    _unknown(type(config), changes)
    by_group: dict[tuple[str, ...], dict[str, Any]] = {}
    for name, value in changes.items():
        by_group.setdefault(settings(type(config))[name].path, {})[name] = value

    def rebuild(node: Any, path: tuple[str, ...]) -> Any:
        updates = dict(by_group.get(path, {}))
        for field in dataclasses.fields(node):
            child = getattr(node, field.name)
            if dataclasses.is_dataclass(child) and any(p[: len(path) + 1] == (*path, field.name) for p in by_group):
                updates[field.name] = rebuild(child, (*path, field.name))
        return dataclasses.replace(node, **updates) if updates else node

    return rebuild(config, ())


def apply_overrides(config: ConfigT, overrides: dict[str, str]) -> ConfigT:
    """Returns ``config`` with string overrides (``--flag`` and ``--set`` values) parsed into each setting's type.

    Raises:
        UserError: for a key that is not a setting of the config, or a value of the wrong type.
    """
    overrides = {key.replace("-", "_"): text for key, text in overrides.items()}
    _unknown(type(config), overrides)
    known = settings(type(config))
    return replace(config, **{key: parse_value(text, known[key].annotation, key) for key, text in overrides.items()})


def resolve(presets: dict[str, ConfigT], preset: str, overrides: dict[str, str]) -> ConfigT:
    """The preset with the overrides applied, validated (``config.validate()`` where it has one)."""
    if preset not in presets:
        raise UserError(f"unknown preset '{preset}'; choose one of: {', '.join(presets)}")
    config = apply_overrides(presets[preset], overrides)
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate()
    return config


def value(config: Any, name: str) -> Any:
    """One setting's value by its flat name."""
    node = config
    for group in settings(type(config))[name].path:
        node = getattr(node, group)
    return getattr(node, name)


def to_dict(config: Any) -> dict[str, Any]:
    """Every setting by its flat name (tuples as lists): what ``config.json`` holds."""
    values = {name: value(config, name) for name in settings(type(config))}
    return {key: list(v) if isinstance(v, tuple) else v for key, v in values.items()}


def from_dict(config_class: type[ConfigT], values: dict[str, Any]) -> ConfigT:
    """The config a run saved (``config.json``: flat names, lists where the fields are tuples) as its
    dataclass again; settings the file lacks keep their defaults.

    Raises:
        UserError: for a key that is not a setting of ``config_class`` (a file of another pipeline).
    """
    return replace(config_class(), **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def save(config: Any, path: pathlib.Path) -> None:
    path.write_text(json.dumps(to_dict(config), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load(config_class: type[ConfigT], path: pathlib.Path) -> ConfigT:
    """Reads a saved ``config.json`` back (see :func:`from_dict`)."""
    return from_dict(config_class, json.loads(pathlib.Path(path).read_text(encoding="utf-8")))


def fingerprint(config: Any, exclude: tuple[str, ...] = ()) -> str:
    """A short stable hash of the settings, used to find the backup of an interrupted run."""
    values = {k: v for k, v in to_dict(config).items() if k not in exclude}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]
