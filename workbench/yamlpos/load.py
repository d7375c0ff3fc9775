"""Loading YAML as snapcraft reads it (libyaml); broken or hostile input is a positioned error."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import Location, SourceError
from workbench.yamlpos.document import Document
from workbench.yamlpos.limits import MAX_BYTES, check_brackets, check_expansion, too_large
from workbench.yamlpos.roundtrip import one_line, round_trip_load

_LIBYAML: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"


class _Refused(Exception):
    """Text libyaml reads but the workbench refuses (snapcraft refuses duplicate keys too)."""


class _Loader(_LIBYAML):  # type: ignore[misc]
    """PyYAML's C safe loader, refusing duplicate keys and a mapping merged into itself."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._checked: set[int] = set()

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        if id(node) not in self._checked:  # before flattening: the node's own keys only
            self._checked.add(id(node))
            seen: set[tuple[str, str]] = set()
            for key, value in node.value:
                if key.tag == _MERGE:
                    merged = value.value if isinstance(value, yaml.SequenceNode) else [value]
                    if any(item is node for item in merged):
                        raise _Refused("a mapping merged into itself")
                elif isinstance(key, yaml.ScalarNode):
                    ident = (key.tag, key.value)
                    if ident in seen:
                        raise _Refused(f"duplicate key {key.value!r}")
                    seen.add(ident)
        super().flatten_mapping(node)


def _libyaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree and the data of ``text``, read by libyaml."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return root, data


def load_text(text: str, file: str = "<input>") -> Document:
    """Parse ``text``; every failure is a :class:`SourceError` naming ``file``, line and column."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise too_large(file)
    check_brackets(text, file)
    try:
        root, data = _libyaml(text)
        check_expansion(data, file)
    except Exception as exc:  # libyaml and PyYAML's constructors raise assorted types
        round_trip_load(text, file)  # its message and position, when it refuses the text too
        raise _libyaml_error(exc, text, file) from None
    return Document(data=data, file=file, text=text, root=root)


def _libyaml_error(exc: Exception, text: str, file: str) -> SourceError:
    """A libyaml (or PyYAML constructor) failure as a positioned :class:`SourceError`."""
    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - before.rfind("\n")
        return SourceError(
            f"invalid YAML: {one_line(str(exc.reason))}",
            hint="remove it, or write it as an escape in a double-quoted string",
            location=Location(file, line, col),
        )
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
    return SourceError(
        f"invalid YAML: {one_line(problem)}",
        hint="fix the syntax at this position",
        location=Location(file, mark.line + 1, mark.column + 1) if mark else Location(file),
    )


def _read(path: Path) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_BYTES` (never more are read)."""
    name = str(path)
    info = path.stat()
    if stat.S_ISDIR(info.st_mode):
        raise SourceError(
            "is a directory, not a YAML file", hint="name the file itself", location=Location(name)
        )
    if not stat.S_ISREG(info.st_mode):
        raise SourceError(
            "not a regular file (a device, FIFO or socket)",
            hint="name a YAML file",
            location=Location(file=name),
        )
    if info.st_size > MAX_BYTES:
        raise too_large(name)
    with path.open("rb") as stream:  # a file that grew since stat() is still cut at the limit
        raw = stream.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise too_large(name)
    return raw


def load_file(path: str | Path) -> Document:
    """Read and parse a YAML file (a regular UTF-8 file of at most :data:`MAX_BYTES`)."""
    path = Path(path)
    name = str(path)
    try:
        raw = _read(path)
    except FileNotFoundError:
        raise SourceError(
            "no such file", hint="check the path", location=Location(file=name)
        ) from None
    except PermissionError:
        raise SourceError(
            "permission denied", hint="make the file readable", location=Location(file=name)
        ) from None
    except OSError as exc:  # a symlink loop, a name too long, an I/O error
        raise SourceError(
            f"cannot read: {exc.strerror or exc}", hint="check the path", location=Location(name)
        ) from None
    except ValueError:  # a NUL byte in the path
        raise SourceError(
            "the path contains a NUL byte", hint="check the path", location=Location(repr(name))
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
