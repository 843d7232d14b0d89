"""The playback engine: the callback's contract, and a real PortAudio stream through JACK."""

from __future__ import annotations

import os
import subprocess
import time
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from distill.audio import synth
from distill.audio.playback import GAIN_RAMP_MS as PLAYBACK_GAIN_RAMP_MS
from distill.audio.playback import PlaybackEngine
from distill.audio.ring import FOREVER, SpliceRing

BLOCK = 256


def run_blocks(engine: PlaybackEngine, blocks: int, underflow: bool = False) -> np.ndarray:
    """Drive the callback like PortAudio would; returns the left channel."""
    out = []
    for _ in range(blocks):
        buf = np.full((BLOCK, 2), np.nan, dtype=np.float32)  # the callback must fill it all
        engine._callback(buf, BLOCK, SimpleNamespace(outputBufferDacTime=1.01, currentTime=1.0),
                         SimpleNamespace(output_underflow=underflow))
        assert np.isfinite(buf).all()
        np.testing.assert_array_equal(buf[:, 0], buf[:, 1])
        out.append(buf[:, 0].copy())
    return np.concatenate(out)


def test_silence_until_something_plays():
    engine = PlaybackEngine()
    assert not run_blocks(engine, 4).any()
    assert engine.telemetry().blocks == 4 and not engine.telemetry().playing


def test_one_shot_plays_the_prepared_samples_then_silence():
    engine = PlaybackEngine()
    sound = engine.play(synth.sine(440, 0.1))
    out = run_blocks(engine, 30)
    n = len(sound.data)
    np.testing.assert_array_equal(out[:n], sound.data)
    assert not out[n:].any()
    assert not engine.telemetry().playing
    assert sound.data[0] == 0 and abs(sound.data[-1]) < 1e-3  # ramped edges: no click


def test_new_sound_crossfades_from_the_playing_one():
    engine = PlaybackEngine()
    a = engine.play(np.full(48_000, 0.5, np.float32), loop=True)
    run_blocks(engine, 10)
    b = engine.play(np.full(48_000, -0.5, np.float32), loop=True)
    out = run_blocks(engine, 10)
    fade = engine._fade
    assert out[0] == pytest.approx(0.5, abs=0.01)
    assert np.all(np.diff(out[:fade]) <= 1e-7)  # monotonic glide from A to B
    np.testing.assert_allclose(out[fade:], b.data[fade:len(out)], atol=1e-7)
    assert a.data[0] != b.data[0]


def test_only_the_latest_request_starts():
    engine = PlaybackEngine()
    engine.play(np.full(4800, 0.25, np.float32))
    latest = engine.play(np.full(4800, -0.75, np.float32))
    out = run_blocks(engine, 4)
    np.testing.assert_array_equal(out[:len(out)], latest.data[:len(out)])


def test_replaying_the_same_sound_restarts_it():
    engine = PlaybackEngine()
    sound = engine.play(synth.sine(220, 0.05))
    run_blocks(engine, 20)
    engine.play(sound)
    out = run_blocks(engine, 2)
    assert np.abs(out).max() > 0.1


def test_loop_seam_is_continuous():
    engine = PlaybackEngine()
    x = synth.sine(437.3, 0.25)  # not a whole number of periods: a naive loop would click
    engine.play(x, loop=True)
    out = run_blocks(engine, 200)
    typical = np.abs(np.diff(x)).max()
    assert np.abs(np.diff(out)).max() <= 1.05 * typical


def test_stop_fades_out():
    engine = PlaybackEngine()
    engine.play(np.full(48_000, 0.5, np.float32), loop=True)
    run_blocks(engine, 4)
    engine.stop_sound()
    out = run_blocks(engine, 4)
    assert np.all(np.diff(out[:engine._fade]) <= 1e-7)
    assert not out[engine._fade:].any()


def test_underruns_and_latency_are_reported():
    engine = PlaybackEngine()
    run_blocks(engine, 3, underflow=True)  # silence (a model loading): nothing to hear
    assert engine.telemetry().underruns == 0
    engine.play(synth.sine(440, 0.1), requested_at=time.perf_counter() - 0.05)
    run_blocks(engine, 1)
    run_blocks(engine, 2, underflow=True)
    telemetry = engine.telemetry()
    assert telemetry.underruns == 2
    assert 55 <= telemetry.latency_ms < 1000  # 50 ms ago + 10 ms until the DAC


