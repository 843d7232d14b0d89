"""MIDI messages -> instrument moves: mappings, MIDI learn, and their per-model file.

Qt-free. A ``MidiMapping`` ties one control of a controller (a 7-bit CC, a 14-bit CC pair
or the pitch bend of one channel) to a target (``app.services.control_map``), with the part
of the target's range the control sweeps (``low``/``high`` as fractions of the range; ``low >
high`` inverts). ``MidiMapper.handle`` turns a ``mido.Message`` into a value in the target's
units and puts it in the ``ControlInbox``:

- a CC number ``n < 32`` whose partner ``n + 32`` arrives on the same channel is a 14-bit
  pair: the mapping becomes ``cc14`` (MSB resets the LSB to 0, as the MIDI spec says; each
  half then moves the control with 16384 steps);
- pitch bend has 14 bits of its own;
- note-on starts playing with the velocity as gain, the last note-off stops (any channel);
- program change ``p`` recalls the ``p``-th preset (0-based, in the presets list's order).

Learn: ``learn(target)`` arms the mapper; the next CC or pitch bend becomes that target's
mapping (it replaces a mapping of the same control) and is not applied itself.

Threads: ``handle`` runs on the MIDI callback thread; ``learn``, edits and ``mappings`` on the
GUI thread. Mappings are an immutable tuple swapped under a lock; ``version`` changes with
every change so the GUI thread notices a learn that completed and saves the file.

``MidiMapStore`` keeps one model's mappings in ``user_data_dir("distill-studio")/midi/<model
key>.json`` (the key of ``distill.latent.presets.model_key``), written atomically; a damaged
file is moved aside as ``.damaged`` and the mappings start empty, as presets do.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mido
import platformdirs

from app.services.control_map import (
    MALFORMED,
    PRESET,
    TRANSPORT,
    UNAVAILABLE,
    UNMAPPED,
    ControlInbox,
    ProblemLog,
    TargetRanges,
    is_target,
)
from distill.json_store import read_entries, write_document
from distill.latent.presets import model_created, model_key

log = logging.getLogger(__name__)

KINDS = ("cc", "cc14", "pitchbend")
MIDI_MAP_FORMAT_VERSION = 1
#: Message types a controller sends that say nothing to the instrument (never counted).
IGNORED_TYPES = frozenset({"clock", "start", "stop", "continue", "active_sensing", "reset", "sysex",
                           "songpos", "song_select", "tune_request", "quarter_frame", "aftertouch",
                           "polytouch"})


def midi_dir() -> Path:
    """Where MIDI mapping files live: ``user_data_dir("distill-studio")/midi``."""
    return Path(platformdirs.user_data_dir("distill-studio")) / "midi"


@dataclass(frozen=True)
class MidiMapping:
    """One controller control -> one target (see the module docstring). ``channel`` is 0..15."""

    target: str
    kind: str
    channel: int
    number: int = 0  # CC number (the MSB's for cc14); 0 for pitch bend
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if not is_target(self.target):
            raise ValueError(f"unknown target {self.target!r}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}")
        if not (0 <= self.channel <= 15 and 0 <= self.number <= 127):
            raise ValueError(f"channel {self.channel} or number {self.number} out of range")
        if self.kind == "cc14" and self.number >= 32:
            raise ValueError(f"a 14-bit pair starts at CC 0..31, not {self.number}")
        if not all(isinstance(v, int | float) and 0.0 <= v <= 1.0 for v in (self.low, self.high)):
            raise ValueError(f"range {self.low!r}..{self.high!r} is not within 0..1")

    @property
    def control(self) -> tuple[str, int, int]:
        """The controller's control, whatever its resolution (cc and cc14 of one number are one)."""
        return ("bend" if self.kind == "pitchbend" else "cc", self.channel, self.number)

    def describe(self) -> str:
        """"CC 7", "CC 1+33 (14-bit)", "Pitch bend", with its channel (1-based, as devices show it)."""
        if self.kind == "pitchbend":
            return f"Pitch bend · ch {self.channel + 1}"
        if self.kind == "cc14":
            return f"CC {self.number}+{self.number + 32} (14-bit) · ch {self.channel + 1}"
        return f"CC {self.number} · ch {self.channel + 1}"

    def fraction(self, raw: float) -> float:
        """The control at ``raw`` (0..1 of its travel) -> 0..1 of the target's range."""
        return self.low + raw * (self.high - self.low)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> MidiMapping:
        if not isinstance(data, dict):
            raise ValueError("not an object")
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


