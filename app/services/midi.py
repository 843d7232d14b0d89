"""A MIDI input port (python-rtmidi) feeding a ``MidiMapper``.

rtmidi is imported lazily and every failure to load it or to reach a backend (no ALSA
sequencer, no JACK server, no CoreMIDI) becomes ``MidiUnavailableError`` with a sentence for the
user: the studio says so and runs without MIDI. Backends are tried in order (ALSA, then JACK
on Linux; the platform's own elsewhere); a JACK client never starts a server by itself.

Threads: ``ports``/``open``/``close`` on the GUI thread. rtmidi calls ``_on_message`` on its
own thread; it stamps the arrival with ``time.perf_counter()`` and hands the bytes to the
mapper, which only writes the inbox (never Qt, never the instrument).
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

from app.services.midi_map import MidiMapper

log = logging.getLogger(__name__)

#: Name of the studio's own port (other programs connect to it) and of its client.
VIRTUAL_PORT = "distill-studio"
#: Backends tried in order, by rtmidi API name.
BACKENDS = ("alsa", "jack") if sys.platform.startswith("linux") else ("unspecified",)


class MidiUnavailableError(RuntimeError):
    """No MIDI here (python-rtmidi missing, no backend reachable); the message says why."""


def _rtmidi() -> Any:
    try:
        import rtmidi
    except Exception as exc:  # a missing or broken binary must never stop the studio
        raise MidiUnavailableError(f"MIDI is off: python-rtmidi cannot be loaded ({exc})") from None
    return rtmidi


def _api(rtmidi: Any, name: str) -> int:
    return {"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK}.get(name, rtmidi.API_UNSPECIFIED)


class MidiInput:
    """One input client; at most one port open at a time (see the module docstring).

    Parameters
    ----------
    mapper
        Receives every message.
    backend
        ``"alsa"`` or ``"jack"`` to use only that one; None tries ``BACKENDS`` in order.
    """

    def __init__(self, mapper: MidiMapper, backend: str | None = None) -> None:
        self.mapper = mapper
        self.backends = (backend,) if backend else BACKENDS
        self._client: Any = None
        self.backend: str | None = None
        self.port_name: str | None = None

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        rtmidi = _rtmidi()
        reasons = []
        for name in self.backends:
            try:
                client = rtmidi.MidiIn(_api(rtmidi, name), name=VIRTUAL_PORT)
            except Exception as exc:  # rtmidi.SystemError and friends: this backend is not here
                reasons.append(f"{name}: {exc}")
                continue
            client.ignore_types(sysex=True, timing=True, active_sense=True)
            client.set_callback(self._on_message)
            self._client, self.backend = client, name
            log.info("MIDI: using the %s backend", name)
            return client
        raise MidiUnavailableError("MIDI is off: no MIDI system answered (" + "; ".join(reasons) + ")")

    @property
    def available(self) -> bool:
        """Whether a backend answers (connects on first use)."""
        try:
            self._connect()
        except MidiUnavailableError:
            return False
        return True

    def ports(self) -> list[str]:
        """Input ports other programs and devices offer (``MidiUnavailableError`` without MIDI)."""
        client = self._connect()
        try:
            return [p for p in client.get_ports() if VIRTUAL_PORT not in p]
        except Exception as exc:
            raise MidiUnavailableError(f"MIDI ports cannot be listed: {exc}") from None

    def open(self, port: str | None) -> None:
        """Listen to ``port`` (by name; a trailing ``client:port`` number may differ), or, with
        None, open the studio's own virtual port for other programs to connect to."""
        client = self._connect()
        self.close_port()
        try:
            if port is None:
                client.open_virtual_port(VIRTUAL_PORT)
                self.port_name = f"{VIRTUAL_PORT} (virtual)"
            else:
                names = client.get_ports()
                index = _find_port(names, port)
                if index is None:
                    raise MidiUnavailableError(f"MIDI port {port!r} is not there "
                                               f"(ports: {', '.join(names) or 'none'})")
                client.open_port(index, name=f"{VIRTUAL_PORT} in")
                self.port_name = names[index]
        except MidiUnavailableError:
            raise
        except Exception as exc:  # rtmidi.InvalidPortError; Windows has no virtual ports (rtmidi raises)
            raise MidiUnavailableError(f"MIDI port cannot be opened: {exc}") from None
        log.info("MIDI: listening to %s", self.port_name)

    def close_port(self) -> None:
        if self._client is not None and self._client.is_port_open():
            self._client.close_port()
        self.port_name = None

    def close(self) -> None:
        """Close the port and the client (the window closes)."""
        self.close_port()
        if self._client is not None:
            self._client.cancel_callback()
            self._client.delete()
            self._client = None

    def _on_message(self, event: tuple[list[int], float], _data: Any = None) -> None:
        stamp = time.perf_counter()  # the message's arrival: latency is measured from here
        try:
            self.mapper.handle_bytes(event[0], stamp)
        except Exception:  # never let one message end rtmidi's thread
            log.exception("MIDI message %r could not be handled", event)


def _find_port(names: list[str], wanted: str) -> int | None:
    if wanted in names:
        return names.index(wanted)
    bare = re.sub(r"\s+\d+:\d+$", "", wanted)
    for i, name in enumerate(names):
        if re.sub(r"\s+\d+:\d+$", "", name) == bare:
            return i
    return None
