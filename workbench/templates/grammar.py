"""Advanced grammar (``on``, ``to``, ``try``, ``else``, ``else fail``) resolved with craft-grammar.

Only the part keys that take grammar are resolved (:data:`GRAMMAR_KEYS`); a key written as a plain
string is left alone. ``source`` is a single value: its grammar must select at most one (none
removes the key). Resolved items keep the origin of the item they came from.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from craft_grammar import GrammarProcessor
from craft_grammar.errors import CraftGrammarError, UnsatisfiedStatementError

from workbench.errors import SourceError, UsageError
from workbench.templates.provenance import Origin, Tree, is_container, same

GRAMMAR_KEYS = (
    "source",
    "build-environment",
    "build-packages",
    "stage-packages",
    "build-snaps",
    "stage-snaps",
)
ARCHITECTURES = ("amd64", "arm64", "armhf", "i386", "ppc64el", "riscv64", "s390x")
_ELSE_FAIL = re.compile(r"\Aelse\s+fail\Z")


def check_architectures(build_on: str | None, build_for: str | None) -> tuple[str, str] | None:
    """``(build_on, build_for)`` when grammar is to be resolved, None when neither is given;
    a usage error for one alone or for an unknown architecture."""
    if build_on is None and build_for is None:
        return None
    if build_on is None or build_for is None:
        raise UsageError(
            "--build-on and --build-for go together", hint="give both, or neither to keep grammar"
        )
    for arch in (build_on, build_for):
        if arch not in ARCHITECTURES:
            raise UsageError(
                f"unknown architecture {arch!r}", hint=f"use {', '.join(ARCHITECTURES)}"
            )
    return build_on, build_for


def resolve_grammar(tree: Tree, *, build_on: str, build_for: str) -> None:
    """Resolve the grammar of every part of ``tree.data`` in place."""
    parts = tree.data.get("parts")
    if not isinstance(parts, Mapping):
        return
    processor = GrammarProcessor(
        arch=build_on,
        target_arch=build_for,
        valid_architectures=ARCHITECTURES,
    )
    for part in parts.values():
        if not isinstance(part, Mapping):
            continue
        for key in GRAMMAR_KEYS:
            if isinstance(part.get(key), list):
                _resolve_key(tree, processor, part, key)


def _resolve_key(tree: Tree, processor: GrammarProcessor, part: Any, key: str) -> None:
    grammar = part[key]
    origin = tree.origin(part, key)
    _check_keys(grammar, origin)
    try:
        selected = processor.process(grammar=grammar)
    except UnsatisfiedStatementError as exc:
        where = _find(tree, grammar, _is_else_fail)
        raise SourceError(
            f"'else fail' triggered in {origin.location.path}: {exc}",
            hint=f"no branch matches this build ({processor.arch} to {processor.target_arch})",
            location=(where or origin).location,
        ) from None
    except CraftGrammarError as exc:
        raise SourceError(
            f"invalid grammar in {origin.location.path}: {exc}",
            hint="see the on/to/try/else grammar",
            location=origin.location,
        ) from None
    if key == "source":
        if len(selected) > 1:
            raise SourceError(
                f"grammar of {origin.location.path} selects {len(selected)} sources",
                hint="make the branches select one source",
                location=origin.location,
            )
        if selected:
            tree.set(part, key, selected[0], origin)
        else:
            tree.delete(part, key)
        return
    seq = tree.new_seq()
    for index, item in enumerate(selected):
        item_origin = _find(tree, grammar, functools.partial(same, item)) or origin
        copy = tree.copy_from(tree, item) if tree.tracks(item) else item
        tree.insert(seq, index, copy, item_origin)
    tree.set(part, key, seq, origin)


def _check_keys(grammar: Any, origin: Origin) -> None:
    """craft-grammar matches every mapping key against its clauses: keys must be strings."""
    if isinstance(grammar, Mapping):
        for key, value in grammar.items():
            if not isinstance(key, str):
                raise SourceError(
                    f"grammar keys must be strings, not {key!r}",
                    hint="quote the key",
                    location=origin.location,
                )
            _check_keys(value, origin)
    elif isinstance(grammar, list):
        for item in grammar:
            _check_keys(item, origin)


def _is_else_fail(item: Any) -> bool:
    return isinstance(item, str) and _ELSE_FAIL.match(item) is not None


def _find(tree: Tree, node: Any, match: Callable[[Any], bool]) -> Origin | None:
    """The origin of the first element under ``node`` for which ``match(element)`` holds."""
    items = node.items() if isinstance(node, Mapping) else enumerate(node)
    for key, value in items:
        if match(value):
            return tree.origin(node, key)
        if is_container(value):
            found = _find(tree, value, match)
            if found is not None:
                return found
    return None