def test_without_a_device_start_says_why():
    engine = PlaybackEngine(device="no such audio device")
    assert engine.start() is False
    assert engine.error and "no audio output" in engine.error
    engine.play(synth.sine(440, 0.1))  # harmless without a stream
    engine.close()


def test_rapid_requests_never_jump():
    # The case: fade_ms=30 and a new sound every block cut each fade short and
    # jumped by 0.72. Every voice now ramps from the gain it has.
    engine = PlaybackEngine(fade_ms=30)
    levels = [0.9, -0.9, 0.6, -0.8, 0.9, -0.7, 0.8, -0.9, 0.5, -0.6] * 3
    out = []
    for level in levels:
        engine.play(np.full(48_000, level, np.float32), loop=True)
        out.append(run_blocks(engine, 1))
    out.append(run_blocks(engine, 20))
    out = np.concatenate(out)
    # A full sin^2 crossfade between the two extremes moves at most pi/2 * 1.8 / fade per sample.
    bound = 0.5 * np.pi * 1.8 / engine._fade
    assert np.abs(np.diff(out)).max() <= 1.05 * bound
    assert out[-1] == pytest.approx(levels[-1], abs=1e-6)  # the last request won, once faded in


def test_a_started_fade_finishes():
    engine = PlaybackEngine(fade_ms=20)
    engine.play(np.full(48_000, 0.5, np.float32), loop=True)
    run_blocks(engine, 10)
    engine.play(np.full(48_000, -0.5, np.float32), loop=True)
    first = run_blocks(engine, 1)
    engine.play(np.full(48_000, -0.5, np.float32), loop=True)  # before the first fade is done
    rest = run_blocks(engine, 10)
    out = np.concatenate([first, rest])
    # The old sound keeps fading along its own ramp: the glide to -0.5 stays monotonic.
    assert np.all(np.diff(out) <= 1e-6)
    assert out[-1] == pytest.approx(-0.5, abs=1e-6)


def test_a_new_loop_enters_at_the_current_position():
    engine = PlaybackEngine()
    ramp = np.linspace(0.0, 0.99, 48_000, dtype=np.float32)
    engine.play(ramp, loop=True)
    run_blocks(engine, 7)
    position = 7 * BLOCK
    engine.play(-ramp, loop=True)
    out = run_blocks(engine, 4)
    fade = engine._fade
    prepared = engine.prepare(-ramp, loop=True).data
    expected = prepared[position + fade:position + len(out)]
    np.testing.assert_allclose(out[fade:], expected, atol=1e-6)


def test_a_one_shot_still_starts_from_its_beginning():
    engine = PlaybackEngine()
    engine.play(np.full(48_000, 0.5, np.float32), loop=True)
    run_blocks(engine, 7)
    shot = engine.play(synth.sine(440, 0.2))
    out = run_blocks(engine, 8)
    fade = engine._fade
    np.testing.assert_allclose(out[fade:BLOCK * 8], shot.data[fade:BLOCK * 8], atol=1e-6)


def test_level_meter_holds_a_decaying_peak_and_an_rms():
    engine = PlaybackEngine()
    engine.play(np.full(4800, 0.5, np.float32))
    run_blocks(engine, 19)  # the sound is 18.75 blocks long
    loud = engine.telemetry()
    run_blocks(engine, 10)
    later = engine.telemetry()
    assert loud.peak == pytest.approx(0.5, abs=0.01)
    assert 0.3 < loud.rms < 0.5  # ~100 ms window over 100 ms of 0.5
    assert 0 < later.peak < loud.peak  # held, decaying: not the last (silent) block
    assert later.rms < loud.rms


# ------------------------------------------------------------------ the streamed instrument's ring
def read_ring(ring: SpliceRing, blocks: int, dac_delay: float = 0.01) -> np.ndarray:
    """Consume ``blocks`` blocks like the callback does."""
    out = np.full(blocks * BLOCK, np.nan, dtype=np.float32)
    for i in range(blocks):
        ring.read(out[i * BLOCK:(i + 1) * BLOCK], time.perf_counter(), dac_delay)
    return out


