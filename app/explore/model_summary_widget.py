"""ModelSummaryWidget: an open model's name, summary and its measured axes.

Each axis row shows the label with the measured correlation behind it (a label is a
measured claim) and the share of the variance the axis carries. GUI thread only; it shows
what the core measured and computes nothing.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
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

from distill.latent import LatentAnalysis


class ModelSummaryWidget(QWidget):
    """Title, a form of facts (latent size, epochs, final loss, clips) and the axes table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("No model open", self)
        self.title.setProperty("role", "title")
        self.summary = QFormLayout()
        self.axes_table = QTableWidget(0, 4, self)
        self.axes_table.setHorizontalHeaderLabels(["Axis", "Measured feature", "Spearman ρ", "Variance"])
        self.axes_table.verticalHeader().setVisible(False)
        self.axes_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.axes_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
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
            rows.append(("Clips analysed", f"{analysis.num_clips} from {len(analysis.files)} files"))
        for name, value in rows:
            label = QLabel(value, self)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.summary.addRow(name, label)

    def _show_axes(self, analysis: LatentAnalysis | None) -> None:
        axes = analysis.axes if analysis is not None else ()
        self.axes_table.setRowCount(len(axes))
        for row, axis in enumerate(axes):
            rho = "—" if axis.correlation is None else f"{axis.correlation:+.2f}"
            cells = (axis.label, axis.feature or "none monotonic", rho, f"{100 * axis.variance_ratio:.1f} %")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(_axis_tip(axis))
                self.axes_table.setItem(row, col, item)


def _loss_text(epoch: dict) -> str:
    train = epoch.get("train", {}).get("total")
    val = epoch.get("validation", {}).get("total")
    parts = [f"train {train:.3f}" if isinstance(train, float) else None,
             f"validation {val:.3f}" if isinstance(val, float) else None]
    return ", ".join(p for p in parts if p) or "—"


def _axis_tip(axis) -> str:
    lines = [f"{axis.label}: range {axis.low:+.2f} … {axis.high:+.2f} (values)"]
    for name, rho in sorted((axis.correlations or {}).items(), key=lambda kv: -abs(kv[1])):
        lines.append(f"  {name}: ρ = {rho:+.2f}")
    return "\n".join(lines)
