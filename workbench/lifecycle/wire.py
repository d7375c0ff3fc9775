"""The events on the wire: one versioned JSON object per line, parsed totally.

Version 1 (:data:`VERSION`): ``{"v": 1, "kind": KIND, "time": EPOCH_SECONDS, FIELD: VALUE...}``
with the fields of the kind's payload (:mod:`workbench.lifecycle.events`): nested records as
objects, tuples as arrays; ASCII, keys sorted. The guest runner prints its events on stdout marked
with :data:`PREFIX` (anything else there is build output); ``events.jsonl`` in the instance
directory holds every event of the host's stream unmarked, next to a readable ``build.log``
(:class:`BuildLog`).

:func:`decode` never raises: a line that is not a JSON object, of another version, of a kind not
taken, or with a field missing or not of its type becomes an :class:`~.events.Unparsed` event that
shows the line and says why. Lines an older workbench wrote (no ``"v"``) read that way too: they
are the log of an old build, whose ``build.log`` keeps their readable text. Standard library only:
the guest imports it too.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Collection
from dataclasses import MISSING, asdict, fields, is_dataclass
from functools import partial
from pathlib import Path
from typing import Any, TextIO, get_args, get_origin, get_type_hints

from workbench.lifecycle.events import (
    GUEST_KINDS,
    PAYLOADS,
    Event,
    Kind,
    Notice,
    Output,
    Payload,
    Unparsed,
)

VERSION = 1
"""The wire format's version, the ``"v"`` of every line."""
PREFIX = "@workbench-event "
"""Marks an event line in the guest's stdout; anything else on stdout is build output."""
MAX_LOG_BYTES = 64 * 1024 * 1024
"""``build.log`` and ``events.jsonl`` are rotated (one ``.1`` kept) when they would grow past it."""

Convert = Callable[[object], Any]


class _Malformed(Exception):
    """A value that is not of its field's type (caught in :func:`decode`, never escapes)."""


def encode(event: Event) -> str:
    """``event`` as one line of ASCII JSON, no trailing newline."""
    raw = {**asdict(event.payload), "v": VERSION, "kind": event.kind.value, "time": event.time}
    return json.dumps(raw, sort_keys=True, ensure_ascii=True)


def decode(line: str, *, kinds: Collection[Kind] = frozenset(Kind)) -> Event:
    """The event in ``line``; never raises: anything but a well-formed version-1 event of one of
    ``kinds`` is an :class:`~.events.Unparsed` event showing ``line``."""
    try:
        raw = json.loads(line)
    except (ValueError, RecursionError):
        return _unparsed(line, "not an event")
    if not isinstance(raw, dict):
        return _unparsed(line, "not an event")
    version = raw.get("v")
    if isinstance(version, bool) or not isinstance(version, int) or version != VERSION:
        return _unparsed(line, f"not a version {VERSION} event")
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in kinds:
        return _unparsed(line, f"unexpected event kind {json.dumps(kind)}")
    try:
        stamp = _field("time", _seconds, raw["time"]) if "time" in raw else time.time()
        payload = _record(PAYLOADS[Kind(kind)], raw)
    except _Malformed as err:
        return _unparsed(line, f"malformed {kind} event: {err}")
    return Event(payload, stamp)


def _unparsed(line: str, problem: str) -> Event:
    return Event(Unparsed(text=line, problem=problem))


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _Malformed("not text")
    return value


