"""A log pane: the last lines of a stream, appended from the kernel thread only."""

from __future__ import annotations

from collections import deque

import ipywidgets as w

from workbench.widgets.style import CSS, esc


class LogPane(w.HTML):  # type: ignore[misc]
    """The last ``max_lines`` lines, newest at the bottom, in a scrolling box."""

    def __init__(self, *, max_lines: int = 500, height: str = "12em") -> None:
        super().__init__(layout=w.Layout(max_height=height, overflow="auto", width="100%"))
        self.add_class("wb-log")
        self._lines: deque[str] = deque(maxlen=max_lines)

    @property
    def lines(self) -> list[str]:
        """The lines shown, oldest first."""
        return list(self._lines)

    def append(self, line: str) -> None:
        """Add one line (several if it contains newlines) and redraw."""
        self._lines.extend(line.splitlines() or [""])
        self.value = CSS + f'<pre class="wb-pre">{esc(chr(10).join(self._lines))}</pre>'

    def clear(self) -> None:
        """Remove every line."""
        self._lines.clear()
        self.value = ""
