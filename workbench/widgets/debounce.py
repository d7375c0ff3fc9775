"""Wait for a pause: run an action once, ``delay`` seconds after the last of a burst of triggers.

Each keystroke in a notebook editor reaches the kernel as a message of its own; a view that
re-rendered on every one would lag behind the typing. A :class:`Debouncer` collects them: every
:meth:`~Debouncer.trigger` restarts the wait, and the action runs once the triggers pause. It waits
on the event loop running where the trigger arrives (the kernel's, so the action runs on the kernel
thread and may touch widgets); where no loop runs (a script) the action runs at once.
:meth:`~Debouncer.flush` runs a pending action now. The clock is a parameter: tests pass their own
:data:`Schedule`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol


class Handle(Protocol):
    """A scheduled call that can be called off (as :class:`asyncio.TimerHandle`)."""

    def cancel(self) -> None:
        """Do not make the call."""


Schedule = Callable[[float, Callable[[], None]], Handle]
"""``schedule(delay, callback)``: call ``callback`` after ``delay`` seconds (as ``call_later``)."""


def loop_schedule() -> Schedule | None:
    """``call_later`` of this thread's running event loop, or None where none runs."""
    try:
        return asyncio.get_running_loop().call_later
    except RuntimeError:
        return None


class Debouncer:
    """Runs ``action`` once per burst of :meth:`trigger` calls, ``delay`` seconds after the last."""

    def __init__(
        self, action: Callable[[], None], delay: float = 0.3, *, schedule: Schedule | None = None
    ) -> None:
        self.action = action
        self.delay = delay
        self.runs = 0
        """How many times the action ran (bursts, not triggers)."""
        self._schedule = schedule
        self._handle: Handle | None = None

    @property
    def pending(self) -> bool:
        """True while a triggered action waits for the pause."""
        return self._handle is not None

    def trigger(self) -> None:
        """Something changed: (re)start the wait (or run now where nothing can wait)."""
        self.cancel()
        schedule = self._schedule or loop_schedule()
        if schedule is None:
            self._run()
        else:
            self._handle = schedule(self.delay, self._run)

    def flush(self) -> bool:
        """Run a pending action now instead of after the pause; True if one was pending."""
        if self._handle is None:
            return False
        self.cancel()
        self._run()
        return True

    def cancel(self) -> None:
        """Forget a pending action."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()

    def _run(self) -> None:
        self._handle = None
        self.runs += 1
        self.action()
