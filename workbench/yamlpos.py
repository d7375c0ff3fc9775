"""YAML with source positions: values as snapcraft reads them, positions and comments on demand.

:func:`load_file` / :func:`load_text` return a :class:`Document`. Its ``data`` comes from PyYAML's
C loader (libyaml, YAML 1.1: ``0660`` is 432, ``yes`` is true, ``1:30`` is 90), exactly what
snapcraft, snapd and Launchpad read. Positions come from the libyaml node tree kept beside the
data (:meth:`Document.locate`, :meth:`Document.node`); the ruamel.yaml round trip that keeps
comments and the user's spelling is parsed only for YAML text the splice of
:mod:`workbench.templates.text` does not cover (:meth:`Document.round_trip`).

Loading refuses, with a positioned :class:`~workbench.errors.SourceError`, what would hurt later:
syntax errors, duplicate keys or anchors, non-UTF-8 bytes, files over :data:`MAX_BYTES` or that are
not regular files (FIFOs, devices), nesting deeper than :data:`MAX_DEPTH`, and alias bombs or
cycles that expand past :data:`MAX_NODES` nodes. When libyaml refuses a file, the round-trip
parser is asked too, for its more precise message and position.
"""

from __future__ import annotations

import io
import json
import re
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer, ComposerError, MaxDepthExceededError
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.reader import ReaderError

from workbench.errors import Location, SourceError

MAX_BYTES = 1024 * 1024  # snapcraft.yaml files are KiBs; ruamel parses a 380 KB map in ~10 s
MAX_NODES = 500_000
MAX_DEPTH = 100
_BRACKETS = re.compile(r"[][{}]")

KeyPath = Sequence[str | int]


_LIBYAML: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class Document:
    """YAML data as snapcraft reads it, the file it came from, and (when loaded from text) the
    text and its libyaml node tree, for positions and for the round trip."""

    data: Any
    file: str
    text: str | None = field(default=None, repr=False, compare=False)
    root: yaml.Node | None = field(default=None, repr=False, compare=False)
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def locate(self, path: KeyPath) -> Location:
        """The position of the deepest node of ``path`` that exists in this document (its start,
        line 1, when the whole document is a scalar or empty)."""
        if self.root is None:
            location = locate(self.data, path, file=self.file)
        else:
            location = self._positions().locate(path)
        if location.line is None and not isinstance(self.data, Mapping | list):
            return replace(location, line=1, col=1)
        return location

    def node(self, path: KeyPath) -> yaml.Node | None:
        """The libyaml node at exactly ``path`` (None when absent or without a node tree)."""
        return self._positions().node(path) if self.root is not None else None

    def keys(self, node: yaml.MappingNode) -> dict[str, int]:
        """The keys of a mapping node of this document (as key paths spell them) -> their index
        in ``node.value``."""
        return self._positions().index(node)

    def _positions(self) -> _Positions:
        positions = self._cache.get("positions")
        if positions is None:
            positions = self._cache["positions"] = _Positions(self.root, self.file)
        assert isinstance(positions, _Positions)
        return positions

    def round_trip(self) -> Any:
        """The ruamel round-trip data of the text (comments, quotes, the user's spelling of every
        scalar, key order), parsed on first use; ``data`` itself when there is no text."""
        if self.text is None:
            return self.data
        if "round_trip" not in self._cache:
            self._cache["round_trip"] = _round_trip_load(self.text, self.file)
        return self._cache["round_trip"]

    def round_trip_node(self, path: KeyPath) -> tuple[bool, Any]:
        """``(True, node)`` for the round-trip node at exactly ``path``, else ``(False, None)``."""
        node = self.round_trip()
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return False, None
        return True, node


