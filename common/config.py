"""Typed configs with named presets, command-line overrides and saved resolved copies.

Every setting of a pipeline is one field of its config dataclass. A pipeline registers its
presets (``default`` and ``tiny`` at least); the command line picks a preset and overrides
single fields (``--epochs 3``, ``--set filters=16,32``). Unknown keys are rejected loudly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import typing
from typing import Any, TypeVar

from common.errors import UserError

ConfigT = TypeVar("ConfigT")


def field_names(config_class: type) -> list[str]:
    return [field.name for field in dataclasses.fields(config_class)]


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


def apply_overrides(config: ConfigT, overrides: dict[str, str]) -> ConfigT:
    """Returns ``config`` with string overrides parsed into each field's type.

    Raises:
        UserError: for a key that is not a field of the config.
    """
    hints = typing.get_type_hints(type(config))
    known = set(field_names(type(config)))
    changes = {}
    for key, text in overrides.items():
        key = key.replace("-", "_")
        if key not in known:
            raise UserError(
                f"unknown config key '{key}' for {type(config).__name__}; valid keys: {', '.join(sorted(known))}"
            )
        changes[key] = parse_value(text, hints[key], key)
    return dataclasses.replace(config, **changes)


def resolve(presets: dict[str, ConfigT], preset: str, overrides: dict[str, str]) -> ConfigT:
    if preset not in presets:
        raise UserError(f"unknown preset '{preset}'; choose one of: {', '.join(presets)}")
    config = apply_overrides(presets[preset], overrides)
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate()
    return config


def to_dict(config: Any) -> dict[str, Any]:
    return {key: list(v) if isinstance(v, tuple) else v for key, v in dataclasses.asdict(config).items()}


def save(config: Any, path: pathlib.Path) -> None:
    path.write_text(json.dumps(to_dict(config), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def from_dict(config_class: type[ConfigT], values: dict[str, Any]) -> ConfigT:
    """The config a run saved (``config.json``: lists where the fields are tuples) as its dataclass again.

    Raises:
        UserError: for a key that is not a field of ``config_class`` (a file of another pipeline).
    """
    known = set(field_names(config_class))
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(f"unknown config key(s) {', '.join(unknown)} for {config_class.__name__}")
    return config_class(**{key: tuple(v) if isinstance(v, list) else v for key, v in values.items()})


def load(config_class: type[ConfigT], path: pathlib.Path) -> ConfigT:
    """Reads a saved ``config.json`` back (see :func:`from_dict`)."""
    return from_dict(config_class, json.loads(pathlib.Path(path).read_text(encoding="utf-8")))


def fingerprint(config: Any, exclude: tuple[str, ...] = ()) -> str:
    """A short stable hash of the config, used to find the backup of an interrupted run."""
    values = {k: v for k, v in to_dict(config).items() if k not in exclude}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


def group_pattern_field() -> Any:
    """The ``group_pattern`` setting shared by the folder sources (see ``pipelines.datasets.groups``)."""
    return dataclasses.field(
        default="",
        metadata={"help": "folders: regex whose first capture group, searched in a file name, is its group"},
    )


def split_files_field() -> Any:
    """The ``split_files`` setting shared by the folder sources (see ``pipelines.datasets.groups``)."""
    return dataclasses.field(
        default="", metadata={"help": "folders: TRAIN.txt,TEST.txt in UCF101's trainlist/testlist format"}
    )
