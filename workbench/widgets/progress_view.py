"""A progress bar and a label that show :class:`workbench.progress.Progress` events."""

from __future__ import annotations

import ipywidgets as w

from workbench.progress import Progress


def describe(event: Progress) -> str:
    """``"task: 3/8 it (message)"``, or without a total when it is unknown."""
    amount = f"{event.done:g}/{event.total:g}" if event.total else f"{event.done:g}"
    text = f"{event.task}: {amount} {event.unit}"
    if event.message:
        text += f" ({event.message})"
    return text + (" - finished" if event.finished else "")


class ProgressView(w.HBox):  # type: ignore[misc]
    """``update(event)`` moves the bar (indeterminate without a total) and sets the label."""

    def __init__(self) -> None:
        self.bar = w.FloatProgress(value=0.0, min=0.0, max=1.0)
        self.label = w.Label("")
        super().__init__([self.bar, self.label])

    def update(self, event: Progress) -> None:
        """Show ``event`` (call on the kernel thread)."""
        with self.bar.hold_sync():
            self.bar.max = float(event.total or 1.0)
            self.bar.value = float(event.done if event.total else (1.0 if event.finished else 0.0))
            self.bar.bar_style = "success" if event.finished else ""
        self.label.value = describe(event)
