"""Settings named by dotted keys: ``"epochs"``, ``"loss_weights.kl"``, ``"augmentation.enabled"``.

The studio remembers the settings a user changed as ``{key: value}``; the presets keep a
user's ``augmentation.<field>`` over their own augmentation. Both read and write a config
through these two functions, so a key means the same thing everywhere. Works on any
``ConfigBase`` dataclass (sections are nested configs); pure functions, any thread.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from distill.config_base import ConfigBase

C = TypeVar("C", bound=ConfigBase)


def config_value(config: ConfigBase, key: str) -> Any:
    """The value ``key`` names in ``config`` (``"section.field"`` reads a nested config).

    Raises
    ------
    KeyError
        ``key`` names no setting of ``config``.
    """
    value: Any = config
    for name in key.split("."):
        if not isinstance(value, ConfigBase) or name not in _field_names(value):
            raise KeyError(f"{type(config).__name__} has no setting {key!r}")
        value = getattr(value, name)
    return value


def config_with(config: C, values: Mapping[str, Any]) -> C:
    """``config`` with ``values`` set (keys: fields, or ``section.field`` of a nested config).

    Parameters
    ----------
    config
        The configuration to start from (unchanged: configs are frozen).
    values
        Dotted key -> value. A section's fields may be set one by one, the others keep
        their value in ``config``.

    Returns
    -------
    ConfigBase
        A new config of the same type.

    Raises
    ------
    KeyError
        A key names no setting.
    TypeError
        A value does not have the setting's type (a bool for a number, text for a flag...).
    """
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        section, _, name = key.partition(".")
        if name:
            nested.setdefault(section, {})[name] = value
        else:
            top[key] = value
    for section, changes in nested.items():
        inner = config_value(config, section)
        if not isinstance(inner, ConfigBase):
            raise KeyError(f"{type(config).__name__}.{section} has no settings {', '.join(changes)}")
        top[section] = config_with(inner, changes)
    _check(config, top)
    return config.replace(**top)


def dotted_keys(values: Mapping[str, Any]) -> set[str]:
    """The keys a nested ``{name: value or {field: value}}`` document (a configuration
    file's section) sets: ``{"epochs": 5, "augmentation": {"enabled": true}}`` ->
    ``{"epochs", "augmentation.enabled"}``."""
    keys: set[str] = set()
    for name, value in values.items():
        if isinstance(value, Mapping):
            keys.update(f"{name}.{field}" for field in value)
        else:
            keys.add(name)
    return keys


def _field_names(config: ConfigBase) -> set[str]:
    return {f.name for f in dataclasses.fields(config)}  # type: ignore[arg-type]


def _check(config: ConfigBase, changes: Mapping[str, Any]) -> None:
    """Refuse names ``config`` lacks and values of another type than the field's."""
    names = _field_names(config)
    hints = typing.get_type_hints(type(config))
    for name, value in changes.items():
        if name not in names:
            raise KeyError(f"{type(config).__name__} has no setting {name!r}")
        hint = hints.get(name)
        if not isinstance(hint, type):
            continue  # unions and generics: left to the config's own validation
        # bool is an int in Python, but a flag is not a count and a count is not a flag.
        wrong = (isinstance(value, bool) != (hint is bool)
                 or not isinstance(value, (int, float) if hint is float else hint))
        if wrong:
            raise TypeError(f"{type(config).__name__}.{name} takes {hint.__name__}, "
                            f"not {type(value).__name__} {value!r}")
