"""A private copy of the playing model's ``Renderer`` for offline work (encode, export).

The real-time loop renders with the instrument's ``Renderer`` on its own thread for as
long as the model is open (``RealtimeLoop``: "the loop's thread is the only one that may
use it"), and a ``Renderer`` is not thread-safe. Encoding a dropped file or rendering an
export on that same object from a worker thread would race the loop, and the loop cannot
be asked to do it (it renders control states only, and a long export would starve the
sound). So offline work uses a deep copy of the renderer (weights, fused decoder,
transform, analysis: ~2x the model's memory, made in milliseconds for the default size),
made once per model on the first worker thread that needs it. Copying only reads the
original's tensors, which the loop never writes. One lock serialises the workers that share
the copy (two drops, or a drop during an export, run one after the other).

Worker threads only (``offline_renderer`` may block while another worker holds the copy).
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from distill.render import Renderer


class _Copy:
    """The copy of one renderer (made lazily) and the lock of the workers sharing it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.renderer: Renderer | None = None


#: Playing renderer -> its offline copy; an entry goes when its model is closed and dropped.
_COPIES: weakref.WeakKeyDictionary[Renderer, _Copy] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


@contextmanager
def offline_renderer(renderer: Renderer) -> Iterator[Renderer]:
    """Use the private copy of ``renderer`` (see the module docstring), one worker at a time."""
    with _GUARD:
        entry = _COPIES.get(renderer)
        if entry is None:
            entry = _COPIES[renderer] = _Copy()
    with entry.lock:
        if entry.renderer is None:
            entry.renderer = copy.deepcopy(renderer)
        yield entry.renderer
