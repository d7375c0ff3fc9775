"""Progress of long work, as plain events: the core emits them, the CLI and widgets draw them.

A long operation takes an optional :data:`ProgressListener` and calls it with :class:`Progress`
events.
:func:`terminal_listener` draws them as tqdm bars on stderr; widgets turn them into trait changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` units of ``task`` (``total`` None: unknown); ``message`` says what."""

    task: str
    done: float = 0
    total: float | None = None
    message: str = ""
    unit: str = "it"
    finished: bool = False


ProgressListener = Callable[[Progress], None]


def ignore(_event: Progress) -> None:
    """A listener that drops every event."""


def terminal_listener() -> ProgressListener:
    """A listener drawing one tqdm bar per task on stderr (closed when the task finishes)."""
    bars: dict[str, Any] = {}

    def listen(event: Progress) -> None:
        bar = bars.get(event.task)
        if bar is None:
            bar = tqdm(
                desc=event.task,
                total=event.total,
                unit=event.unit,
                unit_scale=event.unit == "B",
                leave=True,
                dynamic_ncols=True,
            )
            bars[event.task] = bar
        if event.total is not None and bar.total != event.total:
            bar.total = event.total
        bar.n = event.done
        if event.message:
            bar.set_postfix_str(event.message, refresh=False)
        bar.refresh()
        if event.finished:
            bar.close()
            del bars[event.task]

    return listen