def _seconds(value: object) -> float:
    """A finite, non-negative number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Malformed("not a number")
    try:
        number = float(value)
    except OverflowError:
        raise _Malformed("out of range") from None
    if not math.isfinite(number) or number < 0:
        raise _Malformed("not a finite number of seconds")
    return number


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Malformed("not true or false")
    return value


def _optional(convert: Convert, value: object) -> Any:
    return None if value is None else convert(value)


def _items(convert: Convert, value: object) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise _Malformed("not an array")
    return tuple(_field(str(n), convert, item) for n, item in enumerate(value))


def _converter(hint: object) -> Convert:
    """How to read a JSON value as ``hint`` (the field types the payloads use)."""
    simple: dict[object, Convert] = {str: _text, float: _seconds, bool: _flag}
    if hint in simple:
        return simple[hint]
    args = get_args(hint)
    if get_origin(hint) is tuple:
        return partial(_items, _converter(args[0]))
    if type(None) in args:
        (inner,) = (arg for arg in args if arg is not type(None))
        return partial(_optional, _converter(inner))
    if isinstance(hint, type) and is_dataclass(hint):
        return partial(_record, hint)
    raise TypeError(f"no wire form for {hint!r}")


_FIELDS: dict[type[Any], tuple[tuple[str, Convert, bool], ...]] = {}


def _fields(cls: type[Any]) -> tuple[tuple[str, Convert, bool], ...]:
    """Each field of the dataclass ``cls``: its name, how to read it, whether it is required."""
    if cls not in _FIELDS:
        hints = get_type_hints(cls)
        _FIELDS[cls] = tuple(
            (f.name, _converter(hints[f.name]), MISSING is f.default is f.default_factory)
            for f in fields(cls)
        )
    return _FIELDS[cls]


def _field(name: str, convert: Convert, value: object) -> Any:
    try:
        return convert(value)
    except _Malformed as err:
        raise _Malformed(f"{name}: {err}") from None


def _record(cls: type[Any], raw: object) -> Any:
    """The dataclass ``cls`` read from the JSON object ``raw`` (other keys ignored)."""
    if not isinstance(raw, dict):
        raise _Malformed("not an object")
    values = {}
    for name, convert, required in _fields(cls):
        if name in raw:
            values[name] = _field(name, convert, raw[name])
        elif required:
            raise _Malformed(f"{name}: missing")
    return cls(**values)


def parse_line(line: str, *, kinds: Collection[Kind] = frozenset(Kind)) -> Event | None:
    """The event carried by a marked line (see :func:`decode`), or None when the line is build
    output."""
    if not line.startswith(PREFIX):
        return None
    return decode(line[len(PREFIX) :], kinds=kinds)


def guest_event(line: str) -> Event:
    """What a line of the guest runner's stdout stands for: its event (of a guest kind), or an
    output event."""
    return parse_line(line, kinds=GUEST_KINDS) or Event(Output(text=line))


def emit(payload: Payload, stream: TextIO) -> None:
    """Write an event of ``payload`` as a marked line on ``stream`` (the guest side) and flush."""
    stream.write(PREFIX + encode(Event(payload)) + "\n")
    stream.flush()


class BuildLog:
    """A listener appending a readable line to ``text_path`` and JSON to ``events_path``; a file
    that would grow past ``limit`` bytes is renamed to ``NAME.1`` (replacing the previous one) and
    the new file's first line, a notice, says so."""

    def __init__(self, text_path: Path, events_path: Path, *, limit: int = MAX_LOG_BYTES) -> None:
        text_path.parent.mkdir(parents=True, exist_ok=True)
        events_path.parent.mkdir(parents=True, exist_ok=True)
        self.text_path = text_path
        self.events_path = events_path
        self.limit = limit

    def __call__(self, event: Event) -> None:
        self._append(self.text_path, event, _readable)
        self._append(self.events_path, event, encode)

    def _append(self, path: Path, event: Event, render: Callable[[Event], str]) -> None:
        line = render(event) + "\n"
        with path.open("a", encoding="utf-8") as out:
            if out.tell() == 0 or out.tell() + len(line.encode("utf-8")) <= self.limit:
                out.write(line)
                return
        old = path.with_name(path.name + ".1")
        path.replace(old)
        note = Notice(text=f"{path.name} rotated at {self.limit} bytes: the earlier part is {old}")
        with path.open("a", encoding="utf-8") as out:
            out.write(render(Event(note, event.time)) + "\n" + line)


def _readable(event: Event) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.time))
    return f"{stamp} {event.line()}"


def read_events(path: Path) -> list[Event]:
    """The events recorded in an ``events.jsonl`` file (for notebooks and tests); a line that is
    not a version-1 event is read as an unparsed event showing it."""
    if not path.exists():
        return []
    return [decode(line) for line in path.read_text("utf-8").splitlines() if line]
