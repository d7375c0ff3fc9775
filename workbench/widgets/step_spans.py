"""Lifecycle events as timeline spans: host actions, and each part's steps (pure).

A build session (:class:`workbench.lifecycle.Session`) emits an event when a host action or a
part's step starts (``elapsed`` None) and another when it ends (``elapsed`` set). :class:`StepSpans`
folds them into :class:`~workbench.widgets.timeline.Span` values on one clock (seconds since the
first event it saw), across several sessions: host actions are named after the session's target
(``"boot (pull)"``) so each press keeps its own rows, steps after the step and part (``"build
hello"``). Skipped steps (already done) get no row: the row of the run that did them stays. A
second start of a row within one session (a note such as ``inject: ... was already in the guest``)
changes nothing; a later session replaces the row. An error ends the running spans as failed, the
session's end ends them as done, a cancelled task as failed (:meth:`StepSpans.end_running`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from workbench.widgets.timeline import Span, SpanState

if TYPE_CHECKING:
    from workbench.lifecycle import Event


def span_name(event: Event, target: str) -> str | None:
    """The row an event belongs to, or None when it has none (output, plan, skips...)."""
    if event.kind == "host":
        return f"{event.message.split(':', 1)[0]} ({target})"
    if event.kind == "step" and not event.message.startswith("skip"):
        return " ".join(x for x in (event.step, event.part) if x)
    return None


class StepSpans:
    """The spans so far; :meth:`add` returns the spans an event changed."""

    def __init__(self) -> None:
        self.spans: dict[str, Span] = {}
        self.origin: float | None = None
        self._started: set[str] = set()  # rows started in the current session

    def add(self, event: Event, target: str) -> list[Span]:
        """Fold ``event`` of a session that runs up to ``target`` into the spans."""
        if self.origin is None:
            self.origin = event.time
        now = event.time - self.origin
        if event.kind == "session":
            self._started.clear()
        if event.kind == "error" or (event.kind == "done" and not event.data.get("ok")):
            return self.end_running(event.time, "failed")
        if event.kind == "done":
            return self.end_running(event.time, "done")
        name = span_name(event, target)
        if name is None:
            return []
        if event.elapsed is None:
            if name in self._started:
                return []
            self._started.add(name)
            span = Span(name, now)
        elif name in self.spans and self.spans[name].end is None:
            span = replace(self.spans[name], end=now, state="done")
        else:  # an end without its start (e.g. a skipped host action): its own length
            span = Span(name, now - event.elapsed, now, "done")
        self.spans[name] = span
        return [span]

    def end_running(self, at: float, state: SpanState) -> list[Span]:
        """End every running span at ``at`` (epoch seconds), e.g. when a task was cancelled."""
        now = at - (self.origin if self.origin is not None else at)
        ended = [replace(s, end=now, state=state) for s in self.spans.values() if s.end is None]
        self.spans.update((s.name, s) for s in ended)
        return ended

    def clear(self) -> None:
        """Forget every span and the clock's origin."""
        self.spans.clear()
        self.origin = None
        self._started.clear()
