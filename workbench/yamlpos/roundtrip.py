"""The ruamel.yaml round trip: parsing that keeps comments and spelling, and dumping it back."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, ComposerError, MaxDepthExceededError
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.reader import ReaderError

from workbench.errors import Location, SourceError
from workbench.yamlpos.limits import MAX_DEPTH, check_expansion, too_deep


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


def one_line(text: str, limit: int = 200) -> str:
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


def round_trip_load(text: str, file: str) -> Any:
    """The ruamel round-trip data of ``text``; every failure is a positioned SourceError."""
    try:
        data = _round_trip().load(text)
    except MaxDepthExceededError as exc:
        mark = exc.problem_mark
        raise too_deep(Location(file, mark.line + 1, mark.column + 1)) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise SourceError(
            f"invalid YAML: {one_line(problem)}",
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
        raise too_deep(Location(file=file)) from None
    except Exception as exc:  # ruamel raises assorted types on hostile input
        raise SourceError(
            f"invalid YAML: {one_line(str(exc))}",
            hint="check the file's syntax",
            location=Location(file=file),
        ) from None
    check_expansion(data, file)
    return data


def dump(data: Any) -> str:
    """Round-trip YAML text of ``data`` (comments and key order kept where they exist)."""
    stream = io.StringIO()
    _round_trip().dump(data, stream)
    return stream.getvalue()