def test_stream_plays_what_is_written_ahead_and_counts_dropouts_only_while_playing():
    ring = SpliceRing(48_000, BLOCK, 48_000)
    x = synth.sine(440, 0.05)
    assert ring.write(x, ring.guard)
    ring.play_until(ring.guard + len(x))
    out = read_ring(ring, 12)
    np.testing.assert_array_equal(out[ring.guard:ring.guard + len(x)], x)
    assert not out[:ring.guard].any() and not out[ring.guard + len(x):].any()
    assert ring.dropouts == 1  # the block where the sound ends: meant to play, partly empty
    ring.play_until(FOREVER)
    read_ring(ring, 2)
    assert ring.dropouts == 3


def test_a_splice_rewrites_from_its_point_and_a_late_one_is_refused():
    ring = SpliceRing(48_000, BLOCK, 48_000)
    assert ring.write(np.full(8 * BLOCK, 0.25, np.float32), ring.guard)
    read_ring(ring, 2)  # read position: 2 blocks
    assert not ring.write(np.full(BLOCK, -0.25, np.float32), 2 * BLOCK)  # under the callback: late
    stamp = time.perf_counter() - 0.05
    assert ring.write(np.full(4 * BLOCK, -0.25, np.float32), 4 * BLOCK, stamp=stamp)
    out = read_ring(ring, 8)  # absolute samples 2..10 blocks
    np.testing.assert_array_equal(out[:2 * BLOCK], 0.25)
    np.testing.assert_array_equal(out[2 * BLOCK:6 * BLOCK], -0.25)
    assert not out[6 * BLOCK:].any()  # the old lead past the splice is gone
    assert ring.latency_count == 1
    # 50 ms ago + 10 ms until the DAC + the splice's offset in its block (none here)
    assert 0.06 <= ring.last_latency < 1.0


def test_a_splice_may_land_right_after_the_block_the_callback_claimed():
    ring = SpliceRing(48_000, 0, 48_000)  # the engine's guard: none past the claim
    assert ring.write(np.full(8 * BLOCK, 0.25, np.float32), 0)
    read_ring(ring, 2)
    assert ring.reading_until == ring.read_pos == 2 * BLOCK
    assert not ring.write(np.full(BLOCK, -0.25, np.float32), 2 * BLOCK - 1)  # already played
    assert ring.write(np.full(2 * BLOCK, -0.25, np.float32), 2 * BLOCK)
    np.testing.assert_array_equal(read_ring(ring, 2), -0.25)  # the very next block is the new sound
    assert ring.torn == 0


def test_a_blended_splice_fades_from_the_old_audio_into_the_new():
    ring = SpliceRing(48_000, 0, 48_000)
    assert ring.write(np.full(8 * BLOCK, 0.25, np.float32), 0)
    new = np.full(4 * BLOCK, -0.25, np.float32)
    assert ring.write(new, 2 * BLOCK + 10, blend=96)
    out = read_ring(ring, 6)
    join = out[2 * BLOCK + 10:2 * BLOCK + 10 + 96]
    np.testing.assert_array_equal(out[:2 * BLOCK + 10], 0.25)  # untouched before the join
    assert 0.2 < join[0] < 0.25 and -0.25 < join[-1] < -0.2
    assert np.all(np.diff(join) < 0) and np.abs(np.diff(out)).max() < 0.5 * 2 / 96 * 2  # no step
    np.testing.assert_array_equal(out[2 * BLOCK + 106:6 * BLOCK + 10], -0.25)
    np.testing.assert_array_equal(new, -0.25)  # the caller's samples are not modified
    # Past the written audio there is nothing to blend with: written as it is, after a gap.
    assert ring.write(np.full(BLOCK, 0.5, np.float32), ring.write_pos + BLOCK, blend=96)
    assert ring.write_pos == 8 * BLOCK + 10


class ClaimingSamples(np.ndarray):
    """Samples whose copy into the ring lets the callback claim its next block first: the
    GIL changing hands between the producer's check and its copy, made deterministic."""

    ring: SpliceRing

    def __getitem__(self, item):
        ring = self.ring
        ring.reading_until = ring.read_pos + BLOCK  # the callback's claim, before its copy
        return np.asarray(self).__getitem__(item)


def test_a_splice_the_callback_claimed_during_the_write_is_counted_as_torn():
    ring = SpliceRing(48_000, 0, 48_000)
    assert ring.write(np.full(8 * BLOCK, 0.25, np.float32), 0)
    read_ring(ring, 2)
    samples = np.full(2 * BLOCK, -0.25, np.float32).view(ClaimingSamples)
    samples.ring = ring
    assert ring.write(samples, 2 * BLOCK + 10)  # written: the rest of it still plays
    assert ring.torn == 1
    assert ring.write(np.full(BLOCK, 0.5, np.float32), 5 * BLOCK)  # an ordinary one is not
    assert ring.torn == 1


