"""The build's events, typed: what a build session and its guest runner say happened.

An :class:`Event` is a payload, one frozen dataclass per :class:`Kind`, and the time it happened.
The guest runner (:mod:`workbench.lifecycle.guest`) sends the :data:`GUEST_KINDS` as JSON lines
(:mod:`workbench.lifecycle.wire`); the host session adds its own (the session, its plan, host
actions, notices, the fetched snap, the end) and hands every event to its listeners: the terminal,
the notebooks and the build log. Listeners branch on the payload's type, never on its text. This
module is standard library only: the guest imports it too.

The guest controls every byte it prints, so its text is data: every text field of a payload goes
through :func:`~workbench.lifecycle.safetext.printable` when the payload is made, whoever made it
(:class:`~workbench.lifecycle.safetext.Record`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from workbench.lifecycle.safetext import Record
from workbench.lifecycle.steps import HostAction


class Kind(StrEnum):
    """What an event says; its value is the ``kind`` on the wire."""

    SESSION = "session"  # the host session starts: project, architectures, instance
    PLAN = "plan"  # the host's plan of actions, with reasons
    HOST_STARTED = "host-started"  # a host action (boot, inject, lifecycle, pack...) starts
    HOST_FINISHED = "host-finished"
    HOST_SKIPPED = "host-skipped"  # planned but not needed
    ACTIONS = "actions"  # the lifecycle actions craft-parts planned, with reasons
    STEP_STARTED = "step-started"  # one part's step (or the guest's prepare, pack) starts
    STEP_FINISHED = "step-finished"
    STEP_SKIPPED = "step-skipped"  # already done
    OUTPUT = "output"  # a line of build output
    UNPARSED = "unparsed"  # a marked guest line that is not an event the host takes
    ERROR = "error"  # a failure: brief, where, hint, details
    NOTICE = "notice"  # something the user should know (the VM layer's notices among them)
    SNAP = "snap"  # the .snap fetched into the project
    TIMING = "timing"  # where the session's time went, phase by phase (just before done)
    DONE = "done"  # the session ended


GUEST_KINDS = frozenset(
    {Kind.ACTIONS, Kind.STEP_STARTED, Kind.STEP_FINISHED, Kind.STEP_SKIPPED, Kind.ERROR}
)
"""The kinds the guest runner may send; a line of another kind is shown as unparsed."""


@dataclass(frozen=True)
class Payload(Record):
    """What one event says; each subclass is one :class:`Kind`."""

    KIND: ClassVar[Kind]

    def line(self) -> str:
        """The event as one human line (what ``build.log`` and the terminal show)."""
        raise NotImplementedError


def _where(step: str | None, part: str | None) -> str:
    return " ".join(x for x in (step, part) if x)


def _seconds(elapsed: float) -> str:
    return f"({elapsed:.1f} s)"


@dataclass(frozen=True, kw_only=True)
class SessionStarted(Payload):
    """A host session starts: the project, what it builds for, where its VM lives."""

    KIND = Kind.SESSION
    name: str
    version: str
    build_on: str
    build_for: str
    architectures: tuple[str, ...]
    arch_reason: str
    project: str
    instance: str
    snap: str
    image: str = ""  # the VM's image, "(stand-in for Ubuntu 22.04)" when it is one; "": no VM

    def line(self) -> str:
        where = f" in {self.image}" if self.image else ""
        return (
            f"{self.name} {self.version}: build on {self.build_on} for {self.build_for}{where}, "
            f"claims {', '.join(self.architectures)} ({self.arch_reason})"
        )


@dataclass(frozen=True, kw_only=True)
class HostPlan(Payload):
    """The host actions the session will take, in order."""

    KIND = Kind.PLAN
    actions: tuple[HostAction, ...]

    def line(self) -> str:
        return f"plan: {len(self.actions)} host actions"


@dataclass(frozen=True, kw_only=True)
class HostPayload(Payload):
    """About the host action ``action`` (boot, inject, lifecycle...), planned for ``reason``."""

    action: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class HostStarted(HostPayload):
    """A host action starts."""

    KIND = Kind.HOST_STARTED

    def line(self) -> str:
        return f"{self.action}: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class HostFinished(HostPayload):
    """A host action ended after ``elapsed`` seconds."""

    KIND = Kind.HOST_FINISHED
    elapsed: float

    def line(self) -> str:
        return f"{self.action}: {self.reason} {_seconds(self.elapsed)}"


@dataclass(frozen=True, kw_only=True)
class HostSkipped(HostPayload):
    """A planned host action was not needed."""

    KIND = Kind.HOST_SKIPPED

    def line(self) -> str:
        return f"{self.action}: skipped ({self.reason}) {_seconds(0)}"


@dataclass(frozen=True, kw_only=True)
class PlannedStep(Record):
    """One craft-parts action of :class:`LifecyclePlan`: ``action`` is its type (run, rerun,
    update, reapply, skip)."""

    part: str
    step: str
    action: str
    reason: str | None = None
    skipped: bool = False


@dataclass(frozen=True, kw_only=True)
class LifecyclePlan(Payload):
    """The actions craft-parts planned up to ``target``."""

    KIND = Kind.ACTIONS
    target: str
    actions: tuple[PlannedStep, ...]

    def line(self) -> str:
        return f"actions: {len(self.actions)} actions up to {self.target}"


@dataclass(frozen=True, kw_only=True)
class StepPayload(Payload):
    """About ``step`` of ``part`` (no part: the guest's own, such as ``prepare`` or ``pack``)."""

    step: str
    part: str | None = None

    @property
    def where(self) -> str:
        """``"build hello"``: the step, then the part."""
        return _where(self.step, self.part)

    @property
    def summary(self) -> str:
        """What happens to the step (``run``, ``skip (already ran)``...)."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class StepStarted(StepPayload):
    """A step starts: ``action`` says what is done (run, clean, mksquashfs...), and why."""

    KIND = Kind.STEP_STARTED
    action: str
    reason: str | None = None

    @property
    def summary(self) -> str:
        return f"{self.action} ({self.reason})" if self.reason else self.action

    def line(self) -> str:
        return f"{self.where}: {self.summary}"


@dataclass(frozen=True, kw_only=True)
class StepFinished(StepPayload):
    """A step ended after ``elapsed`` seconds."""

    KIND = Kind.STEP_FINISHED
    action: str
    elapsed: float

    @property
    def summary(self) -> str:
        return self.action

    def line(self) -> str:
        return f"{self.where}: {self.action} {_seconds(self.elapsed)}"


@dataclass(frozen=True, kw_only=True)
class StepSkipped(StepPayload):
    """A step was not run: it is done already (``reason`` says so)."""

    KIND = Kind.STEP_SKIPPED
    reason: str

    @property
    def summary(self) -> str:
        return f"skip ({self.reason})"

    def line(self) -> str:
        return f"{self.where}: {self.summary} {_seconds(0)}"


@dataclass(frozen=True, kw_only=True)
class Output(Payload):
    """A line of build output."""

    KIND = Kind.OUTPUT
    text: str

    def line(self) -> str:
        return self.text


@dataclass(frozen=True, kw_only=True)
class Unparsed(Payload):
    """A marked line of the guest (or of ``events.jsonl``) that is not an event the host takes,
    shown with the ``problem`` found."""

    KIND = Kind.UNPARSED
    text: str
    problem: str

    def line(self) -> str:
        return f"workbench: {self.problem}: {self.text}"


@dataclass(frozen=True, kw_only=True)
class Failure(Payload):
    """Something failed: ``brief``, where, what to do (``hint``), the log (``details``), the
    exception's type (``error``), the guest directory to look in."""

    KIND = Kind.ERROR
    MULTILINE = frozenset({"details"})
    brief: str
    part: str | None = None
    step: str | None = None
    hint: str | None = None
    details: str | None = None
    error: str | None = None
    directory: str | None = None

    @property
    def where(self) -> str:
        return _where(self.step, self.part)

    def line(self) -> str:
        return f"error: {self.where}: {self.brief}" if self.where else f"error: {self.brief}"


@dataclass(frozen=True, kw_only=True)
class Notice(Payload):
    """Something the user should know that is not a step (the VM layer's notices, a setting
    that applies only at the next boot...)."""

    KIND = Kind.NOTICE
    text: str

    def line(self) -> str:
        return f"workbench: {self.text}"


@dataclass(frozen=True, kw_only=True)
class SnapFetched(Payload):
    """The .snap is in the project, at ``path``."""

    KIND = Kind.SNAP
    path: str

    def line(self) -> str:
        return f"pack: {self.path}"


@dataclass(frozen=True, kw_only=True)
class Phase(Record):
    """One phase of a session and its seconds: a host action (``within`` None, ``detail`` its
    reason), or a part of one (``within`` the action: a guest step, or ``other`` for the rest)."""

    name: str
    seconds: float
    within: str | None = None
    detail: str | None = None


@dataclass(frozen=True, kw_only=True)
class Timing(Payload):
    """Where the session's ``total`` seconds went: its :class:`Phase` values in order."""

    KIND = Kind.TIMING
    phases: tuple[Phase, ...]
    total: float

    def line(self) -> str:
        top = ", ".join(f"{p.name} {p.seconds:.1f} s" for p in self.phases if p.within is None)
        return f"timing: {top} (total {self.total:.1f} s)"

    def table(self) -> list[str]:
        """The phases as aligned lines, the parts of an action indented under it."""
        width = max((len(p.name) for p in self.phases), default=0) + 2
        lines = [f"timing (total {self.total:.1f} s):"]
        if not self.phases:
            lines.append("  nothing ran: every action was done already")
        for p in self.phases:
            indent, pad = ("    ", width - 2) if p.within else ("  ", width)
            detail = f"  {p.detail}" if p.detail else ""
            lines.append(f"{indent}{p.name:<{pad}} {p.seconds:7.1f} s{detail}")
        return lines

    def seconds(self, name: str, *, within: str | None = None) -> float:
        """The seconds of phase ``name``; a :class:`KeyError` naming it when the session had no
        such phase (a missing phase is never counted as 0)."""
        for p in self.phases:
            if p.name == name and p.within == within:
                return p.seconds
        where = f" within {within}" if within else ""
        known = ", ".join(p.name for p in self.phases if p.within == within) or "none"
        raise KeyError(f"no phase {name!r}{where} in this session (its phases: {known})")


@dataclass(frozen=True, kw_only=True)
class Done(Payload):
    """The session ended: ``operation`` (build or clean) succeeded or not, the .snap it left."""

    KIND = Kind.DONE
    operation: str
    ok: bool
    elapsed: float
    snap: str | None = None

    def line(self) -> str:
        outcome = "succeeded" if self.ok else "failed"
        return f"{self.operation} {outcome} {_seconds(self.elapsed)}"


PAYLOADS: dict[Kind, type[Payload]] = {
    cls.KIND: cls
    for cls in (
        SessionStarted,
        HostPlan,
        HostStarted,
        HostFinished,
        HostSkipped,
        LifecyclePlan,
        StepStarted,
        StepFinished,
        StepSkipped,
        Output,
        Unparsed,
        Failure,
        Notice,
        SnapFetched,
        Timing,
        Done,
    )
}
"""The payload class of each kind."""


@dataclass(frozen=True)
class Event:
    """One thing that happened in a build: what (``payload``) and when (epoch seconds)."""

    payload: Payload
    time: float = field(default_factory=time.time)

    @property
    def kind(self) -> Kind:
        return self.payload.KIND

    def line(self) -> str:
        """The event as one human line (what ``build.log`` and the terminal show)."""
        return self.payload.line()


Listener = Callable[[Event], None]
