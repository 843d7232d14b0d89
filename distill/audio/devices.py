"""The audio output devices PortAudio offers, and what a lost device leaves behind.

Main thread only: listing with ``rescan`` re-initialises PortAudio, which closes every
stream that is open, so callers close their engine first (``PlaybackEngine.close``) and
start it again afterwards.

A JACK server that goes away under PortAudio 19.6 poisons PortAudio for the rest of the
process (measured with the dummy backend): ``Pa_Terminate`` then fails an assertion in
``pa_jack.c`` (the process aborts) or, with the dead stream still open, blocks for good.
``forget_lost_host`` records such a loss: from then on a rescan is refused with a reason
(``rescan_blocker``) and sounddevice's exit handler, which would terminate PortAudio, is
unregistered so quitting still works. Nothing here raises for "no PortAudio" or "no
devices": the scan comes back empty with a reason.
"""

from __future__ import annotations

import atexit
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: Host APIs whose loss leaves PortAudio unable to terminate (see the module docstring).
FRAGILE_HOST_APIS = ("JACK Audio Connection Kit",)

_rescan_blocker: str | None = None


@dataclass(frozen=True)
class OutputDevice:
    """One PortAudio device that can play (``max_output_channels`` > 0)."""

    index: int
    name: str
    host_api: str
    default_sample_rate: float
    max_output_channels: int
    is_default: bool

    @property
    def label(self) -> str:
        """What a menu shows: the name and, in brackets, the host API."""
        return f"{self.name} ({self.host_api})"


@dataclass(frozen=True)
class DeviceScan:
    """The result of a scan: the output devices, and why there are none when empty."""

    devices: tuple[OutputDevice, ...]
    reason: str | None = None

    def find(self, name_or_index: int | str | None) -> OutputDevice | None:
        """The device with this index, name or ``label``; None when absent (or None given)."""
        if name_or_index is None:
            return None
        for device in self.devices:
            if isinstance(name_or_index, int) and not isinstance(name_or_index, bool):
                if device.index == name_or_index:
                    return device
            elif name_or_index in (device.name, device.label):
                return device
        return None

    @property
    def default(self) -> OutputDevice | None:
        return next((d for d in self.devices if d.is_default), None)


def list_output_devices(rescan: bool = False) -> DeviceScan:
    """The output devices PortAudio offers now.

    Parameters
    ----------
    rescan
        Re-initialise PortAudio first, so devices that appeared after it started (a JACK
        server, a USB interface) are seen. Closes every open stream: close the engine
        first. Refused (the current list is returned, ``reason`` says why) after a loss
        recorded by ``forget_lost_host``.
    """
    try:
        import sounddevice as sd
    except OSError as exc:  # libportaudio missing
        return DeviceScan((), f"PortAudio could not be loaded ({exc})")
    note = None
    if rescan and _rescan_blocker is not None:
        note = _rescan_blocker
    elif rescan:
        try:
            sd._terminate()
            sd._initialize()
        except Exception as exc:  # sd.PortAudioError: PortAudio is unusable now
            return DeviceScan((), f"PortAudio could not be re-initialised ({exc})")
    try:
        raw_devices = sd.query_devices()
        host_apis = sd.query_hostapis()
        default_index = _default_output(sd)
    except Exception as exc:  # sd.PortAudioError
        return DeviceScan((), f"PortAudio could not list devices ({exc})")
    devices = tuple(
        OutputDevice(index=index, name=str(info["name"]),
                     host_api=str(host_apis[info["hostapi"]]["name"]),
                     default_sample_rate=float(info["default_samplerate"]),
                     max_output_channels=int(info["max_output_channels"]),
                     is_default=index == default_index)
        for index, info in enumerate(raw_devices) if info["max_output_channels"] > 0)
    if not devices:
        return DeviceScan((), note or "no audio output device found")
    return DeviceScan(devices, note)


def rescan_blocker() -> str | None:
    """Why a rescan is refused in this process (None: it is allowed)."""
    return _rescan_blocker


def forget_lost_host(host_api: str | None) -> None:
    """Record that a device of ``host_api`` went away under an open stream.

    For a host API in ``FRAGILE_HOST_APIS`` PortAudio cannot be terminated any more in
    this process: rescans are refused from now on and sounddevice's exit handler is
    unregistered (it would abort or block the process at exit). Other host APIs recover
    with a rescan; nothing is recorded for them.
    """
    global _rescan_blocker
    if host_api not in FRAGILE_HOST_APIS or _rescan_blocker is not None:
        return
    _rescan_blocker = (f"the {host_api} server went away; PortAudio cannot reconnect to it "
                       "until distill-studio restarts")
    log.warning("audio: %s", _rescan_blocker)
    try:
        import sounddevice as sd
    except OSError:
        return
    atexit.unregister(sd._exit_handler)


def _default_output(sd) -> int:
    try:
        return int(sd.query_devices(kind="output")["index"])
    except Exception:  # PortAudioError "Error querying device -1": there is no default output
        return -1
