"""Right-click "Learn MIDI" on the instrument's controls, installed from the outside.

``LearnMenus`` is an event filter: the sliders, the XY pad, the morph slider and the volume
need no code of their own. A right-click (a click, not a right-drag, on the XY pad, whose
right-drag zooms) opens a menu with "Learn MIDI: <control>" for each target under the
pointer, and "Forget MIDI: <control>" where a mapping exists. Learning itself is the
``ControlSurface``'s. GUI thread only.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtWidgets import QMenu, QWidget

from app.services.control_map import axis_target
from app.services.control_surface import ControlSurface

#: A right button moved less than this (pixels) between press and release is a click.
CLICK_SLOP = 4


class LearnMenus(QObject):
    """Context menus of learnable controls (see the module docstring).

    ``add(widget, targets)``: ``targets(pos)`` lists the targets at ``pos`` (the widget's
    coordinates). ``add_click(widget, targets)`` is for a view whose right-drag must stay.
    """

    def __init__(self, surface: ControlSurface, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.surface = surface
        self._targets: dict[QObject, Callable[[QPoint], list[str]]] = {}
        self._click_only: set[QObject] = set()
        self._pressed: QPoint | None = None
        self.menu: QMenu | None = None  # the last menu shown (tests read it)

    def add(self, widget: QWidget, targets: Callable[[QPoint], list[str]]) -> None:
        self._targets[widget] = targets
        widget.installEventFilter(self)

    def add_click(self, widget: QWidget, targets: Callable[[QPoint], list[str]]) -> None:
        self._click_only.add(widget)
        self.add(widget, targets)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched not in self._targets:
            return False
        kind = event.type()
        if watched in self._click_only:
            if kind == QEvent.Type.ContextMenu:
                return True  # shown on release instead, so a right-drag still zooms
            if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease):
                mouse = event  # PySide hands the QMouseEvent itself
                if mouse.button() != Qt.MouseButton.RightButton:
                    return False
                pos = mouse.position().toPoint()
                if kind == QEvent.Type.MouseButtonPress:
                    self._pressed = pos
                elif self._pressed is not None and (pos - self._pressed).manhattanLength() < CLICK_SLOP:
                    self._pressed = None
                    return self.show_menu(watched, pos, mouse.globalPosition().toPoint())
            return False
        if kind == QEvent.Type.ContextMenu:
            return self.show_menu(watched, event.pos(), event.globalPos())
        return False

    def show_menu(self, widget: QObject, pos: QPoint, global_pos: QPoint) -> bool:
        """Open the menu for the targets at ``pos``; False (event passes on) when there are none."""
        targets = self._targets[widget](pos)
        if not targets or self.surface.instrument.state is None:
            return False
        ranges = self.surface.ranges
        mapped = {m.target for m in self.surface.mapper.mappings}
        menu = QMenu(widget if isinstance(widget, QWidget) else None)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for target in targets:
            menu.addAction(f"Learn MIDI: {ranges.name(target)}", lambda t=target: self.surface.learn(t))
        for target in targets:
            if target in mapped:
                menu.addAction(f"Forget MIDI: {ranges.name(target)}", lambda t=target: self._forget(t))
        self.menu = menu
        menu.popup(global_pos)
        return True

    def _forget(self, target: str) -> None:
        for index in reversed(range(len(self.surface.mapper.mappings))):
            if self.surface.mapper.mappings[index].target == target:
                self.surface.remove_mapping(index)


def slider_rows(sliders_widget) -> Callable[[QPoint], list[str]]:
    """Targets at a point of ``AxisSlidersWidget``: the axis of the row (label, slider or value)."""
    def targets(pos: QPoint) -> list[str]:
        child = sliders_widget.childAt(pos)
        for i, row in enumerate(zip(sliders_widget.labels, sliders_widget.sliders,
                                    sliders_widget.value_labels, strict=True)):
            if child is not None and any(child is w or w.isAncestorOf(child) for w in row):
                return [axis_target(i)]
        return []
    return targets
