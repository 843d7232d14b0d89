"""PreviewWidget: a placeholder text until the first preview, then input and reconstruction."""

from __future__ import annotations

import numpy as np

from app.train.preview_widget import WAITING_TEXT, PreviewWidget
from distill.constants import SAMPLE_RATE
from distill.training.config import ComplexSpectrogramConfig
from distill.training.events import Preview

CONFIG = ComplexSpectrogramConfig(n_fft=256, hop_length=64, n_mels=32)


def preview(epoch: int) -> Preview:
    rng = np.random.default_rng(epoch)
    spec = np.stack([rng.uniform(0, 4, (32, 40)), rng.uniform(-1, 1, (32, 40))]).astype(np.float32)
    audio = rng.uniform(-0.1, 0.1, 40 * 64).astype(np.float32)
    return Preview(epoch, spec, spec * 0.9, audio, audio, SAMPLE_RATE, file_index=1, clip_index=0)


def test_before_the_first_preview_a_text_stands_where_the_axes_would(qtbot, silent_audio):
    widget = PreviewWidget(silent_audio, config=CONFIG)
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    assert widget.showing_placeholder and widget.placeholder.isVisible()
    assert widget.placeholder.text() == WAITING_TEXT
    assert not widget.input_view.isVisible() and not widget.reconstruction_view.isVisible()
    assert not widget.caption.isVisible()  # no second copy of the text above it
    assert widget.placeholder.height() > widget.height() // 2  # it takes the images' place

    widget.show_preview(preview(10))
    assert not widget.showing_placeholder and not widget.placeholder.isVisible()
    assert widget.input_view.isVisible() and widget.reconstruction_view.isVisible()
    assert not widget.input_view.is_empty and widget.caption.text().startswith("Epoch 10:")
    assert widget.play_input_button.isEnabled()

    widget.clear()  # a new run
    assert widget.showing_placeholder and widget.placeholder.isVisible()
    assert not widget.input_view.isVisible() and not widget.play_input_button.isEnabled()