class MidiMapper:
    """Routes MIDI messages into the inbox and learns mappings (see the module docstring)."""

    def __init__(self, inbox: ControlInbox, problems: ProblemLog) -> None:
        self.inbox = inbox
        self.problems = problems
        self.ranges = TargetRanges()  # replaced (never mutated) by the GUI thread
        self._lock = threading.Lock()
        self._mappings: tuple[MidiMapping, ...] = ()
        self._learning: str | None = None
        self._msb: dict[tuple[int, int], int] = {}  # (channel, cc) -> last MSB, MIDI thread only
        self._held: set[tuple[int, int]] = set()  # notes down, MIDI thread only
        self.version = 0

    # ------------------------------------------------------------------ GUI thread
    @property
    def mappings(self) -> tuple[MidiMapping, ...]:
        return self._mappings

    @property
    def learning(self) -> str | None:
        return self._learning

    def set_mappings(self, mappings: Sequence[MidiMapping]) -> None:
        with self._lock:
            self._mappings = tuple(mappings)
            self.version += 1

    def learn(self, target: str | None) -> None:
        """Arm learning for ``target`` (None cancels)."""
        with self._lock:
            self._learning = target
            self.version += 1

    def remove(self, index: int) -> None:
        with self._lock:
            self._mappings = self._mappings[:index] + self._mappings[index + 1:]
            self.version += 1

    def replace(self, index: int, mapping: MidiMapping) -> None:
        """Put ``mapping`` at ``index`` (an edited range or target)."""
        with self._lock:
            self._mappings = (*self._mappings[:index], mapping, *self._mappings[index + 1:])
            self.version += 1

    # ------------------------------------------------------------------ MIDI thread
    def handle_bytes(self, data: Sequence[int], stamp: float) -> None:
        """One raw message from the port (rtmidi's callback)."""
        try:
            message = mido.Message.from_bytes(list(data))
        except (ValueError, TypeError, IndexError) as exc:
            self.problems.report("midi", MALFORMED, f"{list(data)[:8]}: {exc}")
            return
        self.handle(message, stamp)

    def handle(self, message: mido.Message, stamp: float) -> None:
        """One message (``stamp``: ``time.perf_counter()`` when it arrived)."""
        kind = message.type
        if kind == "note_on" and message.velocity > 0:
            self._held.add((message.channel, message.note))
            self.inbox.put(TRANSPORT, ("play", message.velocity / 127), stamp, "midi")
        elif kind in ("note_on", "note_off"):
            self._held.discard((message.channel, message.note))
            if not self._held:
                self.inbox.put(TRANSPORT, ("stop",), stamp, "midi")
        elif kind == "program_change":
            self.inbox.put(PRESET, message.program, stamp, "midi")
        elif kind == "control_change":
            self._control_change(message.channel, message.control, message.value, stamp)
        elif kind == "pitchwheel":
            raw = (message.pitch + 8192) / 16383
            if not self._learnt("pitchbend", message.channel):
                self._apply(("bend", message.channel, 0), raw, stamp, message)
        elif kind not in IGNORED_TYPES:
            self.problems.report("midi", UNMAPPED, str(message))

    def _control_change(self, channel: int, number: int, value: int, stamp: float) -> None:
        if 32 <= number < 64 and self._upgrade_pair(channel, number - 32):
            msb = self._msb.get((channel, number - 32), 0)
            self._apply(("cc", channel, number - 32), ((msb << 7) | value) / 16383, stamp,
                        f"CC {number} = {value} · ch {channel + 1}", lsb=True)
            return
        if self._learnt("cc", channel, number):
            return
        self._msb[(channel, number)] = value
        self._apply(("cc", channel, number), value / 127, stamp, f"CC {number} = {value} · ch {channel + 1}")

    def _upgrade_pair(self, channel: int, msb_number: int) -> bool:
        """Whether CC ``msb_number`` of ``channel`` is mapped; a 7-bit mapping becomes 14-bit."""
        with self._lock:
            for i, m in enumerate(self._mappings):
                if m.control == ("cc", channel, msb_number):
                    if m.kind == "cc":
                        pair = dataclasses.replace(m, kind="cc14")
                        self._mappings = (*self._mappings[:i], pair, *self._mappings[i + 1:])
                        self.version += 1
                        log.info("MIDI: CC %d/%d on channel %d form a 14-bit pair", msb_number,
                                 msb_number + 32, channel + 1)
                    return True
        return False

    def _learnt(self, kind: str, channel: int, number: int = 0) -> bool:
        """When learning, map this control to the armed target and swallow the message."""
        with self._lock:
            if self._learning is None:
                return False
            mapping = MidiMapping(self._learning, kind, channel, number)
            kept = tuple(m for m in self._mappings if m.control != mapping.control)
            self._mappings = (*kept, mapping)
            self._learning = None
            self.version += 1
        log.info("MIDI learn: %s -> %s", mapping.describe(), mapping.target)
        return True

    def _apply(self, control: tuple[str, int, int], raw: float, stamp: float, what: Any,
               lsb: bool = False) -> None:
        mappings = [m for m in self._mappings if m.control == control]
        if not mappings:
            self.problems.report("midi", UNMAPPED, str(what))
            return
        ranges = self.ranges
        for m in mappings:
            if m.kind == "cc14" and not lsb and control[0] == "cc":
                raw = (self._msb.get(control[1:], 0) << 7) / 16383  # MSB alone: LSB reset to 0
            span = ranges.range(m.target)
            if span is None:
                self.problems.report("midi", UNAVAILABLE, f"{m.describe()} -> {m.target}: this model "
                                     "has no such control")
                continue
            low, high = span
            self.inbox.put(m.target, low + m.fraction(raw) * (high - low), stamp, "midi")


