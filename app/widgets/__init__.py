"""Widgets more than one panel uses (the 2-channel spectrogram view)."""
