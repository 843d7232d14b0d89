"""OSC flood on a real stream: ``python benchmarks/realtime.py --osc-flood 10000 [--model M]``.

The studio's own path, headless: ``AudioController`` on the JACK dummy device,
``InstrumentController`` playing the model, ``ControlSurface`` with its OSC server on a free
port and its drain timer on a Qt event loop. Another process (a real OSC client, as a patch
in Pd or SuperCollider would be) sends N messages spread evenly over one second —
``/distill/axis/1`` and ``/distill/xy`` alternating (``/distill/latent`` for a model without
axes). Two windows of ``--flood-window`` seconds are measured the same way: quiet (playing,
no messages) and flood (the burst and its tail). Reported per window: underruns, dropouts,
latency p50/p95/max; and for the flood: messages received, moves applied (the survivors of
the rate limit), values superseded, problems counted, the sender's achieved rate.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

SENDER = r"""
import sys, time
from pythonosc.udp_client import SimpleUDPClient
port, n, dim, axes = (int(a) for a in sys.argv[1:5])
client = SimpleUDPClient("127.0.0.1", port)
began = time.perf_counter()
for i in range(n):
    wait = began + i / n - time.perf_counter()
    if wait > 0:
        time.sleep(wait)
    t = (i % 200) / 199
    if not axes:
        client.send_message("/distill/latent", [t - 0.5] * dim)
    elif i % 2:
        client.send_message("/distill/xy/norm", [t, 1 - t])
    else:
        client.send_message("/distill/axis/1/norm", t)
print(time.perf_counter() - began)
"""


def run_osc_flood(args: argparse.Namespace, find_model) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.services.audio_controller import AudioController
    from app.services.control_surface import ControlSurface
    from app.services.instrument import InstrumentController
    from distill.audio.playback import PlaybackEngine
    from distill.render import Renderer
    from distill.threads import settle_heap

    app = QApplication.instance() or QApplication([])
    engine = PlaybackEngine()
    if not engine.start(rescan=True):
        raise SystemExit(f"no audio device: {engine.error}")
    audio = AudioController(engine=engine)
    instrument = InstrumentController(audio)
    renderer = Renderer.from_file(find_model(args.model))
    instrument.open(renderer)
    surface = ControlSurface(instrument)

    def pump(seconds: float, until=None) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end and not (until and until()):
            app.processEvents()
            time.sleep(0.001)

    pump(120, until=lambda: instrument.ready)
    if not instrument.ready:
        raise SystemExit("the instrument did not warm up")
    settle_heap()  # as the studio does once a model is open
    if not surface.set_osc(True, port=0):
        raise SystemExit(surface.osc_status)
    instrument.play()
    pump(2.0)  # steady state

    def window(flood: bool) -> dict:
        engine.reset_counters()
        received, applied = surface.inbox.received, surface.applied
        superseded, problems = surface.inbox.superseded, surface.problems.total
        sender = None
        if flood:
            axes = int(surface.ranges.num_axes > 0)
            sender = subprocess.Popen([sys.executable, "-c", SENDER, str(surface.osc_server.port),
                                       str(args.osc_flood), str(renderer.latent_dim), str(axes)],
                                      stdout=subprocess.PIPE, text=True)
        pump(args.flood_window)
        send_s = float(sender.communicate(timeout=60)[0]) if sender is not None else None
        pump(0.1)
        t = engine.telemetry()
        return {"underruns": t.underruns, "dropouts": t.dropouts, "latency_ms_p50": t.latency_p50_ms,
                "latency_ms_p95": t.latency_p95_ms, "latency_ms_max": t.latency_max_ms,
                "received": surface.inbox.received - received, "applied": surface.applied - applied,
                "superseded": surface.inbox.superseded - superseded,
                "problems": surface.problems.total - problems,
                "send_s": send_s, "still_playing": instrument.playing}

    quiet = window(False)
    flood = window(True)
    surface.shutdown()
    instrument.close()
    audio.close()
    row = {"model": str(renderer.path), "messages": args.osc_flood, "window_s": args.flood_window}
    row.update({f"quiet_{k}": v for k, v in quiet.items() if k not in ("send_s", "received", "superseded")})
    row.update({f"flood_{k}": v for k, v in flood.items()})
    if flood["send_s"]:
        row["flood_rate_per_s"] = args.osc_flood / flood["send_s"]
    row["problem_counts"] = str(surface.problems.counts())
    return row
