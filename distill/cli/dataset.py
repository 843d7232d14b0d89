"""``distill dataset FOLDER``: scan a folder of sounds, build its cache, print the report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from distill.cli.progress import ProgressBar
from distill.data import DatasetEvent, FileEntry, FileProcessed, FileSkipped, ScanReport, build_cache
from distill.data.report import clock


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "dataset", help="check a folder of sounds and prepare it for training",
        description="Scan FOLDER recursively, cache the 2-channel spectrogram clips of every "
                    "usable file (only new or changed files are processed) and report each "
                    "file: usable, or skipped and why.")
    parser.add_argument("folder", type=Path, help="folder of audio files")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="cache folder (default: the user cache folder of distill-studio)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    bar = ProgressBar()

    def on_event(event: DatasetEvent) -> None:
        if isinstance(event, (FileProcessed, FileSkipped)):
            bar.update(event.index + 1, event.total, event.entry.relpath)

    try:
        cache = build_cache(args.folder, cache_dir=args.cache_dir, on_event=on_event)
    finally:
        bar.close()
    report = cache.report
    if args.json:
        print(json.dumps({**report.to_dict(), "cache_dir": str(cache.directory)}, indent=2))
    else:
        print(format_table(report))
        print(f"{report.summary.describe()}; cache: {cache.directory}")
    return 0


def format_table(report: ScanReport) -> str:
    """One line per file: name, duration, sample rate, channels, clips, status or reason."""
    header = ("file", "duration", "rate", "ch", "clips", "status")
    rows = [header] + [_row(e) for e in report.entries]
    # Every column but the last (free text) is padded; numbers are right-aligned.
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in range(1, len(widths))]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def _row(entry: FileEntry) -> tuple[str, ...]:
    duration = "" if entry.duration is None else clock(entry.duration, decimals=2)
    rate = "" if entry.sample_rate is None else f"{entry.sample_rate} Hz"
    channels = "" if entry.channels is None else str(entry.channels)
    clips = str(entry.clips) if entry.ok else ""
    note = f" ({entry.note})" if entry.note else ""
    status = f"ok{note}" if entry.ok else f"skipped: {entry.reason}"
    return entry.relpath, duration, rate, channels, clips, status
