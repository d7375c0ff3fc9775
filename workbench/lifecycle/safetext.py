"""Text from the guest made safe to show: escaped, bounded, split into lines.

The guest controls every byte it prints, so its text is data. :func:`printable` escapes what could
drive a terminal (control characters, escape sequences, bidirectional overrides) and cuts at
:data:`MAX_LINE` characters; :class:`LineSplitter` cuts lines as they come; the text fields of a
:class:`Record` are printable whoever made it. Standard library only: the guest imports it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ClassVar

MAX_LINE = 64 * 1024
"""Characters kept of one line of guest output (or one text field): the rest is cut, and said."""

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


@dataclass(frozen=True)
class Record:
    """A frozen dataclass whose text fields are made :func:`printable` (those named in
    ``MULTILINE`` keep their newlines), tuples of text too."""

    MULTILINE: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            multiline = item.name in self.MULTILINE
            if isinstance(value, str):
                object.__setattr__(self, item.name, printable(value, multiline=multiline))
            elif isinstance(value, tuple) and all(isinstance(x, str) for x in value):
                safe = tuple(printable(x, multiline=multiline) for x in value)
                object.__setattr__(self, item.name, safe)
