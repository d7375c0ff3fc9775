"""Where every value of an exploded project came from.

A :class:`Tree` is working YAML data (nested mappings and lists) plus, for every element of every
container, the :class:`Origin` that put it there. The explode algorithm edits a tree only through
its methods, so the origins stay aligned with the data when template items are inserted, duplicates
dropped or keys removed; :meth:`Tree.provenance` then flattens them to one origin per key path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, MutableMapping, MutableSequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from workbench.errors import Location
from workbench.yamlpos import KeyPath, key_path, locate, to_plain


@dataclass(frozen=True)
class Origin:
    """The project (``template`` is None) or a template, and the position of the value there."""

    template: str | None
    location: Location

    @property
    def label(self) -> str:
        """``"project"`` or ``"template NAME"``."""
        return "project" if self.template is None else f"template {self.template}"

    @property
    def where(self) -> str:
        """``FILE:LINE:COL`` with the file's base name (or the function's name)."""
        loc = self.location
        name = PurePath(loc.file).name if loc.file else "<input>"
        return str(Location(file=name, line=loc.line, col=loc.col))

    def __str__(self) -> str:
        return f"{self.label} ({self.where})"


@dataclass(frozen=True)
class Override:
    """A value that lost a merge: ``overridden_value`` was dropped and ``winning_value`` kept.

    ``template`` is the template whose value was being merged at ``path``; ``winner`` is the label
    of the value kept (``"project"`` or ``"template NAME"``). When the template replaced a falsy
    project value, the winner is that template and ``overridden_value`` is the project's value.
    """

    path: str
    template: str
    template_value: Any
    winning_value: Any
    overridden_value: Any
    winner: str
    template_location: Location
    winner_location: Location

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (locations as ``FILE:LINE:COL`` strings)."""
        return {
            "path": self.path,
            "template": self.template,
            "template_value": self.template_value,
            "winning_value": self.winning_value,
            "overridden_value": self.overridden_value,
            "winner": self.winner,
            "template_location": str(self.template_location),
            "winner_location": str(self.winner_location),
        }


_Origins = dict[Any, Origin] | list[Origin]


def is_container(value: Any) -> bool:
    """True for the YAML containers the tree tracks: mappings and lists."""
    return isinstance(value, Mapping | list)


def same(a: Any, b: Any) -> bool:
    """Equal as YAML data, telling ``true`` from ``1`` and ``1`` from ``1.0``."""
    if a is b:
        return True
    try:
        return json.dumps(to_plain(a), sort_keys=True) == json.dumps(to_plain(b), sort_keys=True)
    except (TypeError, ValueError):
        return False


def step(container: Any, key: Any) -> str | int:
    """The key path element for ``container[key]``: list indexes stay ints, map keys become str."""
    return key if isinstance(container, list) else str(key)


