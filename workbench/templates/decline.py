"""Declining part of a template: use the template, but leave out the bits that are wrong here.

The project says what it declines with a ``decline`` mapping (template name -> list of dotted key
paths), at the root or under an app or a part::

    decline:
      gtk3: [plugs.sound-themes, parts.*.after]   # paths into the template as it is written
    apps:
      editor:
        templates: [gtk3]
        decline:
          gtk3: [plugs.wayland]     # paths into the template's apps."*" snippet, this app only
    parts:
      editor:
        decline:
          gtk3: [after]             # paths into the snippet this part gets, this part only

A path names a key of a mapping, or an item of a list of strings (``plugs.wayland``). Declining
something the template does not provide is an error that names what it does provide. What was
declined is recorded (:class:`Declined`) and the ``decline`` keys are removed from the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from workbench.errors import Location, SourceError, TemplateError
from workbench.yamlpos import KeyPath

DECLINE_KEY = "decline"
Locator = Callable[[KeyPath], Location]

Declines = dict[str, "Declines | Location"]
"""A decline tree: key (or list item) -> a deeper tree, or the position of the entry declining it
(a leaf: leave this whole value out)."""


@dataclass(frozen=True)
class Declined:
    """A template value the project left out: at ``path`` of the exploded project, ``value``
    from ``template`` (at ``template_location``), declined by the entry at ``declined_at``."""

    path: str
    template: str
    value: Any
    template_location: Location
    declined_at: Location

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (locations as ``FILE:LINE:COL`` strings)."""
        return {
            "path": self.path,
            "template": self.template,
            "value": self.value,
            "template_location": str(self.template_location),
            "declined_at": str(self.declined_at),
        }


@dataclass(frozen=True)
class Request:
    """One owner's ``decline`` entries for one template: each dotted path and its position."""

    owner: tuple[str, ...]
    entries: tuple[tuple[str, Location], ...]


def read_declines(
    data: Mapping[str, Any], locate: Locator, used: Mapping[tuple[str, ...], list[str]]
) -> dict[str, list[Request]]:
    """Template name -> the requests that decline parts of it, checked for shape.

    ``used`` maps each owner (``()``, ``("apps", NAME)``, ``("parts", NAME)``) to the templates it
    may decline (those it uses).
    """
    requests: dict[str, list[Request]] = {}
    for owner in _owners(data):
        node = data if not owner else data[owner[0]][owner[1]]
        if not isinstance(node, Mapping) or DECLINE_KEY not in node:
            continue
        where = (*owner, DECLINE_KEY)
        declines = node[DECLINE_KEY]
        if not isinstance(declines, Mapping):
            _shape(locate, where, "'decline' must map template names to lists of key paths")
        for template, paths in declines.items():
            if template not in used.get(owner, []):
                _shape(
                    locate,
                    (*where, template),
                    f"'decline' names template {template!r}, which is not used here",
                    f"templates used here: {', '.join(used.get(owner, [])) or 'none'}",
                )
            if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
                _shape(locate, (*where, template), "decline entries must be a list of key paths")
            entries = tuple((p, locate((*where, template, i))) for i, p in enumerate(paths))
            requests.setdefault(str(template), []).append(Request(owner, entries))
    return requests


def _owners(data: Mapping[str, Any]) -> list[tuple[str, ...]]:
    owners: list[tuple[str, ...]] = [()]
    for section in ("apps", "parts"):
        entries = data.get(section)
        if isinstance(entries, Mapping):
            owners.extend((section, str(name)) for name in entries)
    return owners


def _shape(
    locate: Locator, path: KeyPath, brief: str, hint: str = "e.g. 'gtk3: [plugs.x11]'"
) -> NoReturn:
    raise SourceError(brief, hint=hint, location=locate(path))


def build_tree(template: str, node: Any, entries: tuple[tuple[str, Location], ...]) -> Declines:
    """The decline tree of ``entries`` (dotted paths into ``node``), each path checked against
    what the template provides there."""
    tree: Declines = {}
    for dotted, where in entries:
        segments = dotted.split(".")
        here, branch = node, tree
        for depth, segment in enumerate(segments):
            offered = _offered(here)
            if segment not in offered:
                at = ".".join(segments[:depth]) or "its top level"
                raise TemplateError(
                    f"template {template} has no {segment!r} at {at} to decline",
                    hint=f"it provides: {', '.join(offered) or 'nothing there'}",
                    location=where,
                )
            if depth == len(segments) - 1:
                branch[segment] = where
                break
            child = branch.setdefault(segment, {})
            if isinstance(child, Location):
                break  # a shorter path already declines all of it
            here = here[segment] if isinstance(here, Mapping) else None
            branch = child
    return tree


def _offered(node: Any) -> list[str]:
    """What a path may name at ``node``: its keys, or the string items of a list."""
    if isinstance(node, Mapping):
        return [str(key) for key in node]
    if isinstance(node, list):
        return [item for item in node if isinstance(item, str)]
    return []


def subtree(tree: Declines | Location | None, *keys: str) -> Declines | Location | None:
    """``tree[k1][k2]...``, or None where nothing is declined (a leaf covers what is below it)."""
    for key in keys:
        if not isinstance(tree, dict):
            return tree
        tree = tree.get(key)
    return tree


def combine(
    a: Declines | Location | None, b: Declines | Location | None
) -> Declines | Location | None:
    """Both trees: what either declines is declined."""
    if a is None or isinstance(a, Location):
        return a if a is not None else b
    if b is None or isinstance(b, Location):
        return b if b is not None else a
    merged: Declines = dict(a)
    for key, value in b.items():
        combined = combine(merged.get(key), value)
        assert combined is not None
        merged[key] = combined
    return merged
