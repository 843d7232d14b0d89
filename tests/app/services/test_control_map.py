"""MIDI mapping layer and the inbox, driven with real mido messages (no port needed)."""

from __future__ import annotations

import json
import math
import threading

import mido
import pytest

from app.services.control_map import (
    LATENT,
    MORPH,
    NOT_A_NUMBER,
    OUT_OF_RANGE,
    PRESET,
    TRANSPORT,
    UNAVAILABLE,
    UNMAPPED,
    VOLUME,
    WRONG_TYPE,
    ControlInbox,
    ProblemLog,
    TargetRanges,
    checked_number,
)
from app.services.midi_map import MidiMapper, MidiMapping, MidiMapStore, midi_dir

RANGES = TargetRanges(labels=("Brightness", "Loudness", "Axis 3"), features=("centroid", "rms", None),
                      low=(-3.0, -1.0, -2.0), high=(5.0, 3.0, 2.0), latent_dim=8)


@pytest.fixture
def mapper() -> MidiMapper:
    m = MidiMapper(ControlInbox(), ProblemLog())
    m.ranges = RANGES
    return m


def cc(number: int, value: int, channel: int = 0) -> mido.Message:
    return mido.Message("control_change", channel=channel, control=number, value=value)


def values(mapper: MidiMapper) -> dict:
    return {slot: move.value for slot, move in mapper.inbox.drain().items()}


def test_targets_and_ranges():
    assert RANGES.targets() == ("axis:0", "axis:1", "axis:2", "xy:x", "xy:y", "morph", "volume")
    assert RANGES.range("axis:1") == (-1.0, 3.0)
    assert RANGES.range("xy:y") == (-1.0, 3.0)
    assert RANGES.range("axis:3") is None
    assert RANGES.range(MORPH) == (0.0, 1.0)
    assert [RANGES.axis_index(n) for n in ("1", "loudness", "RMS", "axis_3", "4", "Nope")] == [0, 1, 1, 2,
                                                                                                None, None]
    assert RANGES.name("axis:0") == "Axis 1 · Brightness"
    assert RANGES.name("xy:y") == "XY pad Y (Loudness)"


def test_learn_maps_the_next_control_and_swallows_it(mapper):
    mapper.learn("axis:1")
    mapper.handle(cc(7, 127, channel=2), 1.0)
    assert values(mapper) == {}  # the learning message itself moves nothing
    assert mapper.learning is None
    assert mapper.mappings == (MidiMapping("axis:1", "cc", 2, 7),)
    mapper.handle(cc(7, 0, channel=2), 2.0)
    mapper.handle(cc(7, 0, channel=3), 2.0)  # another channel: not this mapping
    assert values(mapper) == {"axis:1": -1.0}
    mapper.handle(cc(7, 127, channel=2), 3.0)
    assert values(mapper)["axis:1"] == pytest.approx(3.0)
    assert mapper.problems.counts() == {UNMAPPED: 1}


def test_relearning_a_control_replaces_its_mapping_and_range_inverts(mapper):
    mapper.set_mappings([MidiMapping("axis:0", "cc", 0, 1)])
    mapper.learn(VOLUME)
    mapper.handle(cc(1, 5), 0.0)
    assert mapper.mappings == (MidiMapping(VOLUME, "cc", 0, 1),)
    mapper.replace(0, MidiMapping(VOLUME, "cc", 0, 1, low=1.0, high=0.25))
    mapper.handle(cc(1, 127), 0.0)
    assert values(mapper)[VOLUME] == pytest.approx(0.25)


def test_fourteen_bit_pair_is_detected_and_used(mapper):
    mapper.set_mappings([MidiMapping("axis:0", "cc", 0, 1)])
    mapper.handle(cc(1, 64), 0.0)
    assert values(mapper)["axis:0"] == pytest.approx(-3.0 + 64 / 127 * 8)  # 7-bit until a partner shows
    mapper.handle(cc(33, 100), 0.0)  # LSB of CC 1: the mapping becomes a 14-bit pair
    assert mapper.mappings[0].kind == "cc14"
    assert values(mapper)["axis:0"] == pytest.approx(-3.0 + ((64 << 7) | 100) / 16383 * 8)
    mapper.handle(cc(1, 127), 0.0)  # a new MSB resets the LSB to 0
    assert values(mapper)["axis:0"] == pytest.approx(-3.0 + (127 << 7) / 16383 * 8)
    mapper.handle(cc(33, 127), 0.0)
    assert values(mapper)["axis:0"] == pytest.approx(5.0)
    steps = {round(((64 << 7) | lsb) / 16383 * 1e6) for lsb in range(128)}
    assert len(steps) == 128  # 128 distinct values between two 7-bit steps


def test_pitch_bend_learns_and_has_14_bits(mapper):
    mapper.learn(MORPH)
    mapper.handle(mido.Message("pitchwheel", channel=5, pitch=0), 0.0)
    assert mapper.mappings == (MidiMapping(MORPH, "pitchbend", 5),)
    for pitch, expected in ((-8192, 0.0), (8191, 1.0), (0, 8192 / 16383)):
        mapper.handle(mido.Message("pitchwheel", channel=5, pitch=pitch), 0.0)
        assert values(mapper)[MORPH] == pytest.approx(expected)


