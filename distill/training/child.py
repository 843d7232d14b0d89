"""``train`` in a child process: training shares neither the GIL nor the priority of a player.

The studio plays in real time (a render thread and PortAudio's callback, both Python) while
it may train. On a thread of the same process, training's GIL holding starved the callback
even at nice 10 (``benchmarks/realtime.py --train``: 49 underruns in 30 s, 1 with JACK's
real-time scheduling). ``TrainingProcess`` runs the very same ``train`` in a child process
started with the multiprocessing **spawn** context (fork would copy a process that holds Qt,
PortAudio and torch threads, whose locks may be held at the fork), and speaks to it over
two one-way pipes:

- parent -> child: commands (``"pause"``, ``"resume"``, ``"finish"``, ``"cancel"``), which a
  thread of the child applies to its ``TrainingControl``. The end of that pipe (the parent
  closed it, or died) cancels the run: the model trained so far is saved, then the child
  exits, so an orphan never trains on forever;
- child -> parent: every event ``train`` emits, in order, then the result (the model
  path) or the error. The child's log records travel the same way and land in the parent's
  log. Events are frozen dataclasses of plain values and numpy arrays: they pickle as is.

What crosses at the start: the configuration, and the source. A folder is a path. A
``DatasetCache`` pickles as its description only (the scan report's entries, the cache
folder and its key: a few hundred bytes per file), never the clips: these live in
``.npy`` files of the cache folder, which the child memory-maps as in-process training
does, so nothing of the dataset itself goes through a pipe.

The child's death (killed, a crash in native code, out of memory) reaches the parent as a
``TrainingProcessError`` naming the signal or exit code and the last checkpoint; what was
written before (checkpoints, a model file) is complete, because both are written atomically.
A cancel that is not obeyed within ``CANCEL_GRACE_S`` ends the child with SIGKILL (logged).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import logging
import multiprocessing
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distill.errors import DistillError, TrainingError
from distill.progress import EventCallback, emitter
from distill.threads import apply_thread_policy, lower_process_priority
from distill.training.config import RunConfig
from distill.training.events import CheckpointSaved, Failed, RunEvent, TrainingControl

if TYPE_CHECKING:
    from distill.data import DatasetCache

log = logging.getLogger(__name__)

#: Seconds a cancelled child may take to save and exit before it is killed (a step, then
#: writing the model; closing the studio waits this long at most).
CANCEL_GRACE_S = 60.0
#: Seconds a child that reported its result may take to exit before it is killed.
EXIT_GRACE_S = 15.0
#: The function the child runs, ``"module:name"`` with ``train``'s signature, imported in the
#: child (a scripted stand-in can take its place where a test needs events ``train`` cannot
#: be made to produce on demand, such as a divergence).
TRAIN_ENTRY = "distill.training.run:train"
_POLL_S = 0.25
_COMMANDS = frozenset({"pause", "resume", "finish", "cancel"})


class TrainingProcessError(TrainingError):
    """The training process ended without reporting a result (killed, crashed)."""


@dataclass(frozen=True)
class _Job:
    """What the child needs: ``train``'s arguments and the parent's log level."""

    source: Any
    output: Path
    setup: RunConfig | None
    explicit: frozenset[str]
    cache_dir: Path | None
    checkpoint_dir: Path | None
    resume: Path | None
    log_level: int
    entry: str


class TrainingProcess:
    """``distill.training.run.train`` in a child process, controlled like an in-process run.

    Parameters are those of ``train``. ``pause``/``resume``/``finish``/``cancel`` may be
    called from any thread at any time (also before ``start``: the child applies them
    before it trains); ONE thread calls ``run`` (or ``start`` then ``join``), which
    delivers the events on that thread and returns what ``train`` returned or raises what
    it raised (``TrainingCancelledError`` included), or ``TrainingProcessError``.
    """

    def __init__(self, source: str | Path | DatasetCache, output: str | Path, setup: RunConfig | None = None,
                 *, explicit: Iterable[str] = (), cache_dir: str | Path | None = None,
                 checkpoint_dir: str | Path | None = None, resume: str | Path | None = None) -> None:
        def path(p: str | Path | None) -> Path | None:
            return None if p is None else Path(p)

        self._job = _Job(source if not isinstance(source, str) else Path(source), Path(output), setup,
                         frozenset(explicit), path(cache_dir), path(checkpoint_dir), path(resume),
                         logging.getLogger().getEffectiveLevel(), TRAIN_ENTRY)
        self._context = multiprocessing.get_context("spawn")
        self._commands_in, self._commands = self._context.Pipe(duplex=False)
        self._events, self._events_out = self._context.Pipe(duplex=False)
        self._process: multiprocessing.process.BaseProcess | None = None
        self._send_lock = threading.Lock()
        self.control = TrainingControl()  # the parent's view: ``paused``, ``cancelled``
        self._cancel_deadline: float | None = None
        self._killed = False
        self._last_checkpoint: CheckpointSaved | None = None

    # ---------------------------------------------------------------- any thread
    def pause(self) -> None:
        self.control.pause()
        self._send("pause")

    def resume(self) -> None:
        self.control.resume()
        self._send("resume")

    def finish(self) -> None:
        self.control.finish()
        self._send("finish")

    def cancel(self) -> None:
        self.control.cancel()
        if self._cancel_deadline is None:
            self._cancel_deadline = time.monotonic() + CANCEL_GRACE_S
        self._send("cancel")

    @property
    def paused(self) -> bool:
        return self.control.paused

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _send(self, command: str) -> None:
        # OSError: the child is gone (or the pipe closed); ``join`` reports why.
        with self._send_lock, contextlib.suppress(OSError):
            self._commands.send(command)

    # ---------------------------------------------------------------- the running thread
    def run(self, on_event: EventCallback[RunEvent] | None = None) -> Path:
        """``start`` then ``join``."""
        self.start()
        return self.join(on_event)

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError("a TrainingProcess runs once; create a new one")
        self._process = self._context.Process(target=_child_main, name="distill-training", daemon=False,
                                              args=(self._commands_in, self._events_out, self._job))
        self._process.start()
        # The child holds its own copies now; the parent's must go, or the child's death
        # would never read as the end of the event pipe.
        self._commands_in.close()
        self._events_out.close()

    def join(self, on_event: EventCallback[RunEvent] | None = None) -> Path:
        """Deliver the child's events to ``on_event`` (this thread) until it reports its result."""
        if self._process is None:
            raise RuntimeError("start the TrainingProcess first")
        emit = emitter(on_event)
        try:
            while True:
                message = self._next_message()
                if message is None:  # the child died without a result
                    error = TrainingProcessError(self._death_message())
                    emit(Failed(str(error)))
                    raise error
                kind, payload = message
                if kind == "event":
                    if isinstance(payload, CheckpointSaved):
                        self._last_checkpoint = payload
                    emit(payload)
                elif kind == "log":
                    _relay_log(payload)
                elif kind == "result":
                    return payload
                else:  # "error": what ``train`` raised, with the child's traceback
                    exc, text = payload
                    if not isinstance(exc, DistillError):
                        log.error("the training process failed:\n%s", text)
                    raise exc
        finally:
            self._end()

    def _next_message(self) -> tuple[str, Any] | None:
        while True:
            if self._events.poll(_POLL_S):
                try:
                    return self._events.recv()
                except (EOFError, OSError):
                    return None
            if not self._process.is_alive() and not self._events.poll(0):
                return None  # dead, even if a grandchild still holds the pipe open
            if self._cancel_deadline is not None and time.monotonic() > self._cancel_deadline:
                log.warning("the training process (pid %s) did not stop within %.0f s of the cancel; "
                            "killing it", self._process.pid, CANCEL_GRACE_S)
                self._killed = True
                self._cancel_deadline = None
                self._process.kill()

    def _death_message(self) -> str:
        self._process.join(EXIT_GRACE_S)
        code = self._process.exitcode
        if self._killed:
            what = f"did not stop within {CANCEL_GRACE_S:.0f} s of the cancel and was killed"
        elif code is not None and code < 0:
            what = f"ended unexpectedly ({describe_signal(-code)})"
        else:
            what = f"ended unexpectedly (exit code {code})"
        saved = self._last_checkpoint
        kept = (f"; the checkpoint of epoch {saved.epoch} is intact: resume from {saved.path}"
                if saved is not None else "; no checkpoint had been saved yet")
        return f"the training process {what}{kept}"

    def _end(self) -> None:
        """Close the pipes (a child still running cancels on their end) and reap the child."""
        with self._send_lock:
            self._commands.close()
        self._events.close()
        self._process.join(EXIT_GRACE_S)
        if self._process.is_alive():
            log.warning("the training process (pid %s) did not exit after its run; killing it",
                        self._process.pid)
            self._process.kill()
            self._process.join()


