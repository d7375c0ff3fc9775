"""The size, depth and expansion limits of YAML input, and the positioned errors that state them."""

from __future__ import annotations

import re
from typing import Any

from workbench.errors import Location, SourceError
from workbench.yamlpos.positions import own_position

MAX_BYTES = 1024 * 1024  # snapcraft.yaml files are KiBs; ruamel parses a 380 KB map in ~10 s
MAX_NODES = 500_000
MAX_DEPTH = 100
_BRACKETS = re.compile(r"[][{}]")


def too_deep(location: Location) -> SourceError:
    return SourceError(
        f"YAML is nested more than {MAX_DEPTH} levels deep",
        hint="flatten the structure",
        location=location,
    )


def check_brackets(text: str, file: str) -> None:
    """Refuse more than :data:`MAX_DEPTH` unclosed brackets before ruamel's scanner, which is
    quadratic in the flow nesting depth, sees them (brackets in strings count too: harmless at
    this limit)."""
    depth = 0
    for match in _BRACKETS.finditer(text):
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_DEPTH:
            before = text[: match.start()]
            line, col = before.count("\n") + 1, match.start() - before.rfind("\n")
            raise too_deep(Location(file, line, col))


def too_large(file: str) -> SourceError:
    return SourceError(
        f"file is larger than the {MAX_BYTES // (1024 * 1024)} MiB limit",
        hint="split it, or check that this is the file you meant",
        location=Location(file=file),
    )


def check_expansion(data: Any, file: str) -> None:
    """Refuse alias cycles, and documents that, with every alias expanded, nest deeper than
    :data:`MAX_DEPTH` or have more than :data:`MAX_NODES` nodes."""
    measured: dict[int, tuple[int, int]] = {}  # id -> (nodes, levels) of an expanded subtree
    active: set[int] = set()

    def at(node: Any) -> Location:
        line, col = own_position(node) or (None, None)
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
                raise too_deep(at(node))
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
            raise too_deep(at(node))
        return nodes, levels

    if isinstance(data, dict | list):  # the containers of libyaml and ruamel data
        measure(data, 1)
