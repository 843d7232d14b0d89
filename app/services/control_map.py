"""What MIDI and OSC may move, and the thread-safe hand-over from their threads to the GUI.

Qt-free. A *target* names one control of the instrument:

- ``"axis:<i>"`` — slider ``i`` (0-based here; people see 1-based numbers and labels);
- ``"xy:x"``, ``"xy:y"`` — the XY pad's axes (the first two sliders, moved as the pad does);
- ``"morph"`` — the A<->B morph, 0..1;
- ``"volume"`` — the output gain, 0..1.

``TargetRanges`` is an immutable snapshot of what the open model offers (axis labels, each
target's range in its own units — for a slider, the travel of the slider itself — the latent
size and the preset names), built on the GUI thread and read by the receiving threads.

The MIDI callback thread and the OSC server thread never touch Qt or the instrument: they put
the newest value per slot into a ``ControlInbox`` (a dict under a lock held for microseconds),
stamped with ``time.perf_counter()`` when the message arrived. A GUI-thread timer drains it at
the render rate and applies the moves through ``InstrumentController``, the mouse's path, so a
flood of messages collapses to the newest value per slot. Besides the targets, the inbox holds
action slots: ``TRANSPORT`` (``("play", gain)`` or ``("stop",)``), ``PRESET`` (a name or a
program number) and ``LATENT`` (a full latent vector).

``ProblemLog`` counts what was refused or corrected (unknown address, wrong type, NaN, out of
range, floods) by reason, and keeps the last ``LOG_SIZE`` problems for the log view. Any
thread may report; bad input never raises out of a receiving thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distill.latent.space import POSITION_LIMITS, LatentSpace

AXIS_PREFIX = "axis:"
XY_TARGETS = ("xy:x", "xy:y")
MORPH = "morph"
VOLUME = "volume"
#: Action slots of the inbox (not mappable to a MIDI control).
TRANSPORT, PRESET, LATENT = "transport", "preset", "latent"
#: Problems kept for the log view.
LOG_SIZE = 200

#: Reasons a message is refused or corrected (the counters' keys, in display order).
UNKNOWN = "unknown address"
WRONG_TYPE = "wrong type"
NOT_A_NUMBER = "NaN or infinite"
OUT_OF_RANGE = "out of range"
UNAVAILABLE = "not available now"
MALFORMED = "malformed"
UNMAPPED = "unmapped MIDI"
FLOOD = "superseded (flood)"
REASONS = (UNKNOWN, WRONG_TYPE, NOT_A_NUMBER, OUT_OF_RANGE, UNAVAILABLE, MALFORMED, UNMAPPED, FLOOD)


def axis_target(index: int) -> str:
    return f"{AXIS_PREFIX}{index}"


def axis_of(target: str) -> int | None:
    """The 0-based axis of an ``"axis:<i>"`` target, else None."""
    if target.startswith(AXIS_PREFIX) and target[len(AXIS_PREFIX):].isdigit():
        return int(target[len(AXIS_PREFIX):])
    return None


def is_target(target: Any) -> bool:
    """Whether ``target`` is spelled like a target (whatever the open model offers)."""
    return isinstance(target, str) and (target in (*XY_TARGETS, MORPH, VOLUME) or axis_of(target) is not None)


@dataclass(frozen=True)
class TargetRanges:
    """What the open model offers (see the module docstring); immutable, any thread may read it.

    ``low``/``high`` are the slider limits in axis values (``POSITION_LIMITS`` of the data's
    range), the units ``/distill/axis/<n>`` takes.
    """

    labels: tuple[str, ...] = ()
    features: tuple[str | None, ...] = ()
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()
    latent_dim: int = 0
    presets: tuple[str, ...] = ()

    @classmethod
    def from_space(cls, space: LatentSpace | None, latent_dim: int,
                   presets: Sequence[str] = ()) -> TargetRanges:
        if space is None:
            return cls(latent_dim=latent_dim, presets=tuple(presets))
        p0, p1 = POSITION_LIMITS
        lows = [a.low + p0 * (a.high - a.low) for a in space.axes]
        highs = [a.low + p1 * (a.high - a.low) for a in space.axes]
        return cls(labels=space.labels, features=tuple(a.feature for a in space.axes),
                   low=tuple(float(v) for v in lows), high=tuple(float(v) for v in highs),
                   latent_dim=latent_dim, presets=tuple(presets))

    @property
    def num_axes(self) -> int:
        return len(self.labels)

    def targets(self) -> tuple[str, ...]:
        """Every target this model offers, in display order."""
        xy = XY_TARGETS[:min(2, self.num_axes)]
        return (*(axis_target(i) for i in range(self.num_axes)), *xy, MORPH, VOLUME)

    def range(self, target: str) -> tuple[float, float] | None:
        """``(low, high)`` of ``target`` in its units; None when this model has no such control."""
        if target in (MORPH, VOLUME):
            return 0.0, 1.0
        index = XY_TARGETS.index(target) if target in XY_TARGETS else axis_of(target)
        if index is None or index >= self.num_axes:
            return None
        return self.low[index], self.high[index]

    def axis_index(self, name: str) -> int | None:
        """Axis by 1-based number, label or feature key (case-insensitive; ``_`` for a space).

        The same names ``LatentSpace.axis_index`` accepts, without needing the space here.
        """
        key = name.strip().replace("_", " ").casefold()
        if key.isdigit():
            number = int(key)
            return number - 1 if 1 <= number <= self.num_axes else None
        for names in (self.labels, self.features):
            for i, label in enumerate(names):
                if label is not None and label.replace("_", " ").casefold() == key:
                    return i
        return None

    def name(self, target: str) -> str:
        """How people see ``target``: "Axis 3 · Brightness", "XY pad X (Brightness)", "Morph"."""
        index = XY_TARGETS.index(target) if target in XY_TARGETS else axis_of(target)
        label = self.labels[index] if index is not None and index < self.num_axes else "?"
        if target in XY_TARGETS:
            return f"XY pad {target[-1].upper()} ({label})"
        if index is not None:
            return f"Axis {index + 1} · {label}"
        return target.capitalize()


@dataclass(frozen=True)
class Move:
    """The newest value of one slot, with the arrival stamp of the message that carried it."""

    value: Any
    stamp: float
    source: str  # "midi" or "osc"


class ControlInbox:
    """Newest value per slot: receiving threads ``put``, the GUI thread ``drain``s.

    The lock is held only to swap a dict entry, never while anything slow runs.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, Move] = {}
        self.superseded = 0  # values replaced before they were applied (a flood's excess)
        self.received = 0

    def put(self, slot: str, value: Any, stamp: float, source: str) -> None:
        move = Move(value, stamp, source)
        with self._lock:
            self.received += 1
            if slot in self._slots:
                self.superseded += 1
            self._slots[slot] = move

    def skip(self, count: int) -> None:
        """Count ``count`` messages superseded before they were even parsed (a reader's batch)."""
        with self._lock:
            self.received += count
            self.superseded += count

    def drain(self) -> dict[str, Move]:
        """Every slot that changed since the last drain (GUI thread)."""
        with self._lock:
            slots, self._slots = self._slots, {}
        return slots

    def clear(self) -> None:
        with self._lock:
            self._slots = {}


