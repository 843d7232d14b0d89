"""The real-time loop, the frame synthesizer and render_performance, with the tiny tone model.

Real parts throughout: the tone model (tests/render/conftest.py), the PlaybackEngine (its
callback driven like PortAudio would, or a real stream through JACK's dummy backend).
"""

from __future__ import annotations

import os
import subprocess
import time
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch

from distill.audio.playback import PlaybackEngine
from distill.audio.ring import RingTap
from distill.render import ControlState, RealtimeConfig, RealtimeLoop, render_performance
from distill.render.performance import effect_frame, make_synthesizer
from distill.render.stream import clip_cycle

BLOCK = 256
SR = 48_000


def latents(renderer, n: int) -> list[torch.Tensor]:
    """``n`` latents along the analysis' first axis, from its low end to its high end."""
    space = renderer.analysis.space
    out = []
    for x in np.linspace(0.0, 1.0, n):
        values = space.low + (space.high - space.low) * float(x)
        out.append(space.controls_to_latent(torch.as_tensor(values, dtype=torch.float32)))
    return out


def drive(engine: PlaybackEngine, blocks: int) -> np.ndarray:
    """Run the engine's callback ``blocks`` times like PortAudio would; the left channel."""
    out = []
    for _ in range(blocks):
        buf = np.full((BLOCK, 2), np.nan, dtype=np.float32)
        engine._callback(buf, BLOCK, SimpleNamespace(outputBufferDacTime=1.01, currentTime=1.0),
                         SimpleNamespace(output_underflow=False))
        out.append(buf[:, 0].copy())
    return np.concatenate(out)


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def seam_jumps(audio: np.ndarray, points, radius: int = 2) -> tuple[float, float]:
    """(largest |x[n+1] - x[n]| within ``radius`` of the points, largest elsewhere)."""
    jumps = np.abs(np.diff(audio))
    near = np.zeros(jumps.shape[0], dtype=bool)
    for p in points:
        near[max(0, p - radius):p + radius] = True
    return float(jumps[near].max()), float(jumps[~near].max())


# ------------------------------------------------------------------ offline: render_performance
def test_render_performance_is_deterministic_and_changes_take_effect_at_their_sample(renderer):
    a, b = latents(renderer, 2)
    hop = renderer.spectrogram.config.hop_length
    held = [ControlState(a, 10.0)]
    moved = [ControlState(a, 10.0), ControlState(b, 10.1)]
    n = SR // 2
    one = render_performance(renderer, held, n)
    two = render_performance(renderer, moved, n)
    np.testing.assert_array_equal(two, render_performance(renderer, moved, n))
    change = effect_frame(round(0.1 * SR), hop) * hop
    assert change == 4864  # sample 4800, rounded up to the next frame boundary
    np.testing.assert_array_equal(two[:change], one[:change])
    assert np.abs(two[change:change + hop] - one[change:change + hop]).max() > 0
    assert two.dtype == np.float32 and two.shape == (n,)


def test_a_stream_holds_the_sound_without_restarting(renderer):
    # A held stream repeats the clip every half clip with energy crossfades: no gaps, and
    # a control change mid-stream joins without a jump beyond the signal's own.
    states = [ControlState(z, 0.05 * i) for i, z in enumerate(latents(renderer, 10))]
    wave = render_performance(renderer, states, SR)
    hop = renderer.spectrogram.config.hop_length
    body = wave[2048:]
    assert np.abs(body).max() > 0.01
    envelope = np.convolve(np.abs(body), np.ones(96) / 96, mode="valid")  # 2 ms
    assert envelope.min() > 0.02 * envelope.max()  # never falls silent
    joins = [effect_frame(round(s.stamp * SR), hop) * hop - 2048 for s in states[1:]]
    at_joins, elsewhere = seam_jumps(body, joins)
    assert at_joins <= 1.1 * elsewhere


def test_loop_mode_wraps_seamlessly(renderer):
    z = latents(renderer, 1)[0]
    config = RealtimeConfig(loop_join_frames=4)
    wave = render_performance(renderer, [ControlState(z, 0.0, mode="loop")], SR, config=config)
    hop = renderer.spectrogram.config.hop_length
    period = (renderer.clip_frames - 4) * hop
    wraps = list(range(period, SR - 2048, period))
    at_wraps, elsewhere = seam_jumps(wave[2048:], [w - 2048 for w in wraps])
    assert at_wraps <= 1.1 * elsewhere


