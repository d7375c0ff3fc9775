"""A loaded YAML document: its data, and positions and round-trip data on demand."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from workbench.errors import Location
from workbench.yamlpos.positions import KeyPath, Positions, locate
from workbench.yamlpos.roundtrip import round_trip_load


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

    def _positions(self) -> Positions:
        positions = self._cache.get("positions")
        if positions is None:
            positions = self._cache["positions"] = Positions(self.root, self.file)
        assert isinstance(positions, Positions)
        return positions

    def round_trip(self) -> Any:
        """The ruamel round-trip data of the text (comments, quotes, the user's spelling of every
        scalar, key order), parsed on first use; ``data`` itself when there is no text."""
        if self.text is None:
            return self.data
        if "round_trip" not in self._cache:
            self._cache["round_trip"] = round_trip_load(self.text, self.file)
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