@dataclass(frozen=True)
class Problem:
    """One refused or corrected message."""

    when: float  # time.time()
    source: str  # "osc", "midi"
    reason: str  # one of REASONS
    detail: str

    def text(self) -> str:
        return f"{time.strftime('%H:%M:%S', time.localtime(self.when))}  {self.source}  {self.reason}: " \
               f"{self.detail}"


class ProblemLog:
    """Counters by reason and the last ``LOG_SIZE`` problems; any thread may report."""

    def __init__(self, size: int = LOG_SIZE) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._entries: deque[Problem] = deque(maxlen=size)
        self.version = 0  # changes on every report: the view refreshes only when it moved

    def report(self, source: str, reason: str, detail: str, count: int = 1, keep: bool = True) -> None:
        """Count ``count`` problems of ``reason``; ``keep`` adds a log entry (``detail`` is cut short)."""
        with self._lock:
            self._counts[reason] += count
            if keep:
                self._entries.append(Problem(time.time(), source, reason, detail[:200]))
            self.version += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {reason: self._counts[reason] for reason in REASONS if self._counts[reason]}

    def entries(self) -> list[Problem]:
        with self._lock:
            return list(self._entries)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
            self._entries.clear()
            self.version += 1


def checked_number(value: Any, low: float, high: float, problems: ProblemLog, source: str,
                   what: str) -> float | None:
    """``value`` as a float within ``[low, high]``; None (and counted) when it is not a number.

    Out-of-range numbers are clamped and counted: the control goes to its end and plays on.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.report(source, WRONG_TYPE, f"{what}: expected a number, got {type(value).__name__} "
                        f"{value!r:.40}")
        return None
    number = float(value)
    if not math.isfinite(number):
        problems.report(source, NOT_A_NUMBER, f"{what}: {number}")
        return None
    slack = 1e-6 * max(1.0, high - low)  # OSC floats are 32-bit: an exact end may round past it
    if not low - slack <= number <= high + slack:
        clamped = min(high, max(low, number))
        problems.report(source, OUT_OF_RANGE, f"{what}: {number:g} is outside {low:g}..{high:g}; "
                        f"used {clamped:g}")
        return clamped
    return min(high, max(low, number))