class _Positions:
    """Key path -> position, from a libyaml node tree (each mapping indexed on first use)."""

    def __init__(self, root: yaml.Node | None, file: str) -> None:
        self.root = root
        self.file = file
        self._keys: dict[int, dict[str, int]] = {}
        self._constructor = yaml.constructor.SafeConstructor()

    def index(self, node: yaml.MappingNode) -> dict[str, int]:
        index = self._keys.get(id(node))
        if index is None:
            index = self._keys[id(node)] = {
                self._key(key): at for at, (key, _) in enumerate(node.value)
            }
        return index

    def node(self, path: KeyPath) -> yaml.Node | None:
        node = self.root
        for part in path:
            if isinstance(node, yaml.MappingNode):
                at = self.index(node).get(str(part))
                if at is None:
                    return None
                node = node.value[at][1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    return None
                node = node.value[part]
            else:
                return None
        return node

    def _key(self, key: yaml.Node) -> str:
        if isinstance(key, yaml.ScalarNode) and key.tag == _STR:
            return str(key.value)
        try:
            return str(self._constructor.construct_object(key, deep=True))
        except Exception:  # an unusual key: match its text
            return str(getattr(key, "value", ""))

    def locate(self, path: KeyPath) -> Location:
        node = self.root
        mark = node.start_mark if isinstance(node, yaml.CollectionNode) else None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                at = self.index(node).get(str(part))
                if at is None:
                    break
                key, node = node.value[at]
                mark = key.start_mark
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                node = node.value[part]
                mark = node.start_mark
            else:
                break
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        return Location(file=self.file, line=line, col=col, path=key_path(path) or None)


def key_path(path: Iterable[str | int]) -> str:
    """``("apps", "a", "plugs", 1)`` -> ``"apps.a.plugs[1]"``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


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


class _Composer(Composer):
    """ruamel's composer, refusing an anchor defined twice (as PyYAML, hence snapcraft, does)
    instead of warning on stderr."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if not self.parser.check_event(AliasEvent):
            event = self.parser.peek_event()
            first = self.anchors.get(event.anchor) if event.anchor is not None else None
            if first is not None:
                raise ComposerError(
                    problem=f"anchor &{event.anchor} is defined twice "
                    f"(first on line {first.start_mark.line + 1})",
                    problem_mark=event.start_mark,
                )
        return super().compose_node(parent, index)


class _Constructor(RoundTripConstructor):
    """ruamel's round-trip constructor, with a position on every value it fails to build."""

    def construct_non_recursive_object(self, node: Any, tag: str | None = None) -> Any:
        pending = len(self.state_generators)
        try:
            data = super().construct_non_recursive_object(node, tag)
        except (MarkedYAMLError, RecursionError):
            raise
        except Exception as exc:
            raise _marked(exc, node) from None
        if len(self.state_generators) > pending:  # filled in later: keep the node's position
            self.state_generators[-1] = _filled(self.state_generators[-1], node)
        return data


def _marked(exc: Exception, node: Any) -> ConstructorError:
    return ConstructorError(problem=f"cannot read this value: {exc}", problem_mark=node.start_mark)


def _one_line(text: str, limit: int = 200) -> str:
    """``text`` with its whitespace runs (newlines too) collapsed, cut at ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _filled(generator: Iterator[Any], node: Any) -> Iterator[Any]:
    try:
        yield from generator
    except (MarkedYAMLError, RecursionError):
        raise
    except Exception as exc:
        raise _marked(exc, node) from None


def _round_trip() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Composer = _Composer
    yaml.Constructor = _Constructor
    yaml.max_depth = MAX_DEPTH + 1  # counts scalar leaves as a level too
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load_text(text: str, file: str = "<input>") -> Document:
    """Parse ``text``; every failure is a :class:`SourceError` naming ``file``, line and column."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise _too_large(file)
    _check_brackets(text, file)
    try:
        root, data = _libyaml(text)
        _check_expansion(data, file)
    except Exception as exc:  # libyaml and PyYAML's constructors raise assorted types
        _round_trip_load(text, file)  # its message and position, when it refuses the text too
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
            f"invalid YAML: {_one_line(str(exc.reason))}",
            hint="remove it, or write it as an escape in a double-quoted string",
            location=Location(file, line, col),
        )
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
    return SourceError(
        f"invalid YAML: {_one_line(problem)}",
        hint="fix the syntax at this position",
        location=Location(file, mark.line + 1, mark.column + 1) if mark else Location(file),
    )


def _round_trip_load(text: str, file: str) -> Any:
    """The ruamel round-trip data of ``text``; every failure is a positioned SourceError."""
    try:
        data = _round_trip().load(text)
    except MaxDepthExceededError as exc:
        mark = exc.problem_mark
        raise _too_deep(Location(file, mark.line + 1, mark.column + 1)) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise SourceError(
            f"invalid YAML: {_one_line(problem)}",
            hint="fix the syntax at this position",
            location=Location(file, mark.line + 1, mark.column + 1) if mark else Location(file),
        ) from None
    except ReaderError as exc:  # a character YAML does not allow (control characters, ...)
        before = text[: exc.position]
        raise SourceError(
            f"invalid YAML: character #x{exc.character:04x} is not allowed",
            hint="remove it, or write it as an escape in a double-quoted string",
            location=Location(file, before.count("\n") + 1, exc.position - before.rfind("\n")),
        ) from None
    except RecursionError:
        raise _too_deep(Location(file=file)) from None
    except Exception as exc:  # ruamel raises assorted types on hostile input
        raise SourceError(
            f"invalid YAML: {_one_line(str(exc))}",
            hint="check the file's syntax",
            location=Location(file=file),
        ) from None
    _check_expansion(data, file)
    return data


