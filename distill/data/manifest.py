"""The JSON manifest of one dataset folder in the cache: what each file was found to be.

It remembers, per relative path, the file's size, mtime and content hash (so unchanged
files are not re-hashed) and the outcome of decoding it (clip count, largest channel-0
value, or the reason it failed), so unchanged files are neither decoded again nor
re-read to compute normalisation statistics. A missing, damaged or foreign manifest is
simply ignored: everything in it can be recomputed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill.data.report import FileEntry
from distill.data.scan import KnownHashes
from distill.fileio import write_atomically

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "distill-dataset-manifest"
MANIFEST_VERSION = 1

_RECORD_FIELDS = ("size", "mtime_ns", "content_hash", "status", "reason", "duration",
                  "sample_rate", "channels", "clips", "max_magnitude")


@dataclass
class Manifest:
    """Records of one dataset folder, keyed by relative path (mutable; one thread only).

    A record with ``decoded: true`` holds the outcome of decoding the content named by
    its ``content_hash``; other records only remember the hash.
    """

    path: Path
    folder: Path
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, folder: Path) -> Manifest:
        """Read the manifest at ``path``; an unusable one gives an empty manifest."""
        manifest = cls(path, folder)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return manifest
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable cache manifest %s: %s", path, exc)
            return manifest
        if (not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT
                or data.get("version") != MANIFEST_VERSION or data.get("folder") != str(folder)
                or not isinstance(data.get("files"), dict)):
            log.warning("ignoring cache manifest %s written for another folder or version", path)
            return manifest
        manifest.records = {k: v for k, v in data["files"].items() if _valid_record(v)}
        return manifest

    def known_hashes(self) -> KnownHashes:
        """relpath -> (size, mtime_ns, hash) for ``scan_file``."""
        return {relpath: (r["size"], r["mtime_ns"], r["content_hash"])
                for relpath, r in self.records.items() if r.get("content_hash")}

    def decoded(self, entry: FileEntry) -> dict[str, Any] | None:
        """The decoding outcome recorded for ``entry``'s path and current content, if any."""
        record = self.records.get(entry.relpath)
        if record and record.get("decoded") and record.get("content_hash") == entry.content_hash:
            return record
        return None

    def record(self, entry: FileEntry, decoded: bool) -> None:
        """Remember ``entry``; ``decoded`` marks its status as the outcome of decoding."""
        record = {name: getattr(entry, name) for name in _RECORD_FIELDS}
        record["decoded"] = decoded
        self.records[entry.relpath] = record

    def keep_only(self, relpaths: set[str]) -> None:
        """Forget files that are gone from the folder."""
        self.records = {k: v for k, v in self.records.items() if k in relpaths}

    def save(self) -> None:
        """Write the manifest atomically (never leaves a half-written file)."""
        data = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "folder": str(self.folder),
                "files": self.records}
        text = json.dumps(data, indent=1, sort_keys=True).encode("utf-8")
        write_atomically(self.path, lambda f: f.write(text))


def _valid_record(record: Any) -> bool:
    return (isinstance(record, dict) and isinstance(record.get("size"), int)
            and isinstance(record.get("mtime_ns"), int)
            and isinstance(record.get("content_hash"), (str, type(None))))
