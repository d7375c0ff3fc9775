"""The build's event stream: one JSON object per line, from the guest runner to the host and on.

The guest runner (:mod:`workbench.lifecycle.guest`) prints :class:`Event` lines on stdout; the
host session parses them, adds its own (boot, inject, pack, copy), and hands every event to its
listeners: the terminal renderer, the notebooks, and :class:`BuildLog`, which appends each to
``events.jsonl`` and a readable line to ``build.log`` in the instance directory. This module is
standard library only: the guest imports it too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

PREFIX = "@workbench-event "
"""Marks an event line in the guest's stdout; anything else on stdout is build output."""


KINDS = (
    "session",  # the host session starts: project, arch, options
    "plan",  # the host's plan of actions, with reasons
    "host",  # a host action starts or ends (boot, inject, pack, copy, shell)
    "actions",  # the lifecycle actions craft-parts planned, with reasons
    "step",  # one part's step starts (elapsed None) or ends (elapsed set)
    "output",  # a line of build output
    "error",  # a failure: brief, details, hint, part, step, directory
    "done",  # the session ended: ok, snap file, elapsed
)


@dataclass(frozen=True)
class Event:
    """One thing that happened in a build; ``data`` holds kind-specific fields."""

    kind: str
    message: str = ""
    part: str | None = None
    step: str | None = None
    elapsed: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")

    def to_json(self) -> str:
        """One line of JSON, no trailing newline."""
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Event:
        raw = json.loads(line)
        if not isinstance(raw, dict):
            raise ValueError("an event is a JSON object")
        return cls(**raw)

    def line(self) -> str:
        """The event as one human line (what ``build.log`` and the terminal show)."""
        where = " ".join(x for x in (self.step, self.part) if x)
        text = f"{where}: {self.message}" if where and self.message else where or self.message
        if self.elapsed is not None:
            text = f"{text} ({self.elapsed:.1f} s)"
        return f"{self.kind}: {text}" if self.kind in ("error", "plan", "actions") else text


Listener = Callable[[Event], None]


def parse_line(line: str) -> Event | None:
    """The event carried by a guest stdout line, or None when it is build output."""
    if not line.startswith(PREFIX):
        return None
    try:
        return Event.from_json(line[len(PREFIX) :])
    except (ValueError, TypeError):
        return None


def emit(event: Event, stream: TextIO) -> None:
    """Write ``event`` as a marked line on ``stream`` (the guest side) and flush."""
    stream.write(PREFIX + event.to_json() + "\n")
    stream.flush()


class LineSplitter:
    """Feeds text chunks in, calls ``on_line`` with each complete line (no newline)."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self.on_line = on_line
        self._rest = ""

    def __call__(self, chunk: str) -> None:
        lines = (self._rest + chunk).split("\n")
        self._rest = lines.pop()
        for line in lines:
            self.on_line(line.rstrip("\r"))

    def flush(self) -> None:
        if self._rest:
            self.on_line(self._rest)
            self._rest = ""


class BuildLog:
    """A listener appending a readable line to ``text_path`` and JSON to ``events_path``."""

    def __init__(self, text_path: Path, events_path: Path) -> None:
        text_path.parent.mkdir(parents=True, exist_ok=True)
        events_path.parent.mkdir(parents=True, exist_ok=True)
        self.text_path = text_path
        self.events_path = events_path

    def __call__(self, event: Event) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.time))
        with self.text_path.open("a", encoding="utf-8") as text:
            text.write(f"{stamp} {event.line()}\n")
        with self.events_path.open("a", encoding="utf-8") as events:
            events.write(event.to_json() + "\n")


def read_events(path: Path) -> list[Event]:
    """The events recorded in an ``events.jsonl`` file (for notebooks and tests)."""
    if not path.exists():
        return []
    return [Event.from_json(line) for line in path.read_text("utf-8").splitlines() if line]
