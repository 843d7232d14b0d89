"""TrainingProcess: ``train`` in a real spawned child; events, commands, a child's or a parent's death."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from distill.models import load_model
from distill.threads import BACKGROUND_NICE
from distill.training.child import TrainingProcess, TrainingProcessError, describe_signal
from distill.training.events import (
    EpochEnd,
    Failed,
    Finished,
    Paused,
    Resumed,
    StepProgress,
    TrainingStarted,
)
from tests.training.conftest import ALL_SET, TINY_MODEL, tiny_run

TIMEOUT_S = 60.0
ROOT = Path(__file__).resolve().parents[2]


class Listener:
    """Runs ``process.join`` on a thread of its own, as the studio's worker does."""

    def __init__(self, process: TrainingProcess) -> None:
        self.process, self.events, self.result, self.error = process, [], None, None
        self._thread = threading.Thread(target=self._join, name="listener")

    def _join(self) -> None:
        try:
            self.result = self.process.join(self.events.append)
        except Exception as exc:
            self.error = exc

    def start(self) -> Listener:
        self.process.start()
        self._thread.start()
        return self

    def count(self, kind: type) -> int:
        return sum(isinstance(e, kind) for e in list(self.events))

    def wait_until(self, condition, timeout: float = TIMEOUT_S) -> None:
        end = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < end and self._thread.is_alive(), f"gave up; events: {self.events[-3:]}"
            time.sleep(0.02)

    def finish(self, timeout: float = TIMEOUT_S) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive()


def start_long_run(cache, tmp_path: Path) -> Listener:
    process = TrainingProcess(cache, tmp_path / "m.distill", tiny_run(epochs=10_000, num_threads=1),
                              explicit=ALL_SET, checkpoint_dir=tmp_path / "checkpoints")
    return Listener(process).start()


def test_pause_holds_the_child_resume_continues_and_cancel_saves_in_order(tiny_cache, tmp_path):
    run = start_long_run(tiny_cache, tmp_path)
    run.wait_until(lambda: run.count(StepProgress) > 0)
    run.process.pause()
    run.wait_until(lambda: run.count(Paused) == 1)
    held = run.count(StepProgress)
    time.sleep(0.5)
    assert run.count(StepProgress) == held and run.process.paused  # no step while paused
    if sys.platform.startswith("linux"):  # every thread yields, numpy's pool started at import too
        assert set(thread_nice_values(run.process.pid)) == {BACKGROUND_NICE}

    run.process.resume()
    run.wait_until(lambda: run.count(StepProgress) > held + 2)
    assert run.count(Resumed) == 1 and not run.process.paused
    run.process.cancel()
    run.finish()

    assert run.error is None and run.result == tmp_path / "m.distill"
    events = run.events
    assert isinstance(events[0], TrainingStarted)
    steps = [e.step for e in events if isinstance(e, StepProgress)]
    assert steps == list(range(1, len(steps) + 1))  # every step, in order, none lost
    assert isinstance(events[-1], Finished) and events[-1].cancelled
    pause_at = next(i for i, e in enumerate(events) if isinstance(e, Paused))
    resume_at = next(i for i, e in enumerate(events) if isinstance(e, Resumed))
    assert [e.step for e in events[pause_at:resume_at] if isinstance(e, StepProgress)] == []
    assert load_model(run.result).model_config == TINY_MODEL


def test_a_cancel_that_is_not_obeyed_ends_in_a_kill(tiny_cache, tmp_path, monkeypatch):
    import distill.training.child as child

    monkeypatch.setattr(child, "CANCEL_GRACE_S", 1.0)
    run = start_long_run(tiny_cache, tmp_path)
    run.wait_until(lambda: run.count(StepProgress) > 0)
    os.kill(run.process.pid, signal.SIGSTOP)  # a child that hangs: it cannot obey
    run.process.cancel()
    run.finish()
    assert isinstance(run.error, TrainingProcessError)
    assert "did not stop within 1 s of the cancel and was killed" in str(run.error)
    assert isinstance(run.events[-1], Failed) and run.events[-1].message == str(run.error)


def test_the_parents_death_cancels_the_child_which_saves_the_model(tiny_cache, tmp_path):
    """A real parent process is killed: the command pipe's end cancels the run; the model is written."""
    output = tmp_path / "orphan.distill"
    script = textwrap.dedent(f"""
        from pathlib import Path
        from distill.training.child import TrainingProcess
        from distill.training.events import StepProgress
        from tests.training.conftest import ALL_SET, tiny_run

        process = TrainingProcess(Path({str(tiny_cache.report.folder)!r}), Path({str(output)!r}),
                                  tiny_run(epochs=10_000, num_threads=1), explicit=ALL_SET,
                                  cache_dir=Path({str(tiny_cache.directory.parent)!r}),
                                  checkpoint_dir=Path({str(tmp_path / "checkpoints")!r}))

        def on_event(event):
            if isinstance(event, StepProgress) and event.step == 2:
                print("child", process.pid, flush=True)

        if __name__ == "__main__":
            process.run(on_event)
    """)
    (tmp_path / "parent.py").write_text(script)
    parent = subprocess.Popen([sys.executable, str(tmp_path / "parent.py")], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = parent.stdout.readline()
        assert line.startswith("child "), f"the parent printed {line!r}"
        pid = int(line.split()[1])
    finally:
        parent.kill()
        parent.wait()
    end = time.monotonic() + TIMEOUT_S
    while process_alive(pid):
        assert time.monotonic() < end, "the orphaned training process is still running"
        time.sleep(0.1)
    assert load_model(output).model_config == TINY_MODEL  # cancelled: the steps so far, saved


def thread_nice_values(pid: int) -> list[int]:
    """The nice value of each thread of ``pid`` (Linux keeps one per thread)."""
    tasks = Path(f"/proc/{pid}/task")
    stats = [(tasks / tid / "stat").read_text() for tid in os.listdir(tasks)]
    return [int(stat.rsplit(")", 1)[1].split()[16]) for stat in stats]


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its new parent to reap it has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_a_dataset_cache_crosses_as_its_description_not_its_clips(tiny_cache):
    clip_bytes = sum(tiny_cache.clip_path(e).stat().st_size for e in tiny_cache.files)
    data = pickle.dumps(tiny_cache)
    assert len(data) < clip_bytes / 4
    copy = pickle.loads(data)
    assert copy.directory == tiny_cache.directory and copy.files == tiny_cache.files
    first = tiny_cache.files[0]
    np.testing.assert_array_equal(copy.load_clips(first), tiny_cache.load_clips(first))


@pytest.mark.parametrize(("number", "expected"), [
    (signal.SIGKILL, "signal 9, SIGKILL: killed, often by the system when memory runs out"),
    (signal.SIGSEGV, "signal 11, SIGSEGV: a crash in native code"),
    (200, "signal 200"),
])
def test_a_signal_is_named_for_the_reader(number, expected):
    assert describe_signal(number) == expected


def test_an_error_in_the_child_reaches_the_parent_as_itself(tmp_path):
    """A folder that is not there: ``train`` raises a DatasetError in the child, the parent re-raises it."""
    from distill.errors import DistillError

    events: list = []
    process = TrainingProcess(tmp_path / "missing", tmp_path / "m.distill", tiny_run(num_threads=1),
                              explicit=ALL_SET, cache_dir=tmp_path / "cache")
    with pytest.raises(DistillError, match="missing") as raised:
        process.run(events.append)
    assert [type(e) for e in events] == [Failed] and events[0].message == str(raised.value)
    assert not any(isinstance(e, EpochEnd) for e in events)
