"""TrainingSettingsWidget: the preset and the training settings a musician may change.

The dataset-size preset (``distill.training.presets``) fills in every setting the user did
not change; a setting the user changed is *explicit* and wins over the preset. So the
widget keeps two things apart: which settings were changed (their label turns bold; "Use
preset values" forgets them) and what every field shows — an explicit value, or the value
the preset will use for this dataset, updated when the preset or the dataset changes.
The Epochs field shows the epochs the run will make: a preset's ``min_steps`` raises them
for a folder of few clips, and the note under the field says so (``plan_epochs``, over the
same training split the run makes). Epochs the user set run exactly as set; the note says
when they make fewer steps than the preset would. Only explicit settings are remembered
(``AppSettings``) and passed to ``train`` as ``explicit``.

Main settings are always visible; the advanced ones (KL warm-up, loss weights, validation
share, seed, threads, checkpoints, augmentation) sit in a collapsed section.

GUI thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.services.settings import AppSettings
from distill.training.config import PRESET_NAMES, ModelConfig, TrainingConfig
from distill.training.overrides import config_value, config_with
from distill.training.presets import EpochPlan, choose_preset, plan_epochs, resolve_preset

log = logging.getLogger(__name__)

SETTINGS_KEY = "train/settings"
#: Explicit-able settings: key (``TrainingConfig`` field, or ``section.field``) -> label, kind,
#: range, tooltip. Kind: int, float (linear, step), log (decades), bool.
MAIN = {
    "epochs": ("Epochs", "int", (1, 100_000), "How many passes over the dataset"),
    "batch_size": ("Batch size", "int", (1, 1024), "Clips per training step"),
    "learning_rate": ("Learning rate", "log", (1e-6, 1.0), "Step size of the optimiser (AdamW)"),
}
ADVANCED = {
    "kl_warmup_fraction": ("KL warm-up", "float", (0.0, 1.0, 0.05),
                           "Share of the run over which the KL weight ramps up from 0"),
    "kl_max_beta": ("KL max beta", "log", (0.0, 1.0), "KL weight after the warm-up: higher gives "
                    "a smoother latent space, lower sharper reconstructions"),
    "loss_weights.magnitude": ("Magnitude weight", "float", (0.0, 100.0, 0.1),
                               "Weight of the magnitude loss"),
    "loss_weights.instantaneous_frequency": ("IF weight", "float", (0.0, 100.0, 0.1),
                                             "Weight of the instantaneous-frequency loss"),
    "loss_weights.stft": ("STFT weight", "float", (0.0, 100.0, 0.05),
                          "Weight of the multi-resolution STFT loss on the waveform (0, the "
                          "default, turns it off: it measured worse and slower on real folders)"),
    "loss_weights.level": ("Level weight", "float", (0.0, 100.0, 0.1),
                           "Weight of the frame-level term: each frame's summed energy, whatever "
                           "its spectral shape, so that sounds unlike the training clips keep "
                           "their level (0 turns it off)"),
    "loss_weights.kl": ("KL weight", "float", (0.0, 100.0, 0.1), "Weight of the KL term"),
    "validation_fraction": ("Validation share", "float", (0.0, 0.9, 0.05),
                            "Share of the clips (or files) held out to measure generalisation"),
    "seed": ("Seed", "int", (0, 2**31 - 1), "Same seed, same data, same settings: same model"),
    "num_threads": ("CPU threads", "int", (0, 256), "0 = automatic"),
    "checkpoint_every_epochs": ("Checkpoint every", "int", (1, 10_000),
                                "Epochs between checkpoints (one is also saved when the run stops)"),
    "augmentation.enabled": ("Augmentation", "bool", (), "Random gain, shifts and noise: helps "
                             "small datasets"),
}
FIELDS = {**MAIN, **ADVANCED}
DEFAULT_LATENT = ModelConfig().latent_dim


class LogSpinBox(QDoubleSpinBox):
    """A spin box for values spanning decades: shows ``0.001``/``1e-05``, steps by x1.78."""

    def __init__(self, minimum: float, maximum: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        self.setRange(minimum, maximum)
        self.setKeyboardTracking(False)

    def textFromValue(self, value: float) -> str:
        return f"{value:.3g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        try:
            value = float(text)
        except ValueError:
            ok = all(c in "0123456789.eE+-" for c in text)
            return (QValidator.State.Intermediate if ok else QValidator.State.Invalid), text, pos
        inside = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if inside else QValidator.State.Intermediate), text, pos

    def stepBy(self, steps: int) -> None:
        value = self.value() if self.value() > 0 else max(self.minimum(), 1e-5)
        self.setValue(value * 10 ** (steps / 4))


class TrainingSettingsWidget(QWidget):
    """Preset, main and advanced training settings; which ones the user set.

    Signals
    -------
    changed()
        The user changed a setting or the preset.
    """

    changed = Signal()

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._explicit: dict[str, Any] = {}
        self._num_files: int | None = None
        self._clips_per_file: tuple[int, ...] | None = None
        self._plan: EpochPlan | None = None
        self._updating = False  # set while the code (not the user) fills the fields
        self.preset_combo = QComboBox(self)
        for name in PRESET_NAMES:
            self.preset_combo.addItem(name, name)
        self.preset_combo.setToolTip("Settings for the size of the dataset; auto picks one "
                                     "(tiny: up to 20 files, small: up to 100, large: more)")
        self.preset_combo.currentIndexChanged.connect(self._on_preset)
        self.latent_spin = QSpinBox(self)
        self.latent_spin.setRange(1, 1024)
        self.latent_spin.setValue(DEFAULT_LATENT)
        self.latent_spin.setToolTip("Size of the latent space the sounds are encoded into")
        self.latent_spin.valueChanged.connect(lambda _v: self._on_latent())
        self.inputs: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}

        main = QFormLayout()
        main.addRow("Preset", self.preset_combo)
        self._add_rows(main, MAIN)
        self.epochs_note = QLabel("", self)
        self.epochs_note.setWordWrap(True)
        self.epochs_note.setProperty("role", "caption")
        self.epochs_note.setVisible(False)
        main.insertRow(main.getWidgetPosition(self.inputs["epochs"])[0] + 1, self.epochs_note)
        main.addRow("Latent size", self.latent_spin)
        self.advanced_button = QToolButton(self)
        self.advanced_button.setText("Advanced settings")
        self.advanced_button.setCheckable(True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.toggled.connect(self._on_advanced_toggled)
        self.advanced = QWidget(self)
        advanced = QFormLayout(self.advanced)
        advanced.setContentsMargins(0, 0, 0, 0)
        self._add_rows(advanced, ADVANCED)
        self.reset_button = QPushButton("Use preset values", self)
        self.reset_button.setToolTip("Forget the settings you changed: the preset decides them all")
        self.reset_button.clicked.connect(self.reset_to_preset)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(main)
        layout.addWidget(self.advanced_button)
        layout.addWidget(self.advanced)
        layout.addWidget(self.reset_button)
        layout.addStretch(1)
        self.restore()

    # ------------------------------------------------------------------ public
    @property
    def preset(self) -> str:
        return self.preset_combo.currentData()

    @property
    def latent_dim(self) -> int:
        return self.latent_spin.value()

    def explicit(self) -> set[str]:
        """``TrainingConfig`` names the user set (``apply_preset``'s ``explicit``)."""
        names = {key for key in self._explicit if not key.startswith("loss_weights.")}
        if any(key.startswith("loss_weights.") for key in self._explicit):
            names.add("loss_weights")
        return names

    def explicit_values(self) -> dict[str, Any]:
        """Setting key -> value, for the settings the user changed."""
        return dict(self._explicit)

    def training_config(self) -> TrainingConfig:
        """Defaults, the preset's name and the explicit values (the preset is applied by
        ``train``, which knows the number of usable files)."""
        return config_with(TrainingConfig(preset=self.preset), self._explicit)

    @property
    def epoch_plan(self) -> EpochPlan | None:
        """The epochs the next run will make and why (None until the clips are known)."""
        return self._plan

    def set_dataset_size(self, num_files: int | None,
                         clips_per_file: Sequence[int] | None = None) -> None:
        """Show what the preset gives for a dataset of ``num_files`` usable files holding
        ``clips_per_file`` clips (``[e.clips for e in cache.files]``; None: not counted yet,
        so the epochs a preset's ``min_steps`` adds cannot be shown)."""
        self._num_files = num_files
        self._clips_per_file = None if clips_per_file is None else tuple(clips_per_file)
        self._refresh()

    def set_preset(self, name: str) -> None:
        self.preset_combo.setCurrentIndex(PRESET_NAMES.index(name))

    def set_value(self, key: str, value: Any) -> None:
        """Set a setting as the user would (it becomes explicit)."""
        _set(self.inputs[key], value)

    def set_advanced_visible(self, visible: bool) -> None:
        self.advanced.setVisible(visible)
        self.advanced_button.setChecked(visible)
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if visible else Qt.ArrowType.RightArrow)

    def reset_to_preset(self) -> None:
        self._explicit.clear()
        self._refresh()
        self.save()
        self.changed.emit()

    def save(self) -> None:
        self._settings.set_value(SETTINGS_KEY, {
            "preset": self.preset, "explicit": self._explicit, "latent_dim": self.latent_dim,
            "advanced_open": self.advanced_button.isChecked()})

    def restore(self) -> None:
        """The last choices from the settings; anything unknown or invalid is ignored."""
        saved = self._settings.value(SETTINGS_KEY, {})
        saved = saved if isinstance(saved, dict) else {}
        explicit = saved.get("explicit") if isinstance(saved.get("explicit"), dict) else {}
        self._explicit = {}
        for key, value in explicit.items():
            if key in FIELDS and _valid(key, value):
                self._explicit[key] = value
        self._updating = True
        try:
            if saved.get("preset") in PRESET_NAMES:
                self.set_preset(saved["preset"])
            latent = saved.get("latent_dim")
            if isinstance(latent, int) and not isinstance(latent, bool):
                self.latent_spin.setValue(latent)
            self.set_advanced_visible(bool(saved.get("advanced_open", False)))
        finally:
            self._updating = False
        self._refresh()

    # ------------------------------------------------------------------ internals
    def _add_rows(self, form: QFormLayout, fields: Mapping[str, tuple]) -> None:
        for key, (label, kind, limits, tip) in fields.items():
            widget = _make_input(kind, limits, self)
            widget.setToolTip(tip)
            signal = widget.toggled if kind == "bool" else widget.valueChanged
            signal.connect(lambda _v, k=key: self._on_edited(k))
            self.inputs[key] = widget
            self.labels[key] = QLabel(label, self)
            self.labels[key].setToolTip(tip)
            form.addRow(self.labels[key], widget)

    def _on_edited(self, key: str) -> None:
        if self._updating:
            return
        self._explicit[key] = _get(self.inputs[key])
        self._refresh()  # the epochs that run depend on the batch size, the split, the epochs
        self.save()
        self.changed.emit()

    def _on_preset(self) -> None:
        if self._updating:
            return
        self._refresh()
        self.save()
        self.changed.emit()

    def _on_advanced_toggled(self, visible: bool) -> None:
        self.set_advanced_visible(visible)
        if not self._updating:
            self.save()

    def _on_latent(self) -> None:
        if not self._updating:
            self.save()
            self.changed.emit()

    def _refresh(self) -> None:
        """Fill the fields: explicit values as they are, the others from the preset."""
        shown = self.training_config()
        chosen = None if self._num_files is None else choose_preset(self._num_files)
        if self.preset != "auto" or chosen is not None:
            shown = resolve_preset(shown, self._num_files or 0, self.explicit())
        self._plan = None
        if self._clips_per_file is not None and shown.preset != "auto":
            self._plan = plan_epochs(shown, self._clips_per_file, self.explicit())
            shown = shown.replace(epochs=self._plan.epochs)
        note = epochs_note(shown, self._plan)
        self.epochs_note.setText(note)
        self.epochs_note.setVisible(bool(note))
        self._updating = True
        try:
            self.preset_combo.setItemText(0, f"auto ({chosen})" if chosen else "auto")
            for key, widget in self.inputs.items():
                _set(widget, self._explicit.get(key, config_value(shown, key)))
                self._mark(key)
        finally:
            self._updating = False
        self.reset_button.setEnabled(bool(self._explicit))

    def _mark(self, key: str) -> None:
        font = self.labels[key].font()
        font.setBold(key in self._explicit)
        self.labels[key].setFont(font)


