"""ModelSummaryWidget: an open model's name, summary and its measured axes.

Each axis row shows the label with the measured correlation behind it (a label is a
measured claim), over how many sweep steps it was measured, and the share of the variance
the axis carries. An axis fitted on few data (``AxisInfo.few_data``) is greyed, and the
summary says "(few data)" once: rho = +1.00 over a small dataset is a weaker claim than it
reads. GUI thread only; it shows what the core measured and computes nothing.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.services.theme import PALETTE
from distill.latent import LatentAnalysis
from distill.latent.config import FEW_DATA_CLIPS, FEW_DATA_FILES, FEW_SWEEP_POINTS


class ModelSummaryWidget(QWidget):
    """Title, a form of facts (latent size, epochs, final loss, clips) and the axes table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("No model open", self)
        self.title.setProperty("role", "title")
        self.summary = QFormLayout()
        self.axes_table = QTableWidget(0, 4, self)
        self.axes_table.setHorizontalHeaderLabels(["Axis", "Feature", "Spearman ρ", "Variance"])
        self.axes_table.verticalHeader().setVisible(False)
        self.axes_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.axes_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # the label is what matters
        caption = QLabel("Axes found in the data. A label is a measured claim: the feature that "
                         "changes most monotonically along the axis, with its correlation.", self)
        caption.setWordWrap(True)
        caption.setProperty("role", "caption")
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(self.summary)
        layout.addWidget(caption)
        layout.addWidget(self.axes_table, 1)

    def show_model(self, path: Path, latent_dim: int, history: list[dict],
                   analysis: LatentAnalysis | None) -> None:
        """Show the model file ``path``: its facts and (if it was analysed) its axes."""
        self._show_summary(Path(path), latent_dim, history, analysis)
        self._show_axes(analysis)

    def _show_summary(self, path: Path, latent_dim: int, history: list[dict],
                      analysis: LatentAnalysis | None) -> None:
        while self.summary.rowCount():
            self.summary.removeRow(0)
        self.title.setText(path.stem)
        self.title.setToolTip(str(path))
        rows = [("Latent size", str(latent_dim)),
                ("Epochs trained", str(len(history)) if history else "—")]
        if history:
            rows.append(("Final loss", _loss_text(history[-1])))
        if analysis is not None:
            text = f"{analysis.num_clips} from {len(analysis.files)} files"
            if any(a.few_data for a in analysis.axes):
                text += " (few data: the axis labels are tentative)"
            rows.append(("Clips analysed", text))
        for name, value in rows:
            label = QLabel(value, self)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.summary.addRow(name, label)

    def _show_axes(self, analysis: LatentAnalysis | None) -> None:
        axes = analysis.axes if analysis is not None else ()
        self.axes_table.setRowCount(len(axes))
        faded = QBrush(QColor(PALETTE["muted"]))
        for row, axis in enumerate(axes):
            rho = "—" if axis.correlation is None else f"{axis.correlation:+.2f}"
            if axis.sweep_points:
                rho += f" over {axis.sweep_points} steps"
            cells = (axis.label, axis.feature or "none monotonic", rho, f"{100 * axis.variance_ratio:.1f} %")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(_axis_tip(axis))
                if axis.few_data:
                    item.setForeground(faded)
                self.axes_table.setItem(row, col, item)


def _loss_text(epoch: dict) -> str:
    train = epoch.get("train", {}).get("total")
    val = epoch.get("validation", {}).get("total")
    parts = [f"train {train:.3f}" if isinstance(train, float) else None,
             f"validation {val:.3f}" if isinstance(val, float) else None]
    return ", ".join(p for p in parts if p) or "—"


def _axis_tip(axis) -> str:
    """What an axis' label claims and what it rests on (the sliders' tooltips share it)."""
    lines = [f"{axis.label}: {axis.feature or 'no feature'}, {axis.evidence()}"]
    if axis.few_data:
        lines.append(f"Few data, so the label is tentative: an axis needs {FEW_DATA_CLIPS} clips from "
                     f"{FEW_DATA_FILES} files and a sweep of {FEW_SWEEP_POINTS} steps to hold up.")
    lines.append(f"Range {axis.low:+.2f} … {axis.high:+.2f} (values)")
    for name, rho in sorted((axis.correlations or {}).items(), key=lambda kv: -abs(kv[1])):
        lines.append(f"  {name}: ρ = {rho:+.2f}")
    return "\n".join(lines)
