"""MIDI through real ports: JACK MIDI on the dummy backend (this machine has no ALSA sequencer)."""

from __future__ import annotations

import time

import pytest

from app.services.control_map import TRANSPORT, ControlInbox, ProblemLog, TargetRanges
from app.services.midi import VIRTUAL_PORT, MidiInput, MidiUnavailableError
from app.services.midi_map import MidiMapper, MidiMapping

rtmidi = pytest.importorskip("rtmidi")

RANGES = TargetRanges(labels=("A", "B"), features=(None, None), low=(0.0, -1.0), high=(1.0, 1.0),
                      latent_dim=4)


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


@pytest.fixture
def jack_midi(jack_server):
    """A studio MIDI input and a controller (a JACK MIDI output of its own), both on the test's server."""
    if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
        pytest.skip("python-rtmidi was built without JACK")
    mapper = MidiMapper(ControlInbox(), ProblemLog())
    mapper.ranges = RANGES
    midi = MidiInput(mapper, backend="jack")
    controller = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="test-controller")
    try:
        yield midi, controller
    finally:
        controller.close_port()
        controller.delete()
        midi.close()


def test_messages_from_a_real_port_reach_the_inbox_with_14_bit_and_learn(jack_midi):
    midi, controller = jack_midi
    controller.open_virtual_port("knobs")
    ports = midi.ports()
    assert "test-controller:knobs" in ports
    midi.open("test-controller:knobs")
    assert midi.port_name == "test-controller:knobs" and midi.backend == "jack"
    mapper = midi.mapper
    mapper.learn("axis:1")
    before = time.perf_counter()
    controller.send_message([0xB1, 1, 64])  # CC 1 on channel 2: learnt, not applied
    assert wait_for(lambda: mapper.mappings == (MidiMapping("axis:1", "cc", 1, 1),))
    controller.send_message([0xB1, 1, 127])
    controller.send_message([0xB1, 33, 127])  # its LSB partner: 14 bits
    controller.send_message([0x90, 60, 100])  # note-on: play with velocity 100
    assert wait_for(lambda: mapper.inbox.received == 3)
    moves = mapper.inbox.drain()
    assert mapper.mappings[0].kind == "cc14"
    assert moves["axis:1"].value == pytest.approx(1.0)
    assert moves[TRANSPORT].value == ("play", pytest.approx(100 / 127))
    assert before < moves["axis:1"].stamp <= time.perf_counter()  # stamped on arrival
    assert mapper.problems.counts() == {}


def test_other_programs_can_play_the_studios_virtual_port(jack_midi):
    midi, controller = jack_midi
    midi.open(None)
    assert midi.port_name == f"{VIRTUAL_PORT} (virtual)"
    ports = controller.get_ports()
    (index,) = [i for i, name in enumerate(ports) if name == f"{VIRTUAL_PORT}:{VIRTUAL_PORT}"]
    controller.open_port(index)
    midi.mapper.set_mappings([MidiMapping("volume", "pitchbend", 0)])
    controller.send_message([0xE0, 0x7F, 0x7F])  # pitch bend all the way up
    assert wait_for(lambda: midi.mapper.inbox.received == 1)
    assert midi.mapper.inbox.drain()["volume"].value == pytest.approx(1.0)


def test_a_missing_port_and_a_missing_midi_system_are_reported(jack_midi, monkeypatch):
    midi, _controller = jack_midi
    with pytest.raises(MidiUnavailableError, match="is not there"):
        midi.open("nobody:nothing")
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "distill-no-such-server")
    lonely = MidiInput(midi.mapper, backend="jack")
    assert not lonely.available
    with pytest.raises(MidiUnavailableError, match="MIDI is off"):
        lonely.ports()
