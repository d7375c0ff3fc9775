"""``KEY@BASE1,BASE2`` selectors: resolve a template's keys against the project's base.

Anywhere in a template, ``source@core18,core20: X`` is the key ``source`` for those bases and
``source@: Y`` is its else (used when no listed base matches). A key is written either plain or
with selectors, never both; two selectors that both match the base are an error. In templates every
``@`` in a mapping key is a selector (there is no escape).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.errors import TemplateError
from workbench.templates.model import BASE_PATTERN
from workbench.templates.provenance import Origin, Tree, step
from workbench.yamlpos import Document, key_path

_Path = tuple[str | int, ...]


def split_selector(key: Any) -> tuple[Any, tuple[str, ...] | None]:
    """Split a selector key.

    ``"source@core18,core20"`` -> ``("source", ("core18", "core20"))``, ``"k@"`` -> ``("k", ())``,
    a key without ``@`` -> ``(key, None)``. Raises ValueError for a malformed selector.
    """
    if not isinstance(key, str) or "@" not in key:
        return key, None
    name, _, bases = key.partition("@")
    if not name or "@" in bases:
        raise ValueError("a selector key is NAME@BASE1,BASE2 or NAME@")
    if not bases.strip():
        return name, ()
    names = tuple(base.strip() for base in bases.split(","))
    if not all(BASE_PATTERN.match(base) for base in names):
        raise ValueError("selector bases are comma-separated base names")
    return name, names


def resolve(doc: Document, *, template: str, base: str | None) -> Tree:
    """The template's fragment for ``base``: selectors resolved, ``template:`` metadata left out.

    Every element of the result carries its position in the template file as its origin.
    """
    resolver = _Resolver(doc, template, base)
    if not isinstance(doc.data, Mapping):
        raise TemplateError(f"template {template} must be a mapping", location=doc.locate(()))
    resolver.tree.data = resolver.mapping(doc.data, (), ())
    return resolver.tree


class _Resolver:
    def __init__(self, doc: Document, template: str, base: str | None) -> None:
        self.doc = doc
        self.template = template
        self.base = base
        self.tree = Tree(None, Origin(template, source=doc))

    def origin(self, source: _Path, path: _Path) -> Origin:
        """The origin of the template value at ``source`` (selectors kept), shown at ``path``."""
        return Origin(self.template, source=self.doc, source_path=source, path=key_path(path))

    def value(self, node: Any, source: _Path, path: _Path) -> Any:
        if isinstance(node, Mapping):
            return self.mapping(node, source, path)
        if isinstance(node, list):
            seq = self.tree.new_seq()
            for index, item in enumerate(node):
                at, child = (*source, index), (*path, index)
                self.tree.insert(seq, index, self.value(item, at, child), self.origin(at, child))
            return seq
        return node

    def mapping(self, node: Mapping[Any, Any], source: _Path, path: _Path) -> Any:
        chosen = self.choose(node, source, path)
        result = self.tree.new_map()
        for name, key in chosen.items():
            at, child = (*source, step(node, key)), (*path, step(node, name))
            self.tree.set(result, name, self.value(node[key], at, child), self.origin(at, child))
        return result

    def choose(self, node: Mapping[Any, Any], source: _Path, path: _Path) -> dict[Any, Any]:
        """For each plain name, the source key that supplies it for this base."""
        groups: dict[Any, list[tuple[Any, tuple[str, ...] | None]]] = {}
        for key in node:
            if not path and key == "template":
                continue
            try:
                name, bases = split_selector(key)
            except ValueError as exc:
                raise self.error(
                    f"invalid selector {key!r}: {exc}", node, key, (source, path)
                ) from None
            groups.setdefault(name, []).append((key, bases))
        chosen: dict[Any, Any] = {}
        for name, keys in groups.items():
            plain = [key for key, bases in keys if bases is None]
            if plain and len(keys) > 1:
                other = next(key for key, bases in keys if bases is not None)
                raise self.error(
                    f"{name!r} is given both plain and as {other!r}",
                    node,
                    other,
                    (source, path),
                    hint="write the key only with @ selectors (KEY@ is the else)",
                )
            matching = [key for key, bases in keys if bases and self.base in bases]
            if len(matching) > 1:
                raise self.error(
                    f"selectors {matching[0]!r} and {matching[1]!r} both match base {self.base!r}",
                    node,
                    matching[1],
                    (source, path),
                    hint="list each base in one selector only",
                )
            fallback = [key for key, bases in keys if bases == ()]
            pick = plain or matching or fallback
            if pick:
                chosen[name] = pick[0]
        return chosen

    def error(
        self, brief: str, node: Any, key: Any, where: tuple[_Path, _Path], hint: str | None = None
    ) -> TemplateError:
        """The error at ``node[key]``; ``where`` is the node's (source, path)."""
        at = step(node, key)
        source, path = where
        location = self.origin((*source, at), (*path, at)).location
        return TemplateError(f"template {self.template}: {brief}", hint=hint, location=location)