def _elements(container: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(container, Mapping):
        yield from container.items()
    else:
        yield from enumerate(container)


class Tree:
    """YAML data plus the origin of each element of each container (tracked by identity)."""

    def __init__(self, data: Any) -> None:
        self.data = data
        self._origins: dict[int, _Origins] = {}
        self._alive: dict[int, Any] = {}

    @classmethod
    def from_document(cls, data: Any, *, file: str, template: str | None) -> Tree:
        """Track ``data`` as it is: every element's origin is its own position in ``file``.

        A container reached twice (a YAML alias) is copied so that every path owns its nodes.
        """
        tree = cls(data)
        tree.data = tree._track(data, (), file, template)
        return tree

    def _track(
        self, node: Any, path: tuple[str | int, ...], file: str, template: str | None
    ) -> Any:
        if not is_container(node):
            return node
        source = node
        if id(node) in self._alive:
            node = _fresh(node)
        origins: _Origins = {} if isinstance(node, Mapping) else []
        self._register(node, origins)
        for key, value in list(_elements(node)):
            child = (*path, step(node, key))
            loc = locate(source, (key,), file=file)
            origin = Origin(template, Location(file, loc.line, loc.col, key_path(child)))
            if isinstance(origins, dict):
                origins[key] = origin
            else:
                origins.append(origin)
            tracked = self._track(value, child, file, template)
            if tracked is not value:
                node[key] = tracked
        return node

    def _register(self, container: Any, origins: _Origins) -> None:
        self._origins[id(container)] = origins
        self._alive[id(container)] = container

    def tracks(self, node: Any) -> bool:
        """True if ``node`` is a container of this tree."""
        return id(node) in self._origins

    def origin(self, container: Any, key: Any) -> Origin:
        """The origin of ``container[key]``."""
        return self._origins[id(container)][key]

    def set(self, mapping: MutableMapping[Any, Any], key: Any, value: Any, origin: Origin) -> None:
        """``mapping[key] = value`` (value already tracked, or a scalar) from ``origin``."""
        mapping[key] = value
        origins = self._origins[id(mapping)]
        assert isinstance(origins, dict)
        origins[key] = origin

    def insert(self, seq: MutableSequence[Any], index: int, value: Any, origin: Origin) -> None:
        """``seq.insert(index, value)`` from ``origin`` (comments of later items move along)."""
        seq.insert(index, value)
        origins = self._origins[id(seq)]
        assert isinstance(origins, list)
        origins.insert(index, origin)

    def delete(self, container: Any, key: Any) -> None:
        """``del container[key]``."""
        del container[key]
        origins = self._origins[id(container)]
        if isinstance(origins, dict):
            origins.pop(key, None)
        else:
            del origins[key]

    def new_map(self) -> CommentedMap:
        """A new, empty, tracked mapping."""
        node = CommentedMap()
        self._register(node, {})
        return node

    def new_seq(self) -> CommentedSeq:
        """A new, empty, tracked list."""
        node = CommentedSeq()
        self._register(node, [])
        return node

    def copy_from(self, source: Tree, value: Any) -> Any:
        """A tracked copy of ``value`` (a node of ``source``) keeping ``source``'s origins."""
        if not is_container(value):
            return value
        if isinstance(value, Mapping):
            new_map = self.new_map()
            for key, item in value.items():
                self.set(new_map, key, self.copy_from(source, item), source.origin(value, key))
            return keep_flow_style(value, new_map)
        new_seq = self.new_seq()
        for index, item in enumerate(value):
            self.insert(new_seq, index, self.copy_from(source, item), source.origin(value, index))
        return keep_flow_style(value, new_seq)

    def locate(self, path: KeyPath) -> Location:
        """The origin position of the deepest existing node of ``path`` (the root: no position)."""
        node = self.data
        location = Location(path=key_path(path) or None)
        for key in path:
            try:
                location = self.origin(node, key).location
                node = node[key]
            except (KeyError, IndexError, TypeError):
                break
        return location

    def provenance(self) -> dict[str, Origin]:
        """Every key path of the data (``"apps.a.plugs[1]"``), in document order, and its origin."""
        result: dict[str, Origin] = {}
        self._flatten(self.data, (), result)
        return result

    def _flatten(self, node: Any, path: tuple[str | int, ...], result: dict[str, Origin]) -> None:
        origins = self._origins.get(id(node))
        if origins is None:
            return
        for key, value in _elements(node):
            child = (*path, step(node, key))
            result[key_path(child)] = origins[key]
            if is_container(value):
                self._flatten(value, child, result)


def keep_flow_style(original: Any, copy: Any) -> Any:
    """Give ``copy`` the flow style (``[a, b]``, ``{k: v}``) of ``original``; return it."""
    fa = getattr(original, "fa", None)
    if fa is not None and fa.flow_style():
        copy.fa.set_flow_style()
    return copy


def _fresh(node: Any) -> Any:
    """A deep copy of ``node`` as new containers (no shared sub-nodes, no comments)."""
    if isinstance(node, Mapping):
        copied = CommentedMap()
        for key, value in node.items():
            copied[key] = _fresh(value)
        return copied
    if isinstance(node, list):
        return CommentedSeq(_fresh(value) for value in node)
    return node