def test_xy_axes_map_separately(mapper):
    mapper.set_mappings([MidiMapping("xy:x", "cc", 0, 20), MidiMapping("xy:y", "cc", 0, 21)])
    mapper.handle(cc(20, 127), 0.0)
    mapper.handle(cc(21, 0), 0.0)
    assert values(mapper) == {"xy:x": pytest.approx(5.0), "xy:y": pytest.approx(-1.0)}


def test_notes_play_with_velocity_and_the_last_note_off_stops(mapper):
    mapper.handle(mido.Message("note_on", note=60, velocity=127), 1.0)
    mapper.handle(mido.Message("note_on", note=64, velocity=64), 2.0)
    assert values(mapper) == {TRANSPORT: ("play", pytest.approx(64 / 127))}
    mapper.handle(mido.Message("note_off", note=60), 3.0)
    assert values(mapper) == {}  # 64 is still held
    mapper.handle(mido.Message("note_on", note=64, velocity=0), 4.0)  # note-on at 0 is a note-off
    assert mapper.inbox.drain()[TRANSPORT].value == ("stop",)
    mapper.handle(mido.Message("program_change", program=3), 5.0)
    assert values(mapper) == {PRESET: 3}


def test_bad_and_unmapped_midi_is_counted_never_raised(mapper):
    mapper.handle_bytes([0xB0, 200], 0.0)  # truncated, data byte out of range
    mapper.handle_bytes([], 0.0)
    mapper.handle(cc(9, 1), 0.0)
    mapper.handle(mido.Message("clock"), 0.0)  # timing says nothing: not counted
    mapper.set_mappings([MidiMapping("axis:7", "cc", 0, 2)])  # an axis this model does not have
    mapper.handle(cc(2, 1), 0.0)
    counts = mapper.problems.counts()
    assert counts["malformed"] == 2 and counts[UNMAPPED] == 1 and counts[UNAVAILABLE] == 1
    assert len(mapper.problems.entries()) == 4
    assert values(mapper) == {}


def test_mapping_validation():
    for bad in (dict(target="axis:x", kind="cc", channel=0), dict(target=MORPH, kind="nrpn", channel=0),
                dict(target=MORPH, kind="cc", channel=16),
                dict(target=MORPH, kind="cc14", channel=0, number=40),
                dict(target=MORPH, kind="cc", channel=0, low=-0.5)):
        with pytest.raises(ValueError):
            MidiMapping(**bad)
    assert MidiMapping("axis:0", "cc14", 0, 1).describe() == "CC 1+33 (14-bit) · ch 1"


def test_checked_number_counts_each_kind_of_bad_value():
    log = ProblemLog()
    assert checked_number(0.5, 0, 1, log, "osc", "/x") == 0.5
    assert checked_number(7, 0, 1, log, "osc", "/x") == 1.0  # clamped and counted
    assert checked_number(math.nan, 0, 1, log, "osc", "/x") is None
    assert checked_number("loud", 0, 1, log, "osc", "/x") is None
    assert checked_number(True, 0, 1, log, "osc", "/x") is None
    assert log.counts() == {WRONG_TYPE: 2, NOT_A_NUMBER: 1, OUT_OF_RANGE: 1}


def test_problem_log_is_bounded_and_thread_safe():
    log = ProblemLog(size=200)

    def spam():
        for i in range(1000):
            log.report("osc", WRONG_TYPE, f"message {i}")

    threads = [threading.Thread(target=spam) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.counts() == {WRONG_TYPE: 4000}
    assert len(log.entries()) == 200


def test_inbox_keeps_the_newest_value_per_slot():
    inbox = ControlInbox()
    for i in range(1000):
        inbox.put("axis:0", float(i), float(i), "osc")
    inbox.put(LATENT, [0.0] * 8, 5.0, "osc")
    drained = inbox.drain()
    assert drained["axis:0"].value == 999.0 and drained["axis:0"].stamp == 999.0
    assert inbox.superseded == 999 and inbox.received == 1001
    assert inbox.drain() == {}


def test_mappings_persist_per_model_and_a_damaged_file_is_kept_aside(tmp_path):
    model = tmp_path / "m.distill"
    model.write_bytes(b"")  # no header: keyed by its path
    store = MidiMapStore.for_model(model, 8)
    assert store.path.parent == midi_dir()
    mappings = [MidiMapping("axis:0", "cc14", 1, 3, 0.1, 0.9), MidiMapping(VOLUME, "pitchbend", 0)]
    store.save(mappings)
    assert MidiMapStore.for_model(model, 8).load() == mappings
    assert MidiMapStore.for_model(model, 16).path != store.path  # another latent size: another model
    document = json.loads(store.path.read_text())
    document["mappings"].append({"target": "nowhere", "kind": "cc", "channel": 0})
    store.path.write_text(json.dumps(document))
    again = MidiMapStore.for_model(model, 8)
    assert again.load() == mappings
    again.save(mappings[:1])  # the entry it could not use stays in the file
    assert json.loads(store.path.read_text())["mappings"][-1]["target"] == "nowhere"
    store.path.write_text("{ not json")
    assert MidiMapStore.for_model(model, 8).load() == []
    assert store.path.with_name(store.path.name + ".damaged").read_text() == "{ not json"