def describe_signal(number: int) -> str:
    """``"signal 9, SIGKILL: killed …"``: what a signal number means to someone reading the log."""
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    why = {"SIGKILL": ": killed, often by the system when memory runs out",
           "SIGSEGV": ": a crash in native code", "SIGABRT": ": aborted by native code",
           "SIGBUS": ": a crash in native code", "SIGTERM": ": terminated"}.get(name, "")
    return f"signal {number}, {name}{why}"


def _relay_log(record: dict[str, Any]) -> None:
    logger = logging.getLogger(record["name"])
    if logger.isEnabledFor(record["levelno"]):
        logger.handle(logging.makeLogRecord(record))


# -------------------------------------------------------------------- the child process
class _Sender:
    """The child's end of the event pipe, shared by the training thread and the log handler.

    Once the parent is gone a send fails: the run is cancelled (it saves the model) and the
    remaining events are dropped, so training never fails for want of a listener.
    """

    def __init__(self, events: Connection, control: TrainingControl) -> None:
        self._events, self._control = events, control
        self._lock = threading.RLock()  # a record logged while sending must not deadlock
        self._gone = False

    def send(self, kind: str, payload: Any) -> None:
        with self._lock:
            if self._gone:
                return
            try:
                self._events.send((kind, payload))
            except OSError:
                self._gone = True
                self._control.cancel()

    def event(self, event: RunEvent) -> None:
        self.send("event", event)


