"""JSON round-trip for configuration dataclasses.

Every configuration in distill is a dataclass with defaults. ``ConfigBase`` gives it
``to_dict`` / ``from_dict`` / ``to_json`` / ``from_json``; nested dataclass fields and
tuples survive the round trip, unknown keys are refused with a message that names them.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import typing
from typing import Any, TypeVar

T = TypeVar("T", bound="ConfigBase")


class ConfigBase:
    """Mixin for configuration dataclasses (JSON-serialisable, validated on load)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, ConfigBase):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown setting(s) {', '.join(unknown)}")
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            hint = hints.get(name)
            if isinstance(hint, type) and issubclass(hint, ConfigBase):
                value = hint.from_dict(value)
            elif typing.get_origin(hint) is tuple and isinstance(value, list):
                value = tuple(value)
            kwargs[name] = value
        return cls(**kwargs)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        return cls.from_dict(json.loads(text))

    def replace(self: T, **changes: Any) -> T:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def check_range(owner: str, name: str, value: Any, low: float, high: float, *,
                integer: bool = False) -> None:
    """Refuse a numeric setting outside ``[low, high]`` (or of the wrong type).

    Every number a config takes has a sane upper bound as well as a lower one: a file or
    a settings store can hold anything, and a declared size drives memory (a
    ``latent_dim`` of 1e9 would ask for terabytes before any other check ran). Booleans
    and, for ``integer``, floats such as ``1e9`` are refused by type.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral if integer else numbers.Real):
        kind = "a whole number" if integer else "a number"
        raise ValueError(f"{owner}: {name} must be {kind}, got {value!r}")
    if not (low <= value <= high):  # also refuses NaN
        raise ValueError(f"{owner}: {name} must be in [{low:g}, {high:g}], got {value!r}")
