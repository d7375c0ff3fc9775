"""A YAML editor whose errors are shown inline, under the line they point at.

:func:`annotate` is the pure part: the text as numbered lines, the error's line highlighted and the
one-line message (``FILE:LINE:COL: error: MESSAGE (hint)``) inserted right below it, with a caret at
the column. :class:`YamlEditor` is a textarea plus that listing; set ``value`` to edit, ``error`` to
show a :class:`~workbench.errors.WorkbenchError` (None clears it).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import traitlets

from workbench.errors import WorkbenchError, format_error
from workbench.widgets.style import CSS, esc


def error_line(error: WorkbenchError, file: str | None) -> int | None:
    """The 1-based line ``error`` points at in ``file`` (any file when ``file`` is None)."""
    loc = error.location
    if loc is None or loc.line is None:
        return None
    if file is not None and loc.file not in (None, file):
        return None
    return loc.line


def annotate(text: str, error: WorkbenchError | None, *, file: str | None = None) -> str:
    """HTML listing of ``text`` with ``error`` shown under its line (or above all lines)."""
    lines = text.splitlines() or [""]
    at = error_line(error, file) if error is not None else None
    if at is not None:
        at = min(at, len(lines))
    out: list[str] = []
    if error is not None and at is None:
        out.append(f'<span class="wb-line wb-err">{esc(format_error(error))}</span>')
    for number, line in enumerate(lines, start=1):
        cls = "wb-line wb-err" if number == at else "wb-line"
        out.append(f'<span class="{cls}" data-line="{number}">{number:>4}  {esc(line)}</span>')
        if number == at and error is not None:
            col = (error.location.col if error.location else None) or 1
            caret = " " * (col - 1) + "^ "
            out.append(
                f'<span class="wb-line wb-err" data-error-line="{number}">      '
                f"{esc(caret + format_error(error))}</span>"
            )
    return f'{CSS}<pre class="wb-pre">{"".join(out)}</pre>'


class YamlEditor(w.VBox):  # type: ignore[misc]
    """A textarea and, while there is an error, the text below it with the error at its line."""

    value = traitlets.Unicode("")
    error = traitlets.Any(None, allow_none=True)

    def __init__(self, value: str = "", *, file: str = "<input>", rows: int = 18) -> None:
        self.file = file
        self.textarea = w.Textarea(
            value=value,
            rows=rows,
            layout=w.Layout(width="100%"),
        )
        self.textarea.add_class("wb-editor")
        self.listing = w.HTML()
        self.listing.add_class("wb-listing")
        super().__init__(
            [self.textarea, self.listing], layout=w.Layout(width="100%", min_width="320px")
        )
        self.value = value
        traitlets.link((self.textarea, "value"), (self, "value"))
        self.observe(self._render, names=["value", "error"])
        self._render()

    def _render(self, _change: Any = None) -> None:
        error = self.error
        self.listing.value = "" if error is None else annotate(self.value, error, file=self.file)