class _LogForwarder(logging.Handler):
    def __init__(self, sender: _Sender) -> None:
        super().__init__()
        self._sender = sender

    def emit(self, record: logging.LogRecord) -> None:
        fields = dict(record.__dict__, msg=record.getMessage(), args=None, exc_info=None)
        if record.exc_info:
            fields["exc_text"] = logging.Formatter().formatException(record.exc_info)
        self._sender.send("log", {k: v for k, v in fields.items() if _plain(v)})


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | tuple)


def _apply(command: Any, control: TrainingControl) -> None:
    if command in _COMMANDS:
        getattr(control, command)()


def _read_commands(commands: Connection, control: TrainingControl) -> None:
    """The child's command thread: apply each command; the pipe's end cancels the run."""
    try:
        while True:
            _apply(commands.recv(), control)
    except (EOFError, OSError):
        control.cancel()


def _child_main(commands: Connection, events: Connection, job: _Job) -> None:
    # First: the whole process yields to the parent's render thread and audio callback
    # (under contention a nice-0 thread gets ~9x the CPU of a nice-10 one).
    lower_process_priority()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal: the parent decides
    control = TrainingControl()
    # SIGTERM (``terminate``) cancels, so the model is saved. The handler runs on this thread,
    # which may hold the control's lock: the cancel is left to a thread of its own.
    signal.signal(signal.SIGTERM, lambda number, frame: threading.Thread(target=control.cancel).start())
    sender = _Sender(events, control)
    root = logging.getLogger()
    root.setLevel(job.log_level)
    root.addHandler(_LogForwarder(sender))
    try:  # commands sent before the start, applied before training can take a step
        while commands.poll():
            _apply(commands.recv(), control)
    except (EOFError, OSError):
        control.cancel()
    # A daemon: it only reads the pipe and sets events, so ending with the process is harmless.
    threading.Thread(target=_read_commands, args=(commands, control), name="training-commands",
                     daemon=True).start()
    # Torch threads: the run's own setting (0 = every core, as ``distill train`` does), set
    # before the cache build so it follows it too (the Trainer applies the same value). No
    # cap of our own: what keeps a 2-core machine's player first is this process's nice 10
    # (the scheduler runs a waking nice-0 thread before any of ours), not fewer threads,
    # and an idle player leaves training every core. In-process training had to stay on
    # one thread because its threads shared the player's GIL; these share nothing.
    # (``benchmarks/realtime.py --train-process --train-threads 0|1`` measures both.)
    apply_thread_policy((job.setup or RunConfig()).training.num_threads)
    module, name = job.entry.split(":")
    train = getattr(importlib.import_module(module), name)  # torch-heavy: imported in the child only
    try:
        path = train(job.source, job.output, job.setup, explicit=job.explicit, on_event=sender.event,
                     control=control, cache_dir=job.cache_dir, checkpoint_dir=job.checkpoint_dir,
                     resume=job.resume)
    except Exception as exc:
        sender.send("error", (_portable(exc), traceback.format_exc()))
    else:
        sender.send("result", path)


def _portable(exc: Exception) -> Exception:
    """``exc`` if it survives the pipe (most do), else one of its kind the parent can rebuild.

    ``copy.deepcopy`` takes the exception apart and rebuilds it the way the pipe's pickling
    does (``__reduce_ex__``, then its class called with its args), so an exception whose
    ``__init__`` cannot be called again fails here, on the child's side, not in the parent.
    """
    try:
        pickle.dumps(exc)
        return copy.deepcopy(exc)
    except Exception:
        if isinstance(exc, DistillError):
            return DistillError(str(exc))
        return RuntimeError(f"{type(exc).__name__}: {exc}")
