"""The merge rules, applied to one key at a time, with every lost value recorded.

==========================  ===============================================================
project (current) value     result of merging a template value into it
==========================  ===============================================================
missing or null             the template's value
mapping, template mapping   merged key by key with these same rules (project keys win)
list, template list         template items first, then the project's; if every item is a
                            string, later duplicates are dropped (the first one is kept)
equal to the template's     unchanged
other falsy value           replaced by the template's value (recorded as an override)
other truthy value          kept; the template's value is recorded as overridden
==========================  ===============================================================

A value the project declines (:mod:`workbench.templates.decline`) is not merged at all: it is
recorded in :attr:`Merger.declined`.

"Project" means the project as exploded so far, so a template applied later loses a scalar to one
applied earlier: that disagreement is an override too. With ``strict`` every override is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workbench.errors import Location, TemplateError
from workbench.templates.decline import Declined, Declines, subtree
from workbench.templates.provenance import Origin, Override, Tree, same, step
from workbench.yamlpos import key_path, to_plain

_Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class SourceNode:
    """The value to merge: ``parent[key]`` in ``tree`` (a template's resolved fragment)."""

    tree: Tree
    parent: Mapping[Any, Any]
    key: Any

    @property
    def value(self) -> Any:
        return self.parent[self.key]

    @property
    def origin(self) -> Origin:
        return self.tree.origin(self.parent, self.key)


class Merger:
    """Merges template fragments into ``tree`` and collects :attr:`overrides`."""

    def __init__(self, tree: Tree, *, strict: bool) -> None:
        self.tree = tree
        self.strict = strict
        self.overrides: list[Override] = []
        self.declined: list[Declined] = []

    def merge(
        self,
        parent: Any,
        key: Any,
        node: SourceNode,
        *,
        path: _Path,
        decline: Declines | Location | None = None,
    ) -> None:
        """Merge ``node`` into ``parent[key]``, leaving out what ``decline`` declines."""
        source, value, origin = node.tree, node.value, node.origin
        if isinstance(decline, Location):
            self._decline(path, origin, value, decline)
            return
        if key not in parent or parent[key] is None:
            if decline is None or not isinstance(value, dict | list):
                self.tree.set(parent, key, self.tree.copy_from(source, value), origin)
                return
            empty = self.tree.new_map() if isinstance(value, dict) else self.tree.new_seq()
            self.tree.set(parent, key, empty, origin)
        current = parent[key]
        if isinstance(current, dict) and isinstance(value, dict):
            for sub in value:
                self.merge(
                    current,
                    sub,
                    SourceNode(source, value, sub),
                    path=(*path, step(value, sub)),
                    decline=subtree(decline, str(sub)),
                )
            return
        if isinstance(current, list) and isinstance(value, list):
            self._merge_list(current, source, value, path, decline)
            return
        if same(current, value):
            return
        self._record(path, (origin, value), (self.tree.origin(parent, key), current))
        if not current:
            self.tree.set(parent, key, self.tree.copy_from(source, value), origin)

    def _merge_list(
        self,
        current: list[Any],
        source: Tree,
        value: list[Any],
        path: _Path,
        decline: Declines | Location | None,
    ) -> None:
        at = 0
        for index, item in enumerate(value):
            origin = source.origin(value, index)
            declined = None
            if decline is not None and isinstance(item, str):
                declined = subtree(decline, item)
            if isinstance(declined, Location):
                self._decline(path, origin, item, declined)
                continue
            self.tree.insert(current, at, self.tree.copy_from(source, item), origin)
            at += 1
        if _unique(current) or not all(isinstance(item, str) for item in current):
            return
        seen: set[str] = set()
        duplicates = []
        for index, item in enumerate(current):
            if item in seen:
                duplicates.append(index)
            seen.add(item)
        for index in reversed(duplicates):
            self.tree.delete(current, index)

    def _decline(self, path: _Path, origin: Origin, value: Any, where: Location) -> None:
        assert origin.template is not None
        self.declined.append(
            Declined(key_path(path), origin.template, to_plain(value), origin.location, where)
        )

    def _record(
        self, path: _Path, template: tuple[Origin, Any], current: tuple[Origin, Any]
    ) -> None:
        """Record the override at ``path``: the current value wins unless it is falsy."""
        (origin, value), (kept, held) = template, current
        winner, winning, overridden = (kept, held, value) if held else (origin, value, held)
        assert origin.template is not None
        override = Override(
            path=key_path(path),
            template=origin.template,
            template_value=to_plain(value),
            winning_value=to_plain(winning),
            overridden_value=to_plain(overridden),
            winner=winner.label,
            template_location=origin.location,
            winner_location=winner.location,
        )
        if self.strict:
            raise _strict_error(override, origin, winner)
        self.overrides.append(override)


def _unique(items: list[Any]) -> bool:
    """True when ``items`` has no two equal hashable items (a quick test before the slow one)."""
    try:
        return len(set(items)) == len(items)
    except TypeError:  # a mapping or list among the items
        return False


def _strict_error(override: Override, origin: Origin, winner: Origin) -> TemplateError:
    hint = "drop --strict to let the rules decide"
    if winner is origin:
        return TemplateError(
            f"{origin.label} would replace the project's {override.overridden_value!r} "
            f"at {override.path} with {override.template_value!r}",
            hint=f"the template's value is at {origin.where}; {hint}",
            location=origin.location,
        )
    if winner.template is None:
        return TemplateError(
            f"the project's {override.winning_value!r} at {override.path} overrides "
            f"{override.template_value!r} from {origin.label}",
            hint=f"the template's value is at {origin.where}; {hint}",
            location=winner.location,
        )
    return TemplateError(
        f"templates {winner.template} and {origin.template} disagree on {override.path}: "
        f"{override.winning_value!r} vs {override.template_value!r}",
        hint=f"{winner.label}'s value is at {winner.where}; {hint}",
        location=origin.location,
    )
