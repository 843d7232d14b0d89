"""The studio's remembered state (QSettings): geometry, recent items, last choices.

One object, created by the main window and handed to panels that need it. Tests give it
an explicit ini file so nothing leaks between them or into the user's settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "distill"
APPLICATION = "distill-studio"
MAX_RECENT = 8


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

    # plain values -------------------------------------------------------------
    def value(self, key: str, default: Any = None) -> Any:
        raw = self._qs.value(key)
        if raw is None:
            return default
        try:
            return json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            return raw

    def set_value(self, key: str, value: Any) -> None:
        self._qs.setValue(key, json.dumps(value))

    def sync(self) -> None:
        self._qs.sync()

    def _list(self, key: str) -> list[str]:
        value = self.value(key, [])
        return [str(v) for v in value] if isinstance(value, list) else []
