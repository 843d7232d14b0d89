"""The studio's remembered state (QSettings): geometry, recent items, last choices.

One object, created by the main window and handed to panels that need it. Tests give it
an explicit ini file so nothing leaks between them or into the user's settings.

The ini file is the user's to edit (and to damage): every value read is checked before a
widget sees it. A number Qt cannot take (beyond a C ``int``, NaN, infinity) anywhere in
a value drops the whole value, with a log line, so the caller falls back to its default
— ``setSizes([99999999999, -5])`` would raise ``OverflowError`` on every launch. Typed
readers (``int_value``, ``int_list``) also clamp to the caller's range.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

log = logging.getLogger(__name__)

ORGANIZATION = "distill"
APPLICATION = "distill-studio"
MAX_RECENT = 8
#: What the studio had open when it closed, reopened at the next start.
LAST_SESSION_KEY = "session/last"
SESSION_KINDS = ("dataset", "model")
#: The range of a C int: what Qt's int arguments (sizes, spin box values) accept.
QT_INT_MIN, QT_INT_MAX = -(2**31), 2**31 - 1


class AppSettings:
    """Typed access to QSettings. ``path`` = an ini file (tests); None = the user's settings."""

    def __init__(self, path: str | Path | None = None) -> None:
        if path is None:
            self._qs = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                                 ORGANIZATION, APPLICATION)
        else:
            self._qs = QSettings(str(path), QSettings.Format.IniFormat)

    # geometry -----------------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        value = self._qs.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self._qs.setValue("window/geometry", geometry)
        self._qs.setValue("window/state", state)

    # recent items -------------------------------------------------------------
    def recent(self, kind: str) -> list[str]:
        """Recent ``datasets`` or ``models``, newest first, only those that still exist."""
        items = self._list(f"recent/{kind}")
        return [p for p in items if Path(p).exists()]

    def add_recent(self, kind: str, path: str | Path) -> None:
        text = str(Path(path).resolve())
        items = [p for p in self._list(f"recent/{kind}") if p != text]
        self._qs.setValue(f"recent/{kind}", json.dumps([text, *items][:MAX_RECENT]))

    def clear_recent(self, kind: str) -> None:
        self._qs.remove(f"recent/{kind}")

    # last session ---------------------------------------------------------------
    def last_session(self) -> tuple[str, Path] | None:
        """``("dataset" | "model", path)`` in use when the studio last closed; None when
        nothing was (or the stored value is malformed). The path may no longer exist."""
        value = self.value(LAST_SESSION_KEY)
        if (isinstance(value, dict) and value.get("kind") in SESSION_KINDS
                and isinstance(value.get("path"), str) and value["path"].strip()):
            return value["kind"], Path(value["path"])
        if value is not None:
            log.warning("settings: ignoring %s = %.200r (expected a kind and a path)",
                        LAST_SESSION_KEY, value)
        return None

    def set_last_session(self, kind: str, path: str | Path) -> None:
        if kind not in SESSION_KINDS:
            raise ValueError(f"kind must be one of {SESSION_KINDS}, got {kind!r}")
        self.set_value(LAST_SESSION_KEY, {"kind": kind, "path": str(Path(path).resolve())})

    def clear_last_session(self) -> None:
        self._qs.remove(LAST_SESSION_KEY)

    # audio output ---------------------------------------------------------------
    def audio_device(self) -> str | None:
        """The chosen output device's name; None = the system default (or nothing valid stored)."""
        value = self.value("audio/output_device")
        return value.strip() if isinstance(value, str) and value.strip() else None

    def set_audio_device(self, name: str | None) -> None:
        if name:
            self.set_value("audio/output_device", name)
        else:
            self._qs.remove("audio/output_device")

    # plain values -------------------------------------------------------------
    def value(self, key: str, default: Any = None) -> Any:
        """The stored value, or ``default`` when there is none or it holds a number Qt
        cannot take (logged, never raised)."""
        try:
            raw = self._qs.value(key)
        except Exception as exc:  # a damaged ini entry must never stop the studio
            log.warning("settings: ignoring %s (unreadable: %s)", key, exc)
            return default
        if raw is None:
            return default
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except (json.JSONDecodeError, RecursionError):
            value = raw
        value = _qt_safe(value, key)
        return default if value is _DROPPED else value

    def int_value(self, key: str, default: int, low: int, high: int) -> int:
        """A whole number clamped to ``[low, high]``; ``default`` when missing or not a number."""
        value = self.value(key)
        if isinstance(value, bool) or not isinstance(value, int):
            if value is not None:
                log.warning("settings: ignoring %s = %.200r (not a whole number)", key, value)
            return default
        clamped = min(max(value, low), high)
        if clamped != value:
            log.warning("settings: %s = %d clamped to %d", key, value, clamped)
        return clamped

    def int_list(self, key: str, count: int, low: int, high: int) -> list[int] | None:
        """``count`` whole numbers, each clamped to ``[low, high]``; None when missing or malformed."""
        value = self.value(key)
        if value is None:
            return None
        if not (isinstance(value, list) and len(value) == count
                and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
            log.warning("settings: ignoring %s = %.200r (expected %d whole numbers)", key, value, count)
            return None
        return [min(max(v, low), high) for v in value]

    def set_value(self, key: str, value: Any) -> None:
        self._qs.setValue(key, json.dumps(value))

    def sync(self) -> None:
        self._qs.sync()

    def _list(self, key: str) -> list[str]:
        value = self.value(key, [])
        return [str(v) for v in value] if isinstance(value, list) else []


_DROPPED = object()


def _qt_safe(value: Any, key: str, depth: int = 0, quiet: bool = False) -> Any:
    """``value`` with what Qt cannot take removed: a map loses its bad entries, a list or
    a number that holds one becomes ``_DROPPED``. Numbers must fit a C int (floats: be
    finite and of a C int's magnitude). Each drop is logged."""
    ok = True
    if depth > 32:
        ok = False
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    elif isinstance(value, int):
        ok = QT_INT_MIN <= value <= QT_INT_MAX
    elif isinstance(value, float):
        ok = math.isfinite(value) and abs(value) <= QT_INT_MAX
    elif isinstance(value, list):
        ok = all(_qt_safe(v, key, depth + 1, quiet=True) is not _DROPPED for v in value)
    elif isinstance(value, dict):
        clean = {}
        for name, item in value.items():
            item = _qt_safe(item, f"{key}/{name}", depth + 1)
            if item is not _DROPPED:
                clean[name] = item
        return clean
    if not ok:
        if not quiet:
            log.warning("settings: ignoring %s = %.200r (a number out of range)", key, value)
        return _DROPPED
    return value
