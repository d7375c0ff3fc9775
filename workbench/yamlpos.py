"""YAML with source positions: ruamel.yaml round trip, comments and key order kept.

:func:`load_file` / :func:`load_text` return a :class:`Document`: the round-trip data plus the file
name, so that any key path can be turned into a :class:`~workbench.errors.Location` with
:meth:`Document.locate`. Loading refuses, with a positioned :class:`~workbench.errors.SourceError`,
what would hurt later: syntax errors, duplicate keys, non-UTF-8 bytes, files over
:data:`MAX_BYTES`, and alias bombs or cycles that expand past :data:`MAX_NODES` nodes.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from workbench.errors import Location, SourceError

MAX_BYTES = 4 * 1024 * 1024
MAX_NODES = 500_000

KeyPath = Sequence[str | int]


@dataclass(frozen=True)
class Document:
    """Round-trip YAML data and the file it came from."""

    data: Any
    file: str

    def locate(self, path: KeyPath) -> Location:
        """The position of the deepest node of ``path`` that exists in this document."""
        return locate(self.data, path, file=self.file)


def key_path(path: Iterable[str | int]) -> str:
    """``("apps", "a", "plugs", 1)`` -> ``"apps.a.plugs[1]"``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _round_trip() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load_text(text: str, file: str = "<input>") -> Document:
    """Parse ``text``; every failure is a :class:`SourceError` naming ``file``, line and column."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise SourceError(
            f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB",
            hint="split it, or check that this is the file you meant",
            location=Location(file=file),
        )
    try:
        data = _round_trip().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise SourceError(
            f"invalid YAML: {problem}",
            hint="fix the syntax at this position",
            location=Location(file, mark.line + 1, mark.column + 1) if mark else Location(file),
        ) from None
    except RecursionError:
        raise SourceError(
            "YAML is nested too deeply",
            hint="flatten the structure",
            location=Location(file=file),
        ) from None
    except Exception as exc:  # ruamel raises assorted types on hostile input
        raise SourceError(
            f"invalid YAML: {exc}".splitlines()[0],
            hint="check the file's syntax",
            location=Location(file=file),
        ) from None
    _check_expansion(data, file)
    return Document(data=data, file=file)


def load_file(path: str | Path) -> Document:
    """Read and parse a YAML file (UTF-8, at most :data:`MAX_BYTES`)."""
    path = Path(path)
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SourceError(
                f"file is {size} bytes, more than the {MAX_BYTES // (1024 * 1024)} MiB limit",
                hint="split it, or check that this is the file you meant",
                location=Location(file=name),
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(
            "no such file", hint="check the path", location=Location(file=name)
        ) from None
    except IsADirectoryError:
        raise SourceError(
            "is a directory, not a YAML file",
            hint="name the file itself",
            location=Location(file=name),
        ) from None
    except PermissionError:
        raise SourceError(
            "permission denied", hint="make the file readable", location=Location(file=name)
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise SourceError(
            f"not UTF-8 (byte 0x{raw[exc.start]:02x})",
            hint="save the file as UTF-8",
            location=Location(name, line, col),
        ) from None
    return load_text(text, file=name)


def _check_expansion(data: Any, file: str) -> None:
    """Refuse alias cycles and documents whose alias-expanded size exceeds :data:`MAX_NODES`."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any) -> int:
        if not isinstance(node, Mapping | list):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise SourceError(
                "YAML alias refers to itself (a cycle)",
                hint="remove the recursive anchor/alias",
                location=Location(file=file),
            )
        active.add(key)
        children: Iterable[Any] = (
            [*node.keys(), *node.values()] if isinstance(node, Mapping) else node
        )
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_NODES:
                raise SourceError(
                    f"YAML expands to more than {MAX_NODES} nodes through anchors and aliases",
                    hint="this looks like an alias bomb; write the values out",
                    location=Location(file=file),
                )
        active.discard(key)
        sizes[key] = total
        return total

    try:
        size(data)
    except RecursionError:
        raise SourceError(
            "YAML is nested too deeply", hint="flatten the structure", location=Location(file=file)
        ) from None


def _position(container: Any, key: str | int) -> tuple[int, int] | None:
    try:
        if isinstance(container, CommentedMap):
            line, col = container.lc.key(key)
        elif isinstance(container, CommentedSeq):
            line, col = container.lc.item(key)
        else:
            return None
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return int(line) + 1, int(col) + 1


def _own_position(node: Any) -> tuple[int, int] | None:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return None
    return int(lc.line) + 1, int(lc.col) + 1


def locate(data: Any, path: KeyPath, *, file: str) -> Location:
    """Location of the deepest node of ``path`` found in ``data`` (round-trip containers)."""
    best = _own_position(data)
    node = data
    for part in path:
        pos = _position(node, part)
        if pos is None:
            break
        best = pos
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    line, col = best if best else (None, None)
    return Location(file=file, line=line, col=col, path=key_path(path) or None)


def dump(data: Any) -> str:
    """Round-trip YAML text of ``data`` (comments and key order kept where they exist)."""
    stream = io.StringIO()
    _round_trip().dump(data, stream)
    return stream.getvalue()


def to_plain(data: Any) -> Any:
    """Deep copy of round-trip data as plain dicts, lists and scalars (JSON-ready)."""
    if isinstance(data, Mapping):
        return {str(k): to_plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [to_plain(v) for v in data]
    if data is None or isinstance(data, bool):
        return data
    if isinstance(data, int):
        return int(data)
    if isinstance(data, float):
        return float(data)
    return str(data)
