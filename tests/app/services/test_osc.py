"""OSC over real UDP on 127.0.0.1 (python-osc's client) into a real instrument."""

from __future__ import annotations

import math
import socket
import time

import numpy as np
import pytest
import torch
from pythonosc.udp_client import SimpleUDPClient

from app.services.control_map import (
    FLOOD,
    MALFORMED,
    NOT_A_NUMBER,
    OUT_OF_RANGE,
    UNAVAILABLE,
    UNKNOWN,
    WRONG_TYPE,
)
from app.services.control_surface import ControlSurface
from app.services.osc import OscServer
from distill.latent.instrument import InstrumentState
from tests.app.explore.instrument_setup import open_instrument

#: Generous: two busy cores, and the instrument's render thread warming up beside us.
WAIT_MS = 10_000


@pytest.fixture
def surface(qtbot, silent_audio, tmp_path):
    instrument = open_instrument(silent_audio)
    surface = ControlSurface(instrument, midi_folder=tmp_path / "midi")
    surface.set_osc(True, port=0)
    yield surface
    surface.shutdown()
    instrument.close()


def client(surface: ControlSurface) -> SimpleUDPClient:
    return SimpleUDPClient("127.0.0.1", surface.osc_server.port)


def controls(surface: ControlSurface) -> list[float]:
    return surface.instrument.state.controls().tolist()


def wait_received(qtbot, surface: ControlSurface, count: int) -> None:
    qtbot.waitUntil(lambda: surface.inbox.received + surface.problems.total >= count, timeout=WAIT_MS)
    surface.drain()


def test_each_address_moves_the_instrument(qtbot, surface):
    osc = client(surface)
    ranges = surface.ranges
    assert ranges.labels == ("Air", "Sustain", "Axis 3")
    osc.send_message("/distill/axis/1", 0.25)
    wait_received(qtbot, surface, 1)
    assert controls(surface)[0] == pytest.approx(0.25, abs=1e-5)
    osc.send_message("/distill/axis/sustain/norm", 0.5)  # by label, 0..1 of the slider's travel
    wait_received(qtbot, surface, 2)
    assert controls(surface)[1] == pytest.approx((ranges.low[1] + ranges.high[1]) / 2, abs=1e-5)
    assert controls(surface)[0] == pytest.approx(0.25, abs=1e-5)  # the other axis stays
    osc.send_message("/distill/xy", [0.1, -0.1])
    wait_received(qtbot, surface, 4)
    assert surface.instrument.state.xy() == pytest.approx((0.1, -0.1), abs=1e-5)
    osc.send_message("/distill/volume", 0.3)
    wait_received(qtbot, surface, 5)  # the pad's two axes are two slots
    assert surface.instrument.gain == pytest.approx(0.3)

    latent = np.linspace(-1, 1, 8).tolist()
    osc.send_message("/distill/latent", latent)
    wait_received(qtbot, surface, 6)
    assert surface.instrument.state.latent.tolist() == pytest.approx(latent)

    a, b = torch.zeros(8), torch.ones(8)
    for end, z in (("a", a), ("b", b)):
        surface.instrument.set_morph_end(end, z)
    osc.send_message("/distill/morph", 0.5)
    wait_received(qtbot, surface, 7)
    expected = InstrumentState(8, surface.instrument.renderer.analysis)
    expected.set_morph_end("a", a)
    expected.set_morph_end("b", b)
    assert torch.allclose(surface.instrument.state.latent, expected.set_morph(0.5))

    surface.preset_names = lambda: ("warm pad", "bright")
    with qtbot.waitSignal(surface.presetRequested, timeout=WAIT_MS) as recalled:
        osc.send_message("/distill/preset/bright", [])
    assert recalled.args == ["bright"]
    with qtbot.waitSignal(surface.presetRequested, timeout=WAIT_MS) as recalled:
        osc.send_message("/distill/preset", 0)
    assert recalled.args == ["warm pad"]
    assert surface.problems.counts() == {}


def test_a_move_carries_the_stamp_of_its_arrival(qtbot, surface):
    instrument = surface.instrument
    instrument.start_recording()
    before = time.perf_counter()
    client(surface).send_message("/distill/axis/2", 0.5)
    qtbot.waitUntil(lambda: surface.inbox.received == 1, timeout=WAIT_MS)
    time.sleep(0.05)
    applied_after = time.perf_counter()
    surface.drain()
    take = instrument.stop_recording()
    moved = take[1]  # [start, the move, end]
    assert before < moved.stamp < applied_after - 0.04  # the arrival's stamp, not the drain's
    assert torch.equal(moved.latent, take[-1].latent)