def epochs_note(config: TrainingConfig, plan: EpochPlan | None) -> str:
    """What the note under the Epochs field says: how many steps the epochs make, and why
    they are more than the preset's (``config``: the preset applied; "" when nothing to say)."""
    if plan is None:
        if config.preset == "auto" or config.min_steps <= 0:
            return ""
        return (f"At least {config.min_steps:,} steps for a {config.preset} folder: more epochs "
                "if it has few clips")
    if plan.train_clips == 0:
        return ""
    per_epoch = f"{plan.steps_per_epoch:,} step{'s' if plan.steps_per_epoch != 1 else ''} per epoch"
    if plan.raised:
        return (f"{plan.epochs:,} epochs, to make at least {plan.min_steps:,} steps for a "
                f"{config.preset} folder ({per_epoch}; the preset says {plan.requested:,})")
    if plan.short_of_min_steps:
        return (f"{plan.epochs:,} epochs as you set: {plan.steps:,} steps ({per_epoch}); the "
                f"{config.preset} preset would make at least {plan.min_steps:,}")
    return f"{plan.steps:,} steps ({per_epoch})"


def _valid(key: str, value: Any) -> bool:
    """Whether a remembered ``value`` still fits the setting ``key`` and its input's range."""
    try:
        config_with(TrainingConfig(), {key: value})
    except (KeyError, TypeError, ValueError):  # ValueError: outside what the config accepts
        return False
    kind, limits = FIELDS[key][1], FIELDS[key][2]
    return kind == "bool" or limits[0] <= value <= limits[1]


def _make_input(kind: str, limits: tuple, parent: QWidget) -> QWidget:
    if kind == "bool":
        return QCheckBox("on", parent)
    if kind == "log":
        return LogSpinBox(limits[0], limits[1], parent)
    widget = QSpinBox(parent) if kind == "int" else QDoubleSpinBox(parent)
    widget.setRange(limits[0], limits[1])
    if kind == "float":
        widget.setDecimals(3)
        widget.setSingleStep(limits[2])
    widget.setKeyboardTracking(False)  # typing "300" is one change, not "3", "30", "300"
    return widget


def _get(widget: QWidget) -> Any:
    return widget.isChecked() if isinstance(widget, QCheckBox) else widget.value()


def _set(widget: QWidget, value: Any) -> None:
    if isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    else:
        widget.setValue(value)
