"""Presets: named points of one model's latent space, kept in one JSON file per model.

A preset stores the full latent vector (so it recalls exactly, whatever the sliders can
express) with the slider values it had (for people reading the file), the playing mode,
and the two morph ends when it was saved from a morph. The file lives in
``user_data_dir("distill-studio")/presets`` and is named after the model it belongs to:
the model file's stem plus a short hash of its identity (its creation stamp and latent
size), so a model that is moved or renamed keeps its presets, and two models with the same
file name never share them. The file also records the model's path and name.

Every write is atomic (temporary file, fsync, rename). A damaged file is never
overwritten: it is moved aside as ``NAME.json.damaged`` and the store starts empty, with
a log line that says where the old file went. Entries that do not fit the model (another
latent size, non-finite numbers) are skipped with a log line and kept in the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from distill.errors import DistillError
from distill.json_store import read_entries, write_document
from distill.models.persistence import DOCUMENT_KEY
from distill.models.safetensors_io import read_tensor_header

log = logging.getLogger(__name__)

#: Version of the presets file this code writes and reads.
PRESETS_FORMAT_VERSION = 1
#: Longest preset name accepted.
MAX_NAME_LENGTH = 80
MODES = ("stream", "loop")


class PresetError(DistillError):
    """A preset operation that cannot be done (empty or duplicate name, unknown preset)."""


def presets_dir() -> Path:
    """Where preset files live: ``user_data_dir("distill-studio")/presets``."""
    return Path(platformdirs.user_data_dir("distill-studio")) / "presets"


@dataclass(frozen=True)
class Preset:
    """One named point: ``latent`` [D], the slider ``controls`` [K] it showed, and how it played."""

    name: str
    latent: tuple[float, ...]
    controls: tuple[float, ...] = ()
    mode: str = "stream"
    morph: tuple[tuple[float, ...], tuple[float, ...], float] | None = None
    created: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "latent": list(self.latent),
                               "controls": list(self.controls), "mode": self.mode,
                               "created": self.created}
        if self.morph is not None:
            a, b, t = self.morph
            out["morph"] = {"a": list(a), "b": list(b), "position": t}
        return out

    @classmethod
    def from_json(cls, data: Any, latent_dim: int) -> Preset:
        """Parse one entry; ``ValueError`` says why it does not fit a ``latent_dim`` model."""
        if not isinstance(data, dict):
            raise ValueError("not an object")
        name = _clean_name(data.get("name"))
        latent = _vector(data.get("latent"), latent_dim, "latent")
        controls = tuple(float(v) for v in data.get("controls") or () if _finite(v))
        mode = data.get("mode", "stream")
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        morph = None
        if isinstance(data.get("morph"), dict):
            m = data["morph"]
            t = float(m.get("position", 0.0))
            if not 0.0 <= t <= 1.0:
                raise ValueError(f"morph position {t} is outside 0..1")
            morph = (_vector(m.get("a"), latent_dim, "morph A"),
                     _vector(m.get("b"), latent_dim, "morph B"), t)
        return cls(name=name, latent=latent, controls=controls, mode=mode, morph=morph,
                   created=str(data.get("created", "")))


def model_key(created: str, latent_dim: int, fallback: str = "") -> str:
    """Short stable identity of a model: hash of its creation stamp and latent size.

    ``fallback`` (e.g. the resolved path) is used when the file has no creation stamp.
    """
    basis = f"{created}|{latent_dim}" if created else f"path:{fallback}|{latent_dim}"
    return hashlib.sha1(basis.encode()).hexdigest()[:10]


def model_created(path: str | Path) -> str:
    """The creation stamp a model file records, from its header alone ("" when it has none)."""
    try:
        document = json.loads(read_tensor_header(path).metadata.get(DOCUMENT_KEY, "{}"))
    except (DistillError, ValueError) as exc:
        log.warning("cannot read the creation stamp of %s (%s); its presets are keyed by its path",
                    path, exc)
        return ""
    return str(document.get("created", "")) if isinstance(document, dict) else ""


class PresetStore:
    """The presets of one model (not thread-safe: one owner, e.g. the GUI thread).

    Parameters
    ----------
    model_name
        Shown in the file and used in its name (the model file's stem).
    key
        ``model_key(...)`` of the model.
    latent_dim
        Latent size; entries of another size are skipped.
    model_path
        Recorded in the file for people (not used to find it).
    folder
        Where the file lives (default ``presets_dir()``).
    """

    def __init__(self, model_name: str, key: str, latent_dim: int, *, model_path: str | Path | None = None,
                 folder: str | Path | None = None) -> None:
        self.model_name = model_name
        self.key = key
        self.latent_dim = latent_dim
        self.model_path = None if model_path is None else str(model_path)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", model_name).strip("._") or "model"
        self.path = Path(folder or presets_dir()) / f"{stem[:40]}-{key}.json"
        self._presets: list[Preset] = []
        self._foreign: list[Any] = []  # entries kept in the file but not usable here
        self._load()

    @classmethod
    def for_model(cls, path: str | Path, latent_dim: int, *, created: str | None = None,
                  folder: str | Path | None = None) -> PresetStore:
        """The store of the model file ``path``: named after its stem, keyed by its identity.

        ``created`` is the file's creation stamp (``LoadedModel.created``); None reads it
        from the file's header (no weights are read). A file without one is keyed by its
        resolved path instead.
        """
        path = Path(path)
        if created is None:
            created = model_created(path)
        return cls(path.stem, model_key(created, latent_dim, fallback=str(path.resolve())), latent_dim,
                   model_path=path, folder=folder)

    # ------------------------------------------------------------------ reading
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self._presets)

    def __len__(self) -> int:
        return len(self._presets)

    def __iter__(self):
        return iter(tuple(self._presets))

    def get(self, name: str) -> Preset:
        for preset in self._presets:
            if preset.name == name:
                return preset
        raise PresetError(f"there is no preset called {name!r}")

    # ------------------------------------------------------------------ changes (each one saved)
    def save(self, name: str, latent: Sequence[float], *, controls: Sequence[float] = (),
             mode: str = "stream", morph: tuple[Sequence[float], Sequence[float], float] | None = None,
             overwrite: bool = False) -> Preset:
        """Store the point as ``name``; an existing name is an error unless ``overwrite``."""
        name = _clean_name(name)
        if mode not in MODES:
            raise PresetError(f"unknown mode {mode!r} (use {' or '.join(MODES)})")
        exists = name in self.names
        if exists and not overwrite:
            raise PresetError(f"a preset called {name!r} exists already")
        try:
            vector = _vector(latent, self.latent_dim, "latent")
            morph_t = None if morph is None else (
                _vector(morph[0], self.latent_dim, "morph A"), _vector(morph[1], self.latent_dim, "morph B"),
                float(min(1.0, max(0.0, morph[2]))))
        except ValueError as exc:
            raise PresetError(f"cannot save preset {name!r}: {exc}") from None
        preset = Preset(name=name, latent=vector, controls=tuple(float(c) for c in controls), mode=mode,
                        morph=morph_t, created=time.strftime("%Y-%m-%dT%H:%M:%S"))
        if exists:
            self._presets = [preset if p.name == name else p for p in self._presets]
        else:
            self._presets.append(preset)
        self._write()
        return preset

    def rename(self, old: str, new: str) -> Preset:
        new = _clean_name(new)
        preset = self.get(old)
        if new != old and new in self.names:
            raise PresetError(f"a preset called {new!r} exists already")
        renamed = Preset(new, preset.latent, preset.controls, preset.mode, preset.morph, preset.created)
        self._presets = [renamed if p.name == old else p for p in self._presets]
        self._write()
        return renamed

    def delete(self, name: str) -> None:
        self.get(name)
        self._presets = [p for p in self._presets if p.name != name]
        self._write()

    # ------------------------------------------------------------------ the file
    def _load(self) -> None:
        for entry in read_entries(self.path, "presets", PRESETS_FORMAT_VERSION, "presets file"):
            try:
                preset = Preset.from_json(entry, self.latent_dim)
            except (TypeError, ValueError) as exc:
                log.warning("preset %r in %s skipped: %s", entry.get("name") if isinstance(entry, dict)
                            else entry, self.path, exc)
                self._foreign.append(entry)
                continue
            if preset.name in self.names:
                log.warning("preset %r in %s appears twice; the first is kept", preset.name, self.path)
                continue
            self._presets.append(preset)

    def _write(self) -> None:
        document = {"format": "distill-presets", "format_version": PRESETS_FORMAT_VERSION,
                    "model": {"name": self.model_name, "key": self.key, "path": self.model_path,
                              "latent_dim": self.latent_dim},
                    "presets": [p.to_json() for p in self._presets] + self._foreign}
        write_document(self.path, document)


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise PresetError("a preset needs a name")
    name = " ".join(name.split())
    if len(name) > MAX_NAME_LENGTH:
        raise PresetError(f"a preset name has at most {MAX_NAME_LENGTH} characters")
    return name


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _vector(values: Any, size: int, what: str) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{what} is not a list of numbers") from None
    if len(out) != size:
        raise ValueError(f"{what} has {len(out)} values, the model's latent has {size}")
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{what} holds NaN or infinite values")
    return out
