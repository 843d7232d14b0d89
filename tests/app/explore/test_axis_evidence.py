"""Axis labels say what their rho was measured over, and are greyed when it was little."""

from __future__ import annotations

import torch
from PySide6.QtGui import QColor

from app.explore.axis_sliders_widget import AxisSlidersWidget
from app.explore.model_summary_widget import ModelSummaryWidget
from app.services.instrument import InstrumentController
from app.services.theme import PALETTE
from distill.latent import AxisInfo, LatentAnalysis, LatentConfig, LatentSpace
from distill.latent.config import FEW_DATA_CLIPS, FEW_DATA_FILES


def analysis_of(clips: int, files: int, steps: int = 9) -> LatentAnalysis:
    """Two axes, both rho = +1.00 over ``steps`` sweep steps, fitted on ``clips`` from ``files``."""
    axes = tuple(AxisInfo(label=label, feature=feature, correlation=1.0, direction=1, low=-1.0, high=1.0,
                          variance=1.0, variance_ratio=ratio, correlations={feature: 1.0},
                          sweep_points=steps, fitted_clips=clips, fitted_files=files)
                 for label, feature, ratio in (("Brightness", "centroid", 0.6), ("Loudness", "rms", 0.3)))
    space = LatentSpace(torch.zeros(4), torch.eye(4)[:2], axes)
    g = torch.Generator().manual_seed(0)
    return LatentAnalysis(space=space, clip_latents=torch.randn(clips, 4, generator=g),
                          clip_files=torch.arange(clips) % files, clip_indices=torch.arange(clips) // files,
                          files=tuple(f"f{i}.wav" for i in range(files)), total_variance=1.0,
                          config=LatentConfig(sweep_steps=steps))


def table_texts(widget: ModelSummaryWidget, row: int) -> list[str]:
    return [widget.axes_table.item(row, c).text() for c in range(widget.axes_table.columnCount())]


def test_summary_says_over_how_many_points_and_greys_a_small_dataset(qtbot, tmp_path):
    widget = ModelSummaryWidget()
    qtbot.addWidget(widget)
    widget.show_model(tmp_path / "drums.distill", 8, [], analysis_of(clips=30, files=6))
    label, feature, rho, _ = table_texts(widget, 0)
    assert (label, feature, rho) == ("Brightness", "centroid", "+1.00 over 9 steps")
    form = widget.summary
    clips = form.itemAt(form.rowCount() - 1, form.ItemRole.FieldRole).widget().text()
    assert clips == "30 from 6 files (few data: the axis labels are tentative)"
    item = widget.axes_table.item(0, 2)
    assert item.foreground().color() == QColor(PALETTE["muted"])
    assert "ρ +1.00 over 9 sweep steps; axis fitted on 30 clips from 6 files" in item.toolTip()
    assert "tentative" in item.toolTip()

    widget.show_model(tmp_path / "drums.distill", 8, [],
                      analysis_of(clips=FEW_DATA_CLIPS * 4, files=FEW_DATA_FILES * 2, steps=11))
    label, _, rho, _ = table_texts(widget, 1)
    assert (label, rho) == ("Loudness", "+1.00 over 11 steps")
    assert widget.axes_table.item(1, 0).foreground().color() != QColor(PALETTE["muted"])
    assert form.itemAt(form.rowCount() - 1, form.ItemRole.FieldRole).widget().text() == (
        f"{FEW_DATA_CLIPS * 4} from {FEW_DATA_FILES * 2} files")
    assert "tentative" not in widget.axes_table.item(1, 0).toolTip()


def test_slider_labels_grey_with_a_caption_when_the_data_is_small(qtbot, silent_audio):
    instrument = InstrumentController(silent_audio)
    widget = AxisSlidersWidget(instrument)
    qtbot.addWidget(widget)
    widget.show_space(analysis_of(clips=30, files=6).space)
    assert [label.text() for label in widget.labels] == ["Brightness", "Loudness"]
    assert all(label.property("fewData") for label in widget.labels)
    assert all(label.palette().windowText().color() == QColor(PALETTE["muted"]) for label in widget.labels)
    assert not widget.caption.isHidden()
    assert "fitted on 30 clips from 6 files, each ρ measured over 9 sweep steps" in widget.caption.text()
    assert "ρ +1.00 over 9 sweep steps" in widget.sliders[0].toolTip()

    widget.show_space(analysis_of(clips=FEW_DATA_CLIPS, files=FEW_DATA_FILES, steps=11).space)
    assert not any(label.property("fewData") for label in widget.labels)
    assert widget.labels[0].palette().windowText().color() != QColor(PALETTE["muted"])
    assert widget.caption.isHidden()
