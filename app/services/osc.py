"""OSC in and out: the ``/distill/...`` address space, a UDP server thread, and a sender.

Qt-free. ``OscControl.handle`` validates one message and puts its value in the
``ControlInbox`` (see ``app.services.control_map``); everything it refuses or corrects is
counted in the ``ProblemLog``, never raised. Addresses (numbers may be int or float):

==================================  ===========================================================
``/distill/axis/<n>  value``        slider ``n`` (1-based number, label or feature key), in the
                                    slider's units; ``/distill/axis/<n>/norm  0..1`` its travel
``/distill/xy  x y``                the XY pad (the first two axes' units); ``/distill/xy/norm``
``/distill/morph  t``               the A<->B morph, 0..1 (both ends must be set)
``/distill/volume  gain``           output gain, 0..1
``/distill/play  [gain]``           start playing (optional gain 0..1)
``/distill/stop``                   stop
``/distill/preset/<name>``          recall a preset (also ``/distill/preset  name|index``)
``/distill/latent  z1 ... zD``      go to a full latent vector (D = the model's latent size)
==================================  ===========================================================

Out-of-range numbers are clamped to the control's end and counted; NaN, wrong types, wrong
argument counts and unknown addresses are counted and dropped.

``OscServer`` reads the socket on one thread of its own (one thread for all messages: a
thread per message would melt under a flood), collapses a burst to the newest datagram per
address before parsing it with python-osc; datagrams that are not OSC, or that fail to parse,
are counted as malformed. ``OscSender`` sends the current
axis values out (``/distill/axis/<n>`` and ``/distill/xy``, the same addresses) for visuals.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

from pythonosc import osc_bundle, osc_message, osc_packet
from pythonosc.udp_client import SimpleUDPClient

from app.services.control_map import (
    LATENT,
    MALFORMED,
    MORPH,
    NOT_A_NUMBER,
    PRESET,
    TRANSPORT,
    UNAVAILABLE,
    UNKNOWN,
    VOLUME,
    WRONG_TYPE,
    XY_TARGETS,
    ControlInbox,
    ProblemLog,
    TargetRanges,
    axis_target,
    checked_number,
)

log = logging.getLogger(__name__)

ROOT = "distill"
DEFAULT_PORT = 9000
DEFAULT_SEND_PORT = 9001
#: How often the server thread looks whether it should stop (seconds).
POLL_INTERVAL = 0.05
#: Kernel receive buffer asked for (a burst waits there while the thread parses).
RECEIVE_BUFFER = 4 * 1024 * 1024


class OscControl:
    """OSC messages -> inbox (see the module docstring). ``handle`` runs on the server thread."""

    def __init__(self, inbox: ControlInbox, problems: ProblemLog) -> None:
        self.inbox = inbox
        self.problems = problems
        self.ranges = TargetRanges()  # replaced (never mutated) by the GUI thread

    def handle(self, address: str, args: Sequence[Any], stamp: float) -> None:
        """One message (``stamp``: ``time.perf_counter()`` when its datagram arrived)."""
        parts = address.strip("/").split("/")
        norm = len(parts) > 1 and parts[-1] == "norm"
        if norm:
            parts = parts[:-1]
        head = parts[1] if len(parts) > 1 and parts[0] == ROOT else None
        rest = parts[2:]
        if head == "axis" and len(rest) == 1:
            self._axis(address, rest[0], args, norm, stamp)
        elif head == "xy" and not rest:
            self._xy(address, args, norm, stamp)
        elif head in (MORPH, VOLUME) and not rest and not norm:
            value = self._numbers(address, args, 1, 0.0, 1.0)
            if value is not None:
                self.inbox.put(head, value[0], stamp, "osc")
        elif head == "play" and not rest and not norm:
            gain = self._numbers(address, args, 1, 0.0, 1.0) if args else [None]
            if gain is not None:
                self.inbox.put(TRANSPORT, ("play", gain[0]), stamp, "osc")
        elif head == "stop" and not rest and not norm:
            self.inbox.put(TRANSPORT, ("stop",), stamp, "osc")
        elif head == "preset" and not norm:
            self._preset(address, rest, args, stamp)
        elif head == "latent" and not rest and not norm:
            self._latent(address, args, stamp)
        else:
            self.problems.report("osc", UNKNOWN, f"{address} {_args_text(args)}")

    def _axis(self, address: str, name: str, args: Sequence[Any], norm: bool, stamp: float) -> None:
        ranges = self.ranges
        index = ranges.axis_index(name)
        if index is None:
            self.problems.report("osc", UNKNOWN if ranges.num_axes else UNAVAILABLE,
                                 f"{address}: no axis {name!r} (this model has {ranges.num_axes})")
            return
        low, high = ranges.low[index], ranges.high[index]
        values = self._numbers(address, args, 1, 0.0 if norm else low, 1.0 if norm else high)
        if values is not None:
            value = low + values[0] * (high - low) if norm else values[0]
            self.inbox.put(axis_target(index), value, stamp, "osc")

    def _xy(self, address: str, args: Sequence[Any], norm: bool, stamp: float) -> None:
        ranges = self.ranges
        if ranges.num_axes < 2:
            self.problems.report("osc", UNAVAILABLE, f"{address}: this model has no XY pad")
            return
        if len(args) != 2:
            self.problems.report("osc", WRONG_TYPE, f"{address}: expected 2 numbers, got {_args_text(args)}")
            return
        values = []
        for i, target in enumerate(XY_TARGETS):
            low, high = ranges.range(target)
            value = self._numbers(address, args[i:i + 1], 1, 0.0 if norm else low, 1.0 if norm else high)
            if value is None:
                return
            values.append(low + value[0] * (high - low) if norm else value[0])
        for target, value in zip(XY_TARGETS, values, strict=True):
            self.inbox.put(target, value, stamp, "osc")

    def _preset(self, address: str, rest: list[str], args: Sequence[Any], stamp: float) -> None:
        if rest:
            name: Any = "/".join(rest)
        elif len(args) == 1 and isinstance(args[0], str | int) and not isinstance(args[0], bool):
            name = args[0]
        else:
            self.problems.report("osc", WRONG_TYPE, f"{address}: expected a preset name or index, got "
                                 f"{_args_text(args)}")
            return
        self.inbox.put(PRESET, name, stamp, "osc")

    def _latent(self, address: str, args: Sequence[Any], stamp: float) -> None:
        size = self.ranges.latent_dim
        if not size:
            self.problems.report("osc", UNAVAILABLE, f"{address}: no model is open")
            return
        if len(args) != size or not all(isinstance(a, int | float) and not isinstance(a, bool) for a in args):
            self.problems.report("osc", WRONG_TYPE, f"{address}: expected {size} numbers, got "
                                 f"{_args_text(args)}")
            return
        vector = [float(a) for a in args]
        if not all(math.isfinite(v) for v in vector):
            self.problems.report("osc", NOT_A_NUMBER, f"{address}: the vector holds NaN or infinity")
            return
        self.inbox.put(LATENT, vector, stamp, "osc")

    def _numbers(self, address: str, args: Sequence[Any], count: int, low: float,
                 high: float) -> list[float] | None:
        if len(args) != count:
            self.problems.report("osc", WRONG_TYPE, f"{address}: expected {count} number(s), got "
                                 f"{_args_text(args)}")
            return None
        out = []
        for arg in args:
            value = checked_number(arg, low, high, self.problems, "osc", address)
            if value is None:
                return None
            out.append(value)
        return out


class OscServer:
    """A UDP socket read on its own thread. ``start``/``close`` from the GUI thread.

    The thread reads every datagram waiting (up to ``BATCH``) before it parses any, and of
    datagrams to the same address parses only the newest: a flood collapses before it costs
    parsing time (GIL time the audio callback needs); the ones skipped are counted with the
    inbox's superseded values. Parsing is python-osc's; a datagram it cannot parse is counted
    as malformed (python-osc's own server drops those silently).

    Parameters
    ----------
    control
        Receives every message.
    port
        UDP port (0: any free port; ``port`` then tells which).
    host
        Address to listen on: ``127.0.0.1`` (this machine) or ``0.0.0.0`` (the network too).
    """

    #: Datagrams read before parsing (bounds the time one batch holds the thread).
    BATCH = 2048

    def __init__(self, control: OscControl, port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> None:
        self.control = control
        self.host = host
        self._wanted = port
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def port(self) -> int:
        return self._socket.getsockname()[1] if self._socket is not None else self._wanted

    def start(self) -> None:
        """Bind and serve; ``OSError`` (port in use, bad address) leaves nothing running."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            sock.bind((self.host, self._wanted))
        except OSError:
            sock.close()
            raise
        sock.settimeout(POLL_INTERVAL)
        self._socket = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="osc-server", daemon=True)
        self._thread.start()
        log.info("OSC: listening on %s:%d", self.host, self.port)

    def close(self) -> None:
        """Stop reading and join the thread (returns within ``POLL_INTERVAL`` or so)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _serve(self) -> None:
        sock = self._socket
        while not self._stop.is_set():
            try:
                data, sender = sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return  # closed under us
            batch: dict[bytes, tuple[bytes, tuple]] = {}
            skipped = 0
            sock.setblocking(False)
            try:
                for n in range(self.BATCH):
                    key = data[:data.find(b"\0")] if data[:1] == b"/" else n.to_bytes(4, "little")
                    skipped += key in batch
                    batch.pop(key, None)  # re-insert: the batch keeps arrival order of the newest
                    batch[key] = (data, sender)
                    data, sender = sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                return
            finally:
                if not self._stop.is_set():
                    sock.settimeout(POLL_INTERVAL)
            stamp = time.perf_counter()  # the batch's arrival: latency is measured from here
            if skipped:
                self.control.inbox.skip(skipped)
            for data, sender in batch.values():
                self._dispatch(data, sender, stamp)

    def _dispatch(self, data: bytes, sender: tuple, stamp: float) -> None:
        problems = self.control.problems
        if not (osc_bundle.OscBundle.dgram_is_bundle(data) or osc_message.OscMessage.dgram_is_message(data)):
            problems.report("osc", MALFORMED, f"a datagram from {sender[0]} is not OSC")
            return
        try:
            packet = osc_packet.OscPacket(data)
        except osc_packet.ParseError as exc:
            problems.report("osc", MALFORMED, f"{len(data)} bytes from {sender[0]}: {exc}")
            return
        for timed in packet.messages:
            try:
                self.control.handle(timed.message.address, list(timed.message.params), stamp)
            except Exception as exc:  # a message must never end the server thread
                log.exception("OSC message %s could not be handled", timed.message.address)
                problems.report("osc", MALFORMED, f"{timed.message.address}: {exc}")


class OscSender:
    """Sends the instrument's axis values to ``host:port`` (GUI thread; UDP never blocks long)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._client = SimpleUDPClient(host, port)

    def send_controls(self, controls: Sequence[float], xy: tuple[float, float] | None) -> None:
        """``/distill/axis/<n> value`` for each slider (1-based) and ``/distill/xy x y``."""
        try:
            for i, value in enumerate(controls):
                self._client.send_message(f"/{ROOT}/axis/{i + 1}", float(value))
            if xy is not None:
                self._client.send_message(f"/{ROOT}/xy", [float(xy[0]), float(xy[1])])
        except OSError as exc:  # nobody listening on a remote host, network down: not our problem
            log.debug("OSC send to %s:%d failed: %s", self.host, self.port, exc)

    def close(self) -> None:
        self._client.close()


def _args_text(args: Sequence[Any]) -> str:
    text = " ".join(f"{a!r}" for a in list(args)[:6])
    return f"({len(args)} args: {text}{' …' if len(args) > 6 else ''})" if args else "(no arguments)"

