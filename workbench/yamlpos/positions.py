"""Key paths and where they are in the source: in a libyaml node tree or in round-trip data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import yaml
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from workbench.errors import Location

KeyPath = Sequence[str | int]

_STR = "tag:yaml.org,2002:str"


def key_path(path: Iterable[str | int]) -> str:
    """``("apps", "a", "plugs", 1)`` -> ``"apps.a.plugs[1]"``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class Positions:
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


def own_position(node: Any) -> tuple[int, int] | None:
    """The 1-based (line, column) a round-trip container starts at, if it knows it."""
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return None
    return int(lc.line) + 1, int(lc.col) + 1


def locate(data: Any, path: KeyPath, *, file: str) -> Location:
    """Location of the deepest node of ``path`` found in ``data`` (round-trip containers)."""
    best = own_position(data)
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
