"""AudioController without an output device: Play says so, in the same words on every tab."""

from __future__ import annotations

import numpy as np


def test_without_a_device_play_does_nothing_and_the_message_says_why(silent_audio):
    assert not silent_audio.available
    assert silent_audio.play(np.zeros(4800, np.float32)) is False
    message = silent_audio.no_audio_message()
    assert message.startswith("No audio output — ") and "everything else works" in message
    assert "no audio output: " not in message  # the engine's prefix is not repeated
