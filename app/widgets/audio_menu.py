"""The Audio menu: choose the output device, rescan for new ones, reopen a lost output.

Main thread only. A view over the AudioController: the device list is read when the menu
opens (no PortAudio call until then), choosing or rescanning goes through the controller,
and what happened is told through ``message`` (the status bar) and the controller's state.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QWidget

from app.services.audio_controller import AudioController
from distill.audio.devices import DeviceScan, OutputDevice


class AudioMenu(QMenu):
    """"Output device ▸" (checkable devices, System default, Rescan devices) and "Reopen output"."""

    message = Signal(str)

    def __init__(self, audio: AudioController, parent: QWidget | None = None) -> None:
        super().__init__("&Audio", parent)
        self.audio = audio
        self.device_menu = self.addMenu("Output &device")
        self.device_menu.aboutToShow.connect(self.fill_devices)
        self.reopen_action = QAction("&Reopen output", self)
        self.reopen_action.triggered.connect(self.reopen)
        self.addAction(self.reopen_action)
        self._group = QActionGroup(self)
        self._group.setExclusive(True)

    def fill_devices(self, rescan: bool = False) -> DeviceScan:
        """List the output devices in the submenu, the chosen one checked."""
        menu = self.device_menu
        menu.clear()
        for action in self._group.actions():
            self._group.removeAction(action)
        scan = self.audio.scan_devices(rescan=rescan)
        choice = self.audio.device_choice
        chosen = scan.find(choice)
        self._add_choice("System default", None, choice is None or chosen is None)
        for device in scan.devices:
            self._add_choice(device.label, device, chosen == device)
        if scan.reason:
            menu.addAction(scan.reason).setEnabled(False)
        menu.addSeparator()
        menu.addAction("&Rescan devices", self.rescan)
        return scan

    def rescan(self) -> None:
        count = len(self.fill_devices(rescan=True).devices)
        self.message.emit(f"{count} audio output device{'s' if count != 1 else ''} found")

    def choose(self, device: OutputDevice | None) -> None:
        self.audio.set_device(None if device is None else device.name)
        self.message.emit(self.audio.state)

    def reopen(self) -> None:
        self.audio.reopen()
        self.message.emit(self.audio.state)

    def _add_choice(self, text: str, device: OutputDevice | None, checked: bool) -> None:
        action = QAction(text, self.device_menu)
        action.setCheckable(True)
        action.setChecked(checked)
        action.triggered.connect(lambda _checked=False, d=device: self.choose(d))
        self._group.addAction(action)
        self.device_menu.addAction(action)
