"""The build's event stream: one JSON object per line, from the guest runner to the host and on.

The guest runner (:mod:`workbench.lifecycle.guest`) prints :class:`Event` lines on stdout; the
host session parses them, adds its own (boot, inject, pack, copy), and hands every event to its
listeners: the terminal renderer, the notebooks, and :class:`BuildLog`, which appends each to
``events.jsonl`` and a readable line to ``build.log`` in the instance directory. This module is
standard library only: the guest imports it too.

The guest controls every byte it prints, so its lines are data: :func:`parse_line` never raises,
turns a malformed or unknown event into an output line that shows it, makes every field the type
it should be, and :func:`printable` escapes what could drive a terminal (control characters,
escape sequences, bidirectional overrides) in every text field. :class:`LineSplitter` cuts lines
at :data:`MAX_LINE` characters and :class:`BuildLog` rotates its files at :data:`MAX_LOG_BYTES`.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Collection
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
GUEST_KINDS = ("actions", "step", "output", "error")
"""The kinds the guest runner may send; the others are the host's own (a guest's is shown)."""

MAX_LINE = 64 * 1024
"""Characters kept of one line of guest output (or one text field): the rest is cut, and said."""
MAX_DEPTH = 8
"""Nesting kept in an event's ``data``: deeper values are replaced by a note."""
MAX_LOG_BYTES = 64 * 1024 * 1024
"""``build.log`` and ``events.jsonl`` are rotated (one ``.1`` kept) when they would grow past it."""

_SGR = re.compile(r"\x1b\[[0-9;]*m")  # colours: dropped, they only style text
_UNSAFE = r"\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff"
_ESCAPE = re.compile(f"[{_UNSAFE}]")
_ESCAPE_LINE = re.compile(f"[{_UNSAFE}\\n]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def cut(text: str, limit: int = MAX_LINE) -> str:
    """``text`` cut to ``limit`` characters, with a note saying how many were cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]} [workbench: {len(text) - limit} more characters cut]"


def printable(text: str, *, multiline: bool = False, limit: int | None = MAX_LINE) -> str:
    """``text`` safe for a terminal or a notebook: control characters (ESC, CSI, BEL, backspace,
    carriage return...), surrogates and bidirectional overrides shown escaped (``\\x1b``), colour
    sequences dropped, tabs kept, newlines kept only when ``multiline``; cut at ``limit``."""
    text = _SGR.sub("", text)
    text = (_ESCAPE if multiline else _ESCAPE_LINE).sub(_escaped, text)
    return text if limit is None else cut(text, limit)


def _text(value: object) -> str:
    """Any JSON value as text: strings as they are, None as nothing, the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=True, default=str)


def _number(value: object) -> float | None:
    """A finite, non-negative number as a float, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def _data(value: object, depth: int = 0) -> Any:
    """A JSON value from the guest made safe: strings printable, numbers finite, depth bounded."""
    if depth > MAX_DEPTH:
        return "[workbench: nested too deep, cut]"
    if isinstance(value, str):
        return printable(value, multiline=True)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_data(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {printable(str(k)): _data(v, depth + 1) for k, v in value.items()}
    return printable(_text(value))


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
        object.__setattr__(self, "message", printable(self.message))
        for name in ("part", "step"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, printable(value))

    def to_json(self) -> str:
        """One line of ASCII JSON, no trailing newline."""
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=True)

    @classmethod
    def from_json(cls, line: str, *, kinds: Collection[str] = KINDS) -> Event:
        """The event in ``line``, every field made safe and of its type; never raises: a line
        that is not an event of one of ``kinds`` becomes an output event that shows it."""
        try:
            raw = json.loads(line)
        except (ValueError, RecursionError):
            return cls("output", f"workbench: not an event: {line}")
        if not isinstance(raw, dict):
            return cls("output", f"workbench: not an event: {line}")
        kind = raw.get("kind")
        if not isinstance(kind, str) or kind not in kinds:
            return cls("output", f"workbench: unexpected event kind {json.dumps(kind)}: {line}")
        data = _data(raw.get("data") or {})
        stamp = _number(raw.get("time"))
        return cls(
            kind,
            _text(raw.get("message")),
            part=_text(raw.get("part")) or None,
            step=_text(raw.get("step")) or None,
            elapsed=_number(raw.get("elapsed")),
            data=data if isinstance(data, dict) else {"data": data},
            time=time.time() if stamp is None else stamp,
        )

    def text(self, key: str, *, multiline: bool = False) -> str | None:
        """``data[key]`` as printable text (one line unless ``multiline``); None when empty."""
        value = _text(self.data.get(key))
        return printable(value, multiline=multiline) if value else None

    def line(self) -> str:
        """The event as one human line (what ``build.log`` and the terminal show)."""
        where = " ".join(x for x in (self.step, self.part) if x)
        text = f"{where}: {self.message}" if where and self.message else where or self.message
        if self.elapsed is not None:
            text = f"{text} ({self.elapsed:.1f} s)"
        return f"{self.kind}: {text}" if self.kind in ("error", "plan", "actions") else text


Listener = Callable[[Event], None]


def parse_line(line: str, *, kinds: Collection[str] = KINDS) -> Event | None:
    """The event carried by a marked line (see :meth:`Event.from_json`), or None when the line
    is build output."""
    if not line.startswith(PREFIX):
        return None
    return Event.from_json(line[len(PREFIX) :], kinds=kinds)


def guest_event(line: str) -> Event:
    """What a line of the guest runner's stdout stands for: its event, or an output event."""
    return parse_line(line, kinds=GUEST_KINDS) or Event("output", line)


