"""Lifecycle events as timeline spans: host actions, and each part's steps (pure).

A build session (:class:`workbench.lifecycle.Session`) emits an event when a host action or a
part's step starts and another when it finishes. :class:`StepSpans` folds them into
:class:`~workbench.widgets.timeline.Span` values on one clock (seconds since the first event it
saw), across several sessions: host actions are named after the session's target (``"boot
(pull)"``) so each press keeps its own rows, steps after the step and part (``"build hello"``).
A skipped host action gets a row of no length; a skipped step (already done) none: the row of the
run that did it stays. A second start of a row within one session changes nothing; a later
session replaces the row. A failure ends the running spans as failed, the session's end ends them
as done, a cancelled task as failed (:meth:`StepSpans.end_running`).
"""

from __future__ import annotations

from dataclasses import replace

from workbench.lifecycle.events import (
    Done,
    Event,
    Failure,
    HostFinished,
    HostPayload,
    HostStarted,
    Payload,
    SessionStarted,
    StepFinished,
    StepStarted,
)
from workbench.widgets.timeline import Span, SpanState


def span_name(payload: Payload, target: str) -> str | None:
    """The row an event belongs to, or None when it has none (output, plan, skipped steps...)."""
    if isinstance(payload, HostPayload):
        return f"{payload.action} ({target})"
    if isinstance(payload, StepStarted | StepFinished):
        return payload.where
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
        payload = event.payload
        if isinstance(payload, SessionStarted):
            self._started.clear()
        if isinstance(payload, Failure) or (isinstance(payload, Done) and not payload.ok):
            return self.end_running(event.time, "failed")
        if isinstance(payload, Done):
            return self.end_running(event.time, "done")
        name = span_name(payload, target)
        if name is None:
            return []
        if isinstance(payload, HostStarted | StepStarted):
            if name in self._started:
                return []
            self._started.add(name)
            span = Span(name, now)
        elif name in self.spans and self.spans[name].end is None:
            span = replace(self.spans[name], end=now, state="done")
        else:  # an end without its start (a skipped host action...): its own length
            elapsed = payload.elapsed if isinstance(payload, HostFinished | StepFinished) else 0.0
            span = Span(name, now - elapsed, now, "done")
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
