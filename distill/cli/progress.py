"""A dependency-free text progress bar for the CLI (stderr, redrawn in place on a TTY)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressBar:
    """``update(done, total, text)`` draws ``[####....] 42% text ETA 01:23``.

    On a terminal the line is redrawn at most ``fps`` times a second; when output is
    not a terminal (logs, CI) a line is written only every ``log_interval`` seconds.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 28, fps: float = 10.0,
                 log_interval: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.min_interval = 1.0 / fps if self.tty else log_interval
        self.start = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def update(self, done: float, total: float, text: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.min_interval and done < total:
            return
        self._last = now
        frac = min(1.0, done / total) if total > 0 else 0.0
        filled = round(frac * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = now - self.start
        eta = f" ETA {format_duration(elapsed * (1 - frac) / frac)}" if 0 < frac < 1 else ""
        line = f"[{bar}] {100 * frac:3.0f}% {text}{eta}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._drawn = True

    def message(self, text: str) -> None:
        """Print a line without garbling the bar."""
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[2K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
        self._drawn = False
