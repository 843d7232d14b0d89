"""Small versioned JSON documents of the user's (presets, MIDI mappings): read safely, write atomically.

A document is ``{"format": NAME, "format_version": N, ..., KEY: [entries]}``. Reading
never raises and never loses the user's work: a file that cannot be read (not JSON, no
entry list, written by a newer version) is moved aside as ``NAME.damaged`` with a log line
that says where it went, and the caller starts empty. Writing goes through
``write_atomically`` (temporary file, fsync, rename).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from distill.fileio import write_atomically

log = logging.getLogger(__name__)


def read_entries(path: str | Path, key: str, max_version: int, what: str) -> list[Any]:
    """The entry list under ``key`` of the document at ``path`` ([] when there is none).

    ``what`` names the document for the log ("presets file", "MIDI mappings").
    """
    path = Path(path)
    if not path.exists():
        return []
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or not isinstance(document.get(key), list):
            raise ValueError(f"no {key} list")
        version = document.get("format_version", max_version)
        if not isinstance(version, int) or version > max_version:
            raise ValueError(f"written by a newer distill (format {version})")
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        aside = path.with_name(path.name + ".damaged")
        try:
            path.replace(aside)
        except OSError:
            aside = path
        log.warning("%s %s cannot be read (%s); it was kept as %s and starts empty", what, path, exc, aside)
        return []
    return document[key]


def write_document(path: str | Path, document: dict[str, Any]) -> Path:
    """Write ``document`` as indented JSON, atomically (creating the folder)."""
    path = Path(path)
    text = json.dumps(document, indent=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, lambda f: f.write(text.encode("utf-8")))