def emit(event: Event, stream: TextIO) -> None:
    """Write ``event`` as a marked line on ``stream`` (the guest side) and flush."""
    stream.write(PREFIX + event.to_json() + "\n")
    stream.flush()


class LineSplitter:
    """Feeds text chunks in, calls ``on_line`` with each complete line (no newline), cut at
    ``limit`` characters (the rest of a longer line is dropped as it comes, and the cut said)."""

    def __init__(self, on_line: Callable[[str], None], *, limit: int = MAX_LINE) -> None:
        self.on_line = on_line
        self.limit = limit
        self._rest = ""
        self._dropped = 0

    def __call__(self, chunk: str) -> None:
        *lines, rest = chunk.split("\n")
        for line in lines:
            self._add(line)
            self._end()
        self._add(rest)

    def _add(self, text: str) -> None:
        room = max(self.limit - len(self._rest), 0)
        self._rest += text[:room]
        self._dropped += max(len(text) - room, 0)

    def _end(self) -> None:
        line, dropped = self._rest.rstrip("\r"), self._dropped
        self._rest, self._dropped = "", 0
        self.on_line(f"{line} [workbench: {dropped} more characters cut]" if dropped else line)

    def flush(self) -> None:
        if self._rest or self._dropped:
            self._end()


class BuildLog:
    """A listener appending a readable line to ``text_path`` and JSON to ``events_path``; a file
    that would grow past ``limit`` bytes is renamed to ``NAME.1`` (replacing the previous one) and
    the new file's first line says so."""

    def __init__(self, text_path: Path, events_path: Path, *, limit: int = MAX_LOG_BYTES) -> None:
        text_path.parent.mkdir(parents=True, exist_ok=True)
        events_path.parent.mkdir(parents=True, exist_ok=True)
        self.text_path = text_path
        self.events_path = events_path
        self.limit = limit

    def __call__(self, event: Event) -> None:
        stamp = _stamp(event.time)
        self._append(self.text_path, f"{stamp} {event.line()}\n", lambda note: f"{stamp} {note}")
        self._append(
            self.events_path, event.to_json() + "\n", lambda n: Event("output", n).to_json()
        )

    def _append(self, path: Path, line: str, first: Callable[[str], str]) -> None:
        with path.open("a", encoding="utf-8") as out:
            if out.tell() == 0 or out.tell() + len(line.encode("utf-8")) <= self.limit:
                out.write(line)
                return
        old = path.with_name(path.name + ".1")
        path.replace(old)
        note = f"workbench: {path.name} rotated at {self.limit} bytes: the earlier part is {old}"
        with path.open("a", encoding="utf-8") as out:
            out.write(first(note) + "\n" + line)


def _stamp(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def read_events(path: Path) -> list[Event]:
    """The events recorded in an ``events.jsonl`` file (for notebooks and tests); a line that is
    not an event is read as an output event showing it."""
    if not path.exists():
        return []
    return [Event.from_json(line) for line in path.read_text("utf-8").splitlines() if line]