class MidiMapStore:
    """One model's mappings on disk (GUI thread). ``load`` never raises; ``save`` is atomic."""

    def __init__(self, path: Path, model: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.model = model or {}
        self._foreign: list[Any] = []  # entries kept in the file but not usable here

    @classmethod
    def for_model(cls, model_path: str | Path, latent_dim: int, *, created: str | None = None,
                  folder: str | Path | None = None) -> MidiMapStore:
        """The store of model file ``model_path``, keyed as its presets are."""
        model_path = Path(model_path)
        if created is None:
            created = model_created(model_path)
        key = model_key(created, latent_dim, fallback=str(model_path.resolve()))
        return cls(Path(folder or midi_dir()) / f"{key}.json",
                   {"name": model_path.stem, "key": key, "path": str(model_path), "latent_dim": latent_dim})

    def load(self) -> list[MidiMapping]:
        self._foreign = []
        mappings: list[MidiMapping] = []
        for entry in read_entries(self.path, "mappings", MIDI_MAP_FORMAT_VERSION, "MIDI mappings"):
            try:
                mappings.append(MidiMapping.from_json(entry))
            except (TypeError, ValueError) as exc:
                log.warning("MIDI mapping %.100r in %s skipped: %s", entry, self.path, exc)
                self._foreign.append(entry)
        return mappings

    def save(self, mappings: Sequence[MidiMapping]) -> None:
        document = {"format": "distill-midi-map", "format_version": MIDI_MAP_FORMAT_VERSION,
                    "model": self.model, "mappings": [m.to_json() for m in mappings] + self._foreign}
        write_document(self.path, document)
