"""A timeline: named spans (steps, parts, jobs) as horizontal bars on one time axis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import ipywidgets as w

from workbench.widgets.style import BAD, CSS, GOOD, esc

SpanState = Literal["running", "done", "failed"]
COLOURS: dict[SpanState, str] = {"running": "#93c5fd", "done": GOOD, "failed": BAD}


@dataclass(frozen=True)
class Span:
    """``name`` ran from ``start`` to ``end`` seconds (``end`` None: still running)."""

    name: str
    start: float
    end: float | None = None
    state: SpanState = "running"

    def duration(self, now: float) -> float:
        """Seconds from start to end (or to ``now`` while running)."""
        return (self.end if self.end is not None else now) - self.start


def render_timeline(spans: Sequence[Span], *, now: float | None = None) -> str:
    """One row per span: name, a bar placed on the common axis, the duration."""
    if not spans:
        return ""
    origin = min(s.start for s in spans)
    last = max((s.end if s.end is not None else (now or s.start)) for s in spans)
    total = max(last - origin, 1e-9)
    rows = []
    for span in spans:
        length = max(span.duration(now or last), 0.0)
        left = 100 * (span.start - origin) / total
        width = max(100 * length / total, 0.5)
        rows.append(
            f'<tr class="wb-span" data-state="{span.state}"><td>{esc(span.name)}</td>'
            f'<td style="width:60%"><div style="margin-left:{left:.1f}%;width:{width:.1f}%;'
            f'background:{COLOURS[span.state]};height:10px"></div></td>'
            f"<td>{length * 1000:.0f} ms</td></tr>"
        )
    return f'{CSS}<table class="wb-table" style="width:100%">{"".join(rows)}</table>'


class Timeline(w.HTML):  # type: ignore[misc]
    """Spans by name; ``update(span)`` adds or replaces one and redraws (kernel thread only)."""

    def __init__(self) -> None:
        super().__init__()
        self.add_class("wb-timeline")
        self.spans: dict[str, Span] = {}

    def update(self, span: Span) -> None:
        """Add ``span``, or replace the span of the same name."""
        self.spans[span.name] = span
        self.value = render_timeline(list(self.spans.values()))

    def clear(self) -> None:
        """Remove every span."""
        self.spans.clear()
        self.value = ""
