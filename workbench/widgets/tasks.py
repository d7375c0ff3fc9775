"""Run long work in a background thread without ever touching a widget from that thread.

The worker gets a :class:`Reporter`: it calls ``progress()`` / ``log()`` / ``item()`` and checks
``cancelled``. Those calls only put :class:`TaskEvent` values on a queue; the task's end is one
too, carrying :class:`Finished`. Everything that reaches a widget
(listeners, the runner's ``state`` and ``result``) runs on the kernel thread, in
:meth:`TaskRunner.drain`, which is scheduled on the kernel's event loop with
``call_soon_threadsafe`` (captured when the task starts) or called by :meth:`TaskRunner.wait`.
No Output widget is ever written from a worker (ipywidgets#2358).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import traitlets

from workbench.errors import UsageError, WorkbenchError, format_error
from workbench.progress import Progress


class EventKind(StrEnum):
    """What a :class:`TaskEvent` carries."""

    PROGRESS = "progress"  # a Progress
    LOG = "log"  # a line of text
    ITEM = "item"  # a partial result (a build event, a table cell...)
    FINISHED = "finished"  # a Finished


class State(StrEnum):
    """Where a :class:`TaskRunner` is."""

    IDLE = "idle"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Finished:
    """How a task ended: its state, its return value (when done), the message to show."""

    state: State
    value: Any
    message: str


@dataclass(frozen=True)
class TaskEvent:
    """One thing a worker reported: a :class:`Progress`, a log line, a result item, or the end."""

    kind: EventKind
    payload: Any = None


class Cancelled(Exception):
    """Raised inside a worker by :meth:`Reporter.check` once cancel was requested."""


class Reporter:
    """The worker's side: report progress, log lines and items; notice cancellation."""

    def __init__(self, emit: Callable[[TaskEvent], None], cancel: threading.Event) -> None:
        self._emit = emit
        self._cancel = cancel

    @property
    def cancelled(self) -> bool:
        """True once the task was asked to stop."""
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if the task was asked to stop (call it between units)."""
        if self.cancelled:
            raise Cancelled

    def progress(self, event: Progress) -> None:
        """Report progress (a :data:`workbench.progress.ProgressListener` too)."""
        self._emit(TaskEvent(EventKind.PROGRESS, event))

    def log(self, line: str) -> None:
        """Report one log line."""
        self._emit(TaskEvent(EventKind.LOG, line))

    def item(self, value: Any) -> None:
        """Report one partial result (e.g. one cell of a table being filled)."""
        self._emit(TaskEvent(EventKind.ITEM, value))


Job = Callable[[Reporter], Any]
Dispatch = Callable[[Callable[[], None]], None]


def kernel_dispatch() -> Dispatch | None:
    """Schedule callbacks on the running event loop of this thread (the kernel's), if any."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None

    def dispatch(callback: Callable[[], None]) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(callback)

    return dispatch


class TaskRunner(traitlets.HasTraits):
    """One background task at a time; ``state``, ``message`` and ``result`` change on the kernel
    thread only."""

    state = traitlets.Unicode(State.IDLE)  # a State
    message = traitlets.Unicode("")
    result = traitlets.Any(None, allow_none=True)

    def __init__(self) -> None:
        super().__init__()
        self._events: queue.Queue[TaskEvent] = queue.Queue()
        self._listeners: list[Callable[[TaskEvent], None]] = []
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._dispatch: Dispatch | None = None

    def on_event(self, callback: Callable[[TaskEvent], None]) -> None:
        """Call ``callback(event)`` on the kernel thread for each event of every task."""
        self._listeners.append(callback)

    @property
    def running(self) -> bool:
        """True while a task is started and its end not yet drained."""
        return self.state == State.RUNNING

    def start(self, name: str, job: Job) -> None:
        """Run ``job(reporter)`` in a daemon thread; its return value becomes ``result``."""
        if self.running:
            raise UsageError(f"{self.message or 'a task'} is still running", hint="cancel it first")
        self._cancel = threading.Event()
        self._dispatch = kernel_dispatch()
        self.result = None
        self.state = State.RUNNING
        self.message = name
        reporter = Reporter(self._put, self._cancel)
        self._thread = threading.Thread(
            target=self._work, args=(job, reporter), name=f"workbench-{name}", daemon=True
        )
        self._thread.start()

    def _work(self, job: Job, reporter: Reporter) -> None:
        try:
            value = job(reporter)
        except Cancelled:
            self._end(Finished(State.CANCELLED, None, "cancelled"))
        except WorkbenchError as err:
            self._end(Finished(State.FAILED, None, format_error(err)))
        except Exception as exc:  # a worker bug must still end the task visibly
            self._end(Finished(State.FAILED, None, f"{type(exc).__name__}: {exc}"))
        else:
            self._end(Finished(State.DONE, value, "done"))

    def _end(self, finished: Finished) -> None:
        self._put(TaskEvent(EventKind.FINISHED, finished))

    def _put(self, event: TaskEvent) -> None:
        self._events.put(event)
        dispatch = self._dispatch
        if dispatch is not None:
            dispatch(self.drain)

    def cancel(self) -> None:
        """Ask the running task to stop at its next :meth:`Reporter.check`."""
        self._cancel.set()

    def drain(self) -> None:
        """Hand every queued event to the listeners (call on the kernel thread only)."""
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return
            if isinstance(event.payload, Finished):
                with self.hold_trait_notifications():
                    self.result = event.payload.value
                    self.message = event.payload.message
                    self.state = event.payload.state
            for listener in self._listeners:
                listener(event)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the task ends, then drain its events here (for scripts, tests, nbval)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise UsageError(
                    f"{self.message} did not finish in {timeout} s", hint="cancel it or wait longer"
                )
        self.drain()