def test_a_splice_overwritten_before_it_was_heard_measures_nothing():
    ring = SpliceRing(48_000, BLOCK, 48_000)
    ring.write(np.zeros(16 * BLOCK, np.float32), BLOCK)
    ring.write(np.ones(8 * BLOCK, np.float32), 8 * BLOCK, stamp=time.perf_counter())
    ring.write(np.ones(8 * BLOCK, np.float32), 4 * BLOCK, stamp=time.perf_counter())  # replaces it
    read_ring(ring, 16)
    assert ring.latency_count == 1


def test_a_stream_ramps_in_through_the_engine():
    engine = PlaybackEngine()
    ring = engine.ring
    assert ring.write(np.full(20 * BLOCK, 0.5, np.float32), ring.guard)
    ring.play_until(FOREVER)
    out = run_blocks(engine, 6)
    assert not out[:ring.guard].any()
    assert np.all(np.diff(out) >= 0) and out[ring.guard] < 0.01  # no click where it starts
    assert engine.telemetry().playing and engine.telemetry().dropouts == 0


def test_stream_gain_ramps_at_start_and_stop():
    engine = PlaybackEngine()
    ring = engine.ring
    assert ring.write(np.full(40 * BLOCK, 0.5, np.float32), ring.guard)
    out = run_blocks(engine, 10)[ring.guard:]
    assert out[0] < 0.01 and np.all(np.diff(out) >= 0) and out[-1] == pytest.approx(0.5)
    engine.set_stream_gain(0.0)
    out = run_blocks(engine, 10)
    assert np.all(np.diff(out) <= 0) and out[-1] == 0.0
    step = 0.5 / (PLAYBACK_GAIN_RAMP_MS * 48)
    assert np.abs(np.diff(out)).max() <= 1.01 * step


# ------------------------------------------------------------------ real stream (JACK dummy)
def _record_playback(tmp_path, engine: PlaybackEngine, attempt: int):
    recording = tmp_path / f"rec{attempt}.wav"
    rec = subprocess.Popen(["jack_rec", "-f", str(recording), "-d", "2", "-b", "32", "PortAudio:out_0"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.4)
    # Counted from here: jack_rec joining the graph can itself cost an xrun before the
    # sound starts, which has no bearing on what the recording holds.
    engine.reset_counters()
    sound = engine.play(synth.harmonic(330, 0.5))
    rec.wait(timeout=10)
    played, sr = sf.read(str(recording), dtype="float64")
    return sound, played, sr, engine.telemetry()


@pytest.mark.audio
def test_a_callback_driven_by_hand_leaves_the_threads_scheduling_alone():
    engine = PlaybackEngine()  # no stream: the tests' and benchmarks' way of driving it
    run_blocks(engine, 3)
    assert engine.callback_scheduling is None
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # else every thread started later inherits it


def realtime_allowed() -> bool:
    import resource

    soft = resource.getrlimit(resource.RLIMIT_RTPRIO)[0]
    return os.geteuid() == 0 or soft == resource.RLIM_INFINITY or soft >= 20


def test_real_stream_plays_bit_exact(jack_server, tmp_path):
    engine = PlaybackEngine()
    assert engine.start(rescan=True), engine.error
    try:
        # A busy machine can starve JACK's dummy clock (an underrun inserts silence); the
        # engine reports it, and the check is repeated on a clean take.
        for attempt in range(3):
            sound, played, sr, telemetry = _record_playback(tmp_path, engine, attempt)
            if telemetry.underruns == 0:
                break
    finally:
        engine.close()
    assert telemetry.underruns == 0, "every take had underruns"
    assert sr == 48_000
    start = int(np.argmax(np.abs(played) > 0))
    errors = [np.abs(played[start + o:start + o + len(sound.data)] - sound.data).max()
              for o in range(-2, 2) if start + o >= 0]
    assert min(errors) < 1e-6
    assert telemetry.running and telemetry.device
    assert 0 < telemetry.latency_ms < 200
    # JACK without real-time leaves PortAudio's thread at normal scheduling: the callback
    # asked for real-time once, and got it where this user may have it.
    assert engine.host_scheduling == "normal" and not engine.host_realtime
    assert engine.callback_scheduling == ("fifo 20" if realtime_allowed() else "normal")
