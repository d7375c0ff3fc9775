"""Where every value of an exploded project came from.

A :class:`Tree` is working YAML data (plain dicts and lists) plus, for every element of every
container, the :class:`Origin` that put it there. The explode algorithm edits a tree only through
its methods, so the origins stay aligned with the data when template items are inserted, duplicates
dropped or keys removed; :meth:`Tree.provenance` then flattens them to one origin per key path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, MutableMapping, MutableSequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import Any

from workbench.errors import Location
from workbench.yamlpos import Document, KeyPath, key_path, to_plain


class Origin:
    """The project (``template`` is None) or a template, and the position of the value there.

    Give the ``location``, or the ``source`` document and the ``source_path`` of the value in it:
    the position is then looked up on first use (``path`` replaces the location's key path, e.g.
    a template key without its ``@`` selector).
    """

    __slots__ = ("_location", "_path", "source", "source_path", "template")

    def __init__(
        self,
        template: str | None,
        location: Location | None = None,
        *,
        source: Document | None = None,
        source_path: tuple[str | int, ...] = (),
        path: str | None = None,
    ) -> None:
        self.template = template
        self._location = location
        self.source = source
        self.source_path = source_path
        self._path = path

    @property
    def location(self) -> Location:
        """File, line, column and key path of the value."""
        if self._location is None:
            if self.source is None:
                self._location = Location(path=self._path)
            else:
                located = self.source.locate(self.source_path)
                self._location = (
                    located if self._path is None else replace(located, path=self._path)
                )
        return self._location

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

    def round_trip_node(self) -> tuple[bool, Any]:
        """``(True, node)``: the value's round-trip node in its source; ``(False, None)``."""
        if self.source is None:
            return False, None
        return self.source.round_trip_node(self.source_path)

    def __repr__(self) -> str:
        return f"Origin({self.template!r}, {self.location!r})"

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


class _Lazy:
    """The origins of a container's elements as loaded: each element's own place in the source."""

    __slots__ = ("path", "source", "template")

    def __init__(self, template: str | None, source: Document, path: tuple[str | int, ...]) -> None:
        self.template = template
        self.source = source
        self.path = path

    def __getitem__(self, key: str | int) -> Origin:
        return Origin(self.template, source=self.source, source_path=(*self.path, key))


_Origins = dict[Any, Origin] | list[Origin] | _Lazy


def is_container(value: Any) -> bool:
    """True for the YAML containers the tree tracks: (plain) dicts and lists."""
    return isinstance(value, dict | list)


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
    """Plain YAML data plus the origin of each element of each container (tracked by identity)."""

    def __init__(self, data: Any, root: Origin | None = None) -> None:
        self.data = data
        self.root = root
        self._origins: dict[int, _Origins] = {}
        self._alive: dict[int, Any] = {}
        self._mirrors: dict[int, _Lazy] = {}

    @classmethod
    def from_document(cls, document: Document, *, template: str | None) -> Tree:
        """A tracked copy of ``document.data`` (never modified): every element's origin is its
        own place in the document, looked up when asked for. A container reached twice (a YAML
        alias) is copied for each path, so that every path owns its nodes."""
        tree = cls(None, Origin(template, source=document))
        tree.data = tree._copy(document.data, (), template, document)
        return tree

    def _copy(
        self, node: Any, path: tuple[str | int, ...], template: str | None, source: Document
    ) -> Any:
        if isinstance(node, Mapping):
            copied: Any = {
                key: self._copy(value, (*path, str(key)), template, source)
                if isinstance(value, Mapping | list)
                else value
                for key, value in node.items()
            }
        elif isinstance(node, list):
            copied = [
                self._copy(value, (*path, index), template, source)
                if isinstance(value, Mapping | list)
                else value
                for index, value in enumerate(node)
            ]
        else:
            return node
        lazy = _Lazy(template, source, path)
        self._register(copied, lazy)
        self._mirrors[id(copied)] = lazy
        return copied

    def _register(self, container: Any, origins: _Origins) -> None:
        self._origins[id(container)] = origins
        self._alive[id(container)] = container

    def _own(self, container: Any) -> dict[Any, Origin] | list[Origin]:
        """The origins of ``container``'s elements as a dict or list, ready to be edited."""
        origins = self._origins[id(container)]
        if isinstance(origins, _Lazy):
            origins = (
                {key: origins[str(key)] for key in container}
                if isinstance(container, Mapping)
                else [origins[index] for index in range(len(container))]
            )
            self._origins[id(container)] = origins
        return origins

    def mirror(self, container: Any) -> tuple[Document, tuple[str | int, ...]] | None:
        """The document and path of the source node ``container`` was copied from, if any."""
        lazy = self._mirrors.get(id(container))
        return (lazy.source, lazy.path) if lazy is not None else None

    def edited(self, container: Any) -> bool:
        """True once an element of ``container`` was set, inserted or deleted."""
        return not isinstance(self._origins[id(container)], _Lazy)

    def tracks(self, node: Any) -> bool:
        """True if ``node`` is a container of this tree."""
        return id(node) in self._origins

    def origin(self, container: Any, key: Any) -> Origin:
        """The origin of ``container[key]``."""
        origins = self._origins[id(container)]
        if isinstance(origins, _Lazy):
            return origins[step(container, key)]
        return origins[key]

    def set(self, mapping: MutableMapping[Any, Any], key: Any, value: Any, origin: Origin) -> None:
        """``mapping[key] = value`` (value already tracked, or a scalar) from ``origin``."""
        origins = self._own(mapping)
        mapping[key] = value
        assert isinstance(origins, dict)
        origins[key] = origin

    def insert(self, seq: MutableSequence[Any], index: int, value: Any, origin: Origin) -> None:
        """``seq.insert(index, value)`` from ``origin`` (comments of later items move along)."""
        origins = self._own(seq)
        seq.insert(index, value)
        assert isinstance(origins, list)
        origins.insert(index, origin)

    def delete(self, container: Any, key: Any) -> None:
        """``del container[key]``."""
        origins = self._own(container)
        del container[key]
        if isinstance(origins, dict):
            origins.pop(key, None)
        else:
            del origins[key]

    def new_map(self) -> dict[Any, Any]:
        """A new, empty, tracked mapping."""
        node: dict[Any, Any] = {}
        self._register(node, {})
        return node

    def new_seq(self) -> list[Any]:
        """A new, empty, tracked list."""
        node: list[Any] = []
        self._register(node, [])
        return node

    def copy_from(self, source: Tree, value: Any) -> Any:
        """A tracked copy of ``value`` (a node of ``source``) keeping ``source``'s origins."""
        copied: Any
        if isinstance(value, dict):
            copied = {key: self.copy_from(source, item) for key, item in value.items()}
            self._register(copied, {key: source.origin(value, key) for key in value})
        elif isinstance(value, list):
            copied = [self.copy_from(source, item) for item in value]
            self._register(copied, [source.origin(value, index) for index in range(len(value))])
        else:
            return value
        return copied

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
        if id(node) not in self._origins:
            return
        for key, value in _elements(node):
            child = (*path, step(node, key))
            result[key_path(child)] = self.origin(node, key)
            if is_container(value):
                self._flatten(value, child, result)
