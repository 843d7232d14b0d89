"""Listing output devices: the shape of a scan, lookups, and a JACK server seen after a rescan."""

from __future__ import annotations

import pytest

from distill.audio import devices
from distill.audio.devices import DeviceScan, OutputDevice

JACK = "JACK Audio Connection Kit"


def _scan() -> DeviceScan:
    return DeviceScan((
        OutputDevice(0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)", "ALSA", 48000.0, 2, False),
        OutputDevice(3, "system", JACK, 48000.0, 2, True),
        OutputDevice(4, "Scarlett 2i2", "ALSA", 44100.0, 2, False),
    ))


def test_find_by_index_name_and_label():
    scan = _scan()
    assert scan.find(3).name == "system"
    assert scan.find("Scarlett 2i2").index == 4
    assert scan.find(f"system ({JACK})").index == 3
    assert scan.default.index == 3
    assert scan.find("USB interface unplugged yesterday") is None
    assert scan.find(7) is None and scan.find(None) is None


def test_a_scan_always_answers_without_raising():
    scan = devices.list_output_devices()
    assert isinstance(scan.devices, tuple)
    for device in scan.devices:
        assert device.max_output_channels > 0 and device.default_sample_rate > 0
    if not scan.devices:
        assert scan.reason  # empty only with a reason a status bar can show
    assert sum(d.is_default for d in scan.devices) <= 1


def test_losing_a_host_api_that_recovers_blocks_nothing():
    devices.forget_lost_host("ALSA")
    devices.forget_lost_host(None)
    assert devices.rescan_blocker() is None


@pytest.mark.audio
def test_a_jack_server_appears_after_a_rescan(jack_server):
    scan = devices.list_output_devices(rescan=True)
    jack = [d for d in scan.devices if d.host_api == JACK]
    assert jack, f"JACK not listed: {scan}"
    system = scan.find("system")
    assert system is not None and system.host_api == JACK
    assert system.max_output_channels == 2  # the dummy backend's two playback ports
    assert system.default_sample_rate == 48000
    assert scan.find(system.index) == system and scan.find(system.label) == system
    assert scan.reason is None