def _too_deep(location: Location) -> SourceError:
    return SourceError(
        f"YAML is nested more than {MAX_DEPTH} levels deep",
        hint="flatten the structure",
        location=location,
    )


def _check_brackets(text: str, file: str) -> None:
    """Refuse more than :data:`MAX_DEPTH` unclosed brackets before ruamel's scanner, which is
    quadratic in the flow nesting depth, sees them (brackets in strings count too: harmless at
    this limit)."""
    depth = 0
    for match in _BRACKETS.finditer(text):
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_DEPTH:
            before = text[: match.start()]
            line, col = before.count("\n") + 1, match.start() - before.rfind("\n")
            raise _too_deep(Location(file, line, col))


def _too_large(file: str) -> SourceError:
    return SourceError(
        f"file is larger than the {MAX_BYTES // (1024 * 1024)} MiB limit",
        hint="split it, or check that this is the file you meant",
        location=Location(file=file),
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
        raise _too_large(name)
    with path.open("rb") as stream:  # a file that grew since stat() is still cut at the limit
        raw = stream.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise _too_large(name)
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


def _check_expansion(data: Any, file: str) -> None:
    """Refuse alias cycles, and documents that, with every alias expanded, nest deeper than
    :data:`MAX_DEPTH` or have more than :data:`MAX_NODES` nodes."""
    measured: dict[int, tuple[int, int]] = {}  # id -> (nodes, levels) of an expanded subtree
    active: set[int] = set()

    def at(node: Any) -> Location:
        line, col = _own_position(node) or (None, None)
        return Location(file=file, line=line, col=col)

    def counted(nodes: int, node: Any) -> int:
        if nodes > MAX_NODES:
            raise SourceError(
                f"YAML expands to more than {MAX_NODES} nodes "
                "(an alias counts as often as it is used)",
                hint="this looks like an alias bomb; write the values out",
                location=at(node),
            )
        return nodes

    def measure(node: Any, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in active:
            raise SourceError(
                "YAML alias refers to itself (a cycle)",
                hint="remove the recursive anchor/alias",
                location=at(node),
            )
        if key not in measured:
            if depth > MAX_DEPTH:
                raise _too_deep(at(node))
            active.add(key)
            children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
            nested = [child for child in children if isinstance(child, dict | list)]
            nodes, levels = counted(1 + len(children) - len(nested), node), 1
            for child in nested:  # a scalar is one node, one level below this one
                child_nodes, child_levels = measure(child, depth + 1)
                nodes, levels = counted(nodes + child_nodes, node), max(levels, child_levels + 1)
            active.discard(key)
            measured[key] = nodes, levels
        nodes, levels = measured[key]
        if depth + levels - 1 > MAX_DEPTH:  # an alias repeats this subtree deeper down
            raise _too_deep(at(node))
        return nodes, levels

    if isinstance(data, dict | list):  # the containers of libyaml and ruamel data
        measure(data, 1)


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


def to_json(data: Any, pad: str = "\n") -> str:
    """``json.dumps(to_plain(data), indent=2, ensure_ascii=False)``, in one pass and about three
    times as fast (the standard encoder indents only in pure Python); ``pad`` starts the lines of
    this value's elements, less two spaces."""
    if isinstance(data, str):
        return encode_basestring(data)
    if isinstance(data, Mapping):
        if not data:
            return "{}"
        inner = pad + "  "
        items = [encode_basestring(str(k)) + ": " + to_json(v, inner) for k, v in data.items()]
        return "{" + inner + ("," + inner).join(items) + pad + "}"
    if isinstance(data, list | tuple):
        if not data:
            return "[]"
        inner = pad + "  "
        return "[" + inner + ("," + inner).join([to_json(v, inner) for v in data]) + pad + "]"
    if data is None or isinstance(data, bool | int | float):
        return json.dumps(to_plain(data))
    return encode_basestring(str(data))