def test_stop_fades_out_to_silence(renderer):
    z = latents(renderer, 1)[0]
    states = [ControlState(z, 0.0), ControlState(z, 0.2, playing=False)]
    wave = render_performance(renderer, states, SR // 2)
    hop = renderer.spectrogram.config.hop_length
    stop = effect_frame(round(0.2 * SR), hop) * hop
    ramp = round(RealtimeConfig().gain_ramp_ms * SR / 1000)
    held = render_performance(renderer, states[:1], SR // 2)
    np.testing.assert_array_equal(wave[:stop], held[:stop])
    assert np.abs(wave[stop - 2 * hop:stop]).max() > 0.01
    gain = 1.0 - np.arange(1, ramp + 1) / ramp  # a linear ramp from where the gain stood
    np.testing.assert_allclose(wave[stop:stop + ramp], held[stop:stop + ramp] * gain, atol=1e-6)
    assert not wave[stop + ramp + hop:].any()


def test_mode_change_enters_at_the_current_read_position(renderer):
    z = latents(renderer, 1)[0]
    synth = make_synthesizer(renderer, RealtimeConfig())
    clip = renderer.decode(z[None])[0]
    state = synth.with_control(synth.initial_state(), clip_cycle(clip, "stream", 4), 1.0)
    state = synth.render(state, 5).states[-1]
    assert state.positions == (5,)
    looped = synth.with_control(state, clip_cycle(clip, "loop", 4), 1.0)
    assert looped.positions == (5, 5) and looped.fade_step == 0


def test_control_states_are_checked():
    with pytest.raises(ValueError, match="mode"):
        ControlState(torch.zeros(4), 0.0, mode="granular")
    with pytest.raises(ValueError, match="gain"):
        ControlState(torch.zeros(4), 0.0, gain=-1.0)
    assert RealtimeConfig.from_json(RealtimeConfig().to_json()) == RealtimeConfig()


# ------------------------------------------------------------------ the loop without a device
def test_without_a_device_the_loop_runs_and_submit_is_harmless(renderer):
    engine = PlaybackEngine(device="no such audio device")
    assert engine.start() is False
    loop = RealtimeLoop(renderer, engine)
    try:
        assert loop.start(timeout=60) and loop.ready
        for z in latents(renderer, 3):
            loop.submit(ControlState(z, time.perf_counter()))
        wait_for(lambda: loop.stats().renders + loop.stats().skipped == 3)
        assert loop.stats().error is None
    finally:
        loop.close()
    assert render_performance(renderer, [ControlState(latents(renderer, 1)[0], 0.0)], 4800).any()


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_the_loop_decodes_in_its_own_precision_close_to_the_renderer(renderer, precision):
    engine = PlaybackEngine(device="no such audio device")
    loop = RealtimeLoop(renderer, engine, RealtimeConfig(decode_precision=precision))
    z = latents(renderer, 4)
    try:
        assert loop.start(timeout=60)
        assert loop.stats().decode_precision == precision
        ours = torch.stack([loop._decode(latent) for latent in z])  # the thread waits: no race
    finally:
        loop.close()
    reference = renderer.decode(torch.stack(z))
    assert ours.shape == reference.shape
    # Channel 0 is the natural log of the band energy: 0.1 is under 1 dB.
    assert (ours[:, 0] - reference[:, 0]).abs().max() < 0.1
    assert (ours[:, 1] - reference[:, 1]).abs().max() < 0.02
    if precision == "float32":
        torch.testing.assert_close(ours, reference)


def test_the_render_thread_is_real_time_exactly_while_the_hosts_audio_path_is(renderer):
    # The callback reports its thread's scheduling as the host made it (host_scheduling);
    # here no stream runs, so the test writes it as the callback would.
    import resource

    limit = resource.getrlimit(resource.RLIMIT_RTPRIO)[0]
    allowed = os.geteuid() == 0 or limit == resource.RLIM_INFINITY or limit >= 1
    engine = PlaybackEngine(device="no such audio device")
    loop = RealtimeLoop(renderer, engine)
    try:
        assert loop.start(timeout=60)
        assert loop.stats().scheduling == "normal"  # no host yet
        engine.host_scheduling = "fifo 65"  # JACK with -R: its client thread is real-time
        wait_for(lambda: loop.stats().scheduling != "normal" or not allowed)
        assert loop.stats().scheduling == ("fifo 10" if allowed else "normal")
        engine.host_scheduling = "normal"  # a new stream on a host without real-time
        wait_for(lambda: loop.stats().scheduling == "normal")
    finally:
        loop.close()
    off = RealtimeLoop(renderer, engine, RealtimeConfig(realtime_scheduling=False))
    engine.host_scheduling = "fifo 65"
    try:
        assert off.start(timeout=60)
        time.sleep(0.1)
        assert off.stats().scheduling == "normal"
    finally:
        off.close()


def test_a_submitted_state_is_spliced_in_continuously_with_its_time_stamp(renderer):
    # The engine's callback is driven by hand: the loop writes ahead, a new state is
    # spliced in ahead of the read position, and the latency is measured from its stamp.
    engine = PlaybackEngine()
    loop = RealtimeLoop(renderer, engine)
    tap = RingTap(engine.ring, int(2.0 * SR))
    a, b = latents(renderer, 2)
    try:
        assert loop.start(timeout=60)
        loop.submit(ControlState(a, time.perf_counter()))
        wait_for(lambda: engine.ring.write_pos >= loop._lead)
        drive(engine, 20)
        engine.reset_counters()
        stamp = time.perf_counter() - 0.05
        splices_before = loop.stats().splices
        loop.submit(ControlState(b, stamp))
        wait_for(lambda: loop.stats().splices > splices_before)
        wait_for(lambda: engine.ring.write_pos >= engine.ring.read_pos + loop._lead - 4 * 512)
        drive(engine, 20)
        telemetry = engine.telemetry()
        frames = loop.recent_frames()
    finally:
        loop.close()
    assert len(tap.splices) >= 2  # the first state, the second (and the fade-out at close)
    body = tap.audio[4096:40 * BLOCK]
    envelope = np.convolve(np.abs(body), np.ones(96) / 96, mode="valid")  # 2 ms
    assert envelope.min() > 0.02 * envelope.max()  # never silent across the splice
    at_splice, elsewhere = seam_jumps(body, [tap.splices[1] - 4096])
    assert at_splice <= 1.1 * elsewhere
    assert telemetry.latency_count == 1
    assert telemetry.latency_ms >= 60  # 50 ms before the submit + 10 ms to the DAC
    assert loop.stats().late_splices == 0
    assert frames is not None and frames.shape[:2] == (2, renderer.spectrogram.config.n_mels)


# ------------------------------------------------------------------ a real stream (JACK dummy)
@pytest.mark.audio
def test_a_recorded_sweep_never_falls_silent_and_splices_do_not_click(renderer, jack_server, tmp_path):
    engine = PlaybackEngine()
    assert engine.start(rescan=True), engine.error
    loop = RealtimeLoop(renderer, engine)
    tap = RingTap(engine.ring, int(10.0 * SR))
    ring = engine.ring
    recording = tmp_path / "sweep.wav"
    try:
        assert loop.start(timeout=60)
        path = latents(renderer, 20)
        loop.submit(ControlState(path[0], time.perf_counter() - 0.05))
        time.sleep(0.3)
        rec = subprocess.Popen(["jack_rec", "-f", str(recording), "-d", "5", "-b", "32", "PortAudio:out_0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        first_latency = engine.telemetry().latency_ms
        start = ring.read_pos
        began = time.perf_counter()
        for i in range(100):  # 20 changes a second for 5 s, back and forth along the axis
            time.sleep(max(0.0, began + i * 0.05 - time.perf_counter()))
            loop.submit(ControlState(path[abs(19 - i % 38)], time.perf_counter()))
        rec.wait(timeout=15)
        end = ring.read_pos
        telemetry, stats = engine.telemetry(), loop.stats()
    finally:
        loop.close()
        engine.close()
    assert first_latency is not None and first_latency >= 50  # measured from the state's stamp
    assert 0 < telemetry.latency_p50_ms < 500
    assert stats.renders > 10
    recorded, sr = sf.read(str(recording), dtype="float32")
    assert sr == SR
    if telemetry.underruns == 0 and telemetry.dropouts == 0:
        # JACK's dummy clock can be starved on a busy machine (an underrun inserts silence).
        quiet = np.abs(recorded) < 1e-4
        runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]]))))[::2]
        assert runs.size == 0 or runs.max() < 0.003 * SR  # never a gap longer than 3 ms
    body = tap.audio[start + 4096:end]
    points = [s - start - 4096 for s in tap.splices if start + 4096 < s < end - 1]
    assert len(points) > 10
    at_splices, elsewhere = seam_jumps(body, points)
    assert at_splices <= 1.1 * elsewhere


def test_a_decoder_that_overshoots_still_sounds(renderer):
    # An early-stopped decoder can output magnitudes in the hundreds: expm1 of them
    # overflows float32. The stream and the clip join keep them finite (MAG_CEILING), as
    # the offline inverse does, instead of turning the output into NaN and silence.
    from distill.render.performance import make_synthesizer
    from distill.render.sequence import join_clips

    clip = renderer.decode(latents(renderer, 1)[0])[0]
    clip[0] = clip[0] * 0 + 200.0  # far above float32's expm1 range
    cycle = clip_cycle(clip, "stream", 4)
    assert np.isfinite(cycle.energy).all() and np.isfinite(cycle.weighted_if).all()
    synth = make_synthesizer(renderer, RealtimeConfig())
    state = synth.with_control(synth.initial_state(), cycle, 1.0)
    out = synth.render(state, 40).samples
    assert np.isfinite(out).all() and np.abs(out).max() > 1e-3
    joined = join_clips(torch.stack([clip, clip]), 4)
    assert torch.isfinite(joined).all()
