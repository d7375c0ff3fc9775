"""Where a build's time went: the phases of a session, gathered from its own events.

A :class:`PhaseClock` listens to a session's events: each host action that ran (base, boot,
inject, lifecycle, pack...) is a phase with its reason; the guest steps that ran inside it
(``prepare``, ``pull hello``, ``pack``...) are its parts, and what the action spent outside them
(the guest runner's start and planning, fetching the .snap) is its ``other`` part. The session
sends the result as a :class:`~workbench.lifecycle.events.Timing` event just before it ends.
"""

from __future__ import annotations

from dataclasses import replace

from workbench.lifecycle.events import (
    Event,
    HostFinished,
    HostStarted,
    Phase,
    StepFinished,
    Timing,
)

OTHER = "other"
"""The part of a host action spent outside the guest steps it ran."""


class PhaseClock:
    """A listener that turns a session's events into its :class:`Timing`."""

    def __init__(self) -> None:
        self._phases: list[Phase] = []
        self._steps: list[Phase] = []

    def __call__(self, event: Event) -> None:
        payload = event.payload
        if isinstance(payload, HostStarted):
            self._steps = []
        elif isinstance(payload, StepFinished):
            self._steps.append(Phase(name=payload.where, seconds=payload.elapsed))
        elif isinstance(payload, HostFinished):
            action = payload.action
            self._phases.append(
                Phase(name=action, seconds=payload.elapsed, detail=payload.reason or None)
            )
            if self._steps:
                inside = sum(step.seconds for step in self._steps)
                self._phases += [replace(step, within=action) for step in self._steps]
                rest = max(payload.elapsed - inside, 0.0)
                self._phases.append(Phase(name=OTHER, seconds=rest, within=action))
            self._steps = []

    def timing(self, total: float) -> Timing:
        """The phases so far, for a session that took ``total`` seconds."""
        return Timing(phases=tuple(self._phases), total=total)
