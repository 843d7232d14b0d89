"""Progress callbacks and cancel flags: the plumbing every long job of the core shares.

Long work (cache build, training, latent analysis) reports through ONE plain callback
``on_event(event)`` and stops when a cancel flag says so; the CLI prints the events, the
studio re-emits them as Qt signals. Each layer defines its own event dataclasses
(``distill.data.events``, ``distill.latent.events``, ``distill.training.events``); this
module holds only what is generic, so every layer may import it.

Threads: the callback runs on the working thread, so it must be quick (draw a bar, emit a
signal) and must not block; a cancel flag may be set from any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

E = TypeVar("E")

#: Receives the events of one job, of type ``E`` (e.g. ``EventCallback[DatasetEvent]``).
EventCallback = Callable[[E], None]
#: A ``threading.Event`` or any callable returning True once the work should stop.
CancelFlag = threading.Event | Callable[[], bool] | None


def cancel_check(cancel: CancelFlag) -> Callable[[], bool]:
    """Turn a cancel flag (Event, callable or None) into a function returning a bool."""
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    if callable(cancel):
        return lambda: bool(cancel())
    raise TypeError(f"cancel must be a threading.Event or a callable, got {type(cancel).__name__}")


def emitter(on_event: EventCallback[E] | None) -> EventCallback[E]:
    """``on_event`` itself, or a callback that drops events when none was given."""
    return on_event if on_event is not None else _drop


def _drop(event: object) -> None:
    """The callback of a caller that listens to nothing."""