def test_bad_input_is_counted_and_changes_nothing(qtbot, surface):
    osc = client(surface)
    start = surface.instrument.state.latent
    high = surface.ranges.high[0]
    bad = [("/distill/nothing", 1.0), ("/other/axis/1", 1.0), ("/distill/axis/9", 1.0),
           ("/distill/axis/1", "loud"), ("/distill/axis/1", math.nan), ("/distill/axis/1", [1.0, 2.0]),
           ("/distill/xy", 1.0), ("/distill/morph", math.inf), ("/distill/latent", [1.0, 2.0]),
           ("/distill/latent", [math.nan] * 8), ("/distill/morph", 0.5)]  # morph: no ends set
    for address, value in bad:  # one at a time: a burst to one address is parsed newest-only
        seen = surface.problems.total + surface.inbox.received
        osc.send_message(address, value)
        qtbot.waitUntil(lambda seen=seen: surface.problems.total + surface.inbox.received > seen,
                        timeout=WAIT_MS)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        # One at a time too: two datagrams read in one burst are collapsed before parsing.
        for datagram in (b"\x00garbage", b"/distill/axis/1\x00,f"):  # not OSC; cut short
            seen = surface.problems.total + surface.inbox.received
            raw.sendto(datagram, ("127.0.0.1", surface.osc_server.port))
            qtbot.waitUntil(lambda seen=seen: surface.problems.total + surface.inbox.received > seen,
                            timeout=WAIT_MS)
    qtbot.waitUntil(lambda: surface.problems.total + surface.inbox.received >= len(bad) + 2, timeout=WAIT_MS)
    surface.drain()
    counts = surface.problems.counts()
    assert counts == {UNKNOWN: 3, WRONG_TYPE: 4, NOT_A_NUMBER: 3, UNAVAILABLE: 1, MALFORMED: 2}
    assert torch.equal(surface.instrument.state.latent, start)
    assert len(surface.problems.entries()) == sum(counts.values())
    received = surface.inbox.received  # the morph without ends went in, and was refused at apply
    osc.send_message("/distill/axis/1", high + 100.0)  # clamped to the slider's end, counted
    qtbot.waitUntil(lambda: surface.inbox.received == received + 1, timeout=WAIT_MS)
    surface.drain()
    assert controls(surface)[0] == pytest.approx(high, abs=1e-4)
    assert surface.problems.counts()[OUT_OF_RANGE] == 1


def test_a_burst_of_ten_thousand_collapses_to_the_newest_value(qtbot, surface):
    surface._timer.stop()  # drain by hand: the whole burst lands between two ticks
    osc = client(surface)
    low, high = surface.ranges.low[0], surface.ranges.high[0]
    values = np.linspace(low, high, 10_000)
    for value in values:
        osc.send_message("/distill/axis/1", float(value))
    # UDP may drop datagrams when a burst outruns the socket's buffer (that is UDP, not a
    # fault): wait until nothing more arrives, then check what did.
    settled = {"count": -1, "since": time.monotonic()}

    def quiet() -> bool:
        if surface.inbox.received != settled["count"]:
            settled.update(count=surface.inbox.received, since=time.monotonic())
        return settled["count"] > 0 and time.monotonic() - settled["since"] > 0.5

    qtbot.waitUntil(quiet, timeout=30_000)
    received = surface.inbox.received
    assert received >= 1_000  # most of the burst arrives on loopback
    applied = surface.applied
    surface.drain()
    assert surface.applied == applied + 1  # one move for the whole burst
    # The newest value wins: loopback keeps the order, so the last datagram that arrived is
    # at least the received-th value of the rising sweep.
    assert controls(surface)[0] >= values[received - 1] - 1e-5
    assert surface.problems.counts() == {FLOOD: received - 1}
    assert len(surface.problems.entries()) == 1  # one log line, not ten thousand


def test_the_port_in_use_is_reported_and_nothing_runs(surface):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(("127.0.0.1", 0))
        taken = other.getsockname()[1]
        assert not surface.set_osc(True, port=taken)
    assert surface.osc_server is None and str(taken) in surface.osc_status
    assert surface.set_osc(True, port=0) and surface.osc_server is not None
    assert surface.set_osc(False) and surface.osc_status == "OSC is off"


def test_the_axis_values_are_sent_out(qtbot, surface):
    from pythonosc.dispatcher import Dispatcher

    received = []
    dispatcher = Dispatcher()
    dispatcher.set_default_handler(lambda address, *args: received.append((address, args)))
    from pythonosc.osc_server import BlockingOSCUDPServer

    listener = BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    listener.timeout = 0.05
    try:
        assert surface.set_send(True, "127.0.0.1", listener.server_address[1])
        surface.instrument.set_axis(2, 0.5)
        surface.drain()
        deadline = time.monotonic() + 5
        while len(received) < 4 and time.monotonic() < deadline:
            listener.handle_request()
    finally:
        listener.server_close()
    sent = dict(received)
    assert set(sent) == {"/distill/axis/1", "/distill/axis/2", "/distill/axis/3", "/distill/xy"}
    assert sent["/distill/axis/3"][0] == pytest.approx(0.5, abs=1e-5)
    assert sent["/distill/xy"] == pytest.approx(tuple(surface.instrument.state.xy()), abs=1e-5)


def test_server_alone_counts_a_flood_without_qt():
    from app.services.control_map import ControlInbox, ProblemLog, TargetRanges
    from app.services.osc import OscControl

    control = OscControl(ControlInbox(), ProblemLog())
    control.ranges = TargetRanges(labels=("a",), features=(None,), low=(0.0,), high=(1.0,), latent_dim=4)
    server = OscServer(control, 0)
    server.start()
    try:
        osc = SimpleUDPClient("127.0.0.1", server.port)
        for i in range(100):
            osc.send_message("/distill/axis/a/norm", i / 99)
        deadline = time.monotonic() + 10
        while control.inbox.received < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        server.close()
    assert control.inbox.drain()["axis:0"].value == pytest.approx(1.0)
    assert control.inbox.superseded == 99
