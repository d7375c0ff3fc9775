"""What a measurement tells while it runs: progress, log lines, each finished comparison; and
where it may be stopped.

The notebook's task reporter (:class:`workbench.widgets.tasks.Reporter`) is one; :class:`Printed`
is the one for scripts.
"""

from __future__ import annotations

from typing import Protocol

from workbench.perf.compare import Comparison
from workbench.progress import Progress, ProgressListener, terminal_listener


class Feedback(Protocol):
    """The measuring code's listener."""

    def progress(self, event: Progress) -> None:
        """How far the run is."""

    def log(self, line: str) -> None:
        """A line of what is happening (the VM's notices too)."""

    def item(self, value: Comparison) -> None:
        """A comparison, as soon as it is measured."""

    def check(self) -> None:
        """Raise if the run was asked to stop (called between measurements)."""


class Printed:
    """Feedback on the terminal: tqdm bars on stderr, lines and results printed."""

    def __init__(self) -> None:
        self._bars: ProgressListener = terminal_listener()

    def progress(self, event: Progress) -> None:
        self._bars(event)

    def log(self, line: str) -> None:
        print(line, flush=True)

    def item(self, value: Comparison) -> None:
        print(value.headline(), flush=True)

    def check(self) -> None:
        """Never stops."""
