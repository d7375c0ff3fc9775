"""Parse and validate a core20-and-older ``architectures`` stanza, with positions.

:func:`parse` reads a loaded :class:`~workbench.yamlpos.Document` under a dialect and returns a
:class:`~workbench.architectures.model.Stanza`. It collects every problem (each with file, line,
column and a hint) and raises them together as
:class:`~workbench.architectures.model.ArchitectureProblems`. Checks across entries (examples 7
and friends) run only once every entry is well formed.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

from workbench.architectures.dialects import Dialect, get_dialect
from workbench.architectures.model import (
    ALL,
    KNOWN_ARCHS,
    ArchitectureProblems,
    Problem,
    Stanza,
    StanzaEntry,
)
from workbench.errors import ArchitectureError
from workbench.project import is_modern, load_project, project_base
from workbench.yamlpos import Document

KEY = "architectures"
NodePath = tuple[str | int, ...]


def parse(document: Document, *, dialect: str | Dialect = "proposal") -> Stanza:
    """The ``architectures`` stanza of ``document`` read under ``dialect``."""
    return _Parser(document, get_dialect(dialect)).stanza()


def load(path: str | Path, *, dialect: str | Dialect = "proposal") -> Stanza:
    """Load the project at (or in) ``path`` and parse its stanza."""
    return parse(load_project(path), dialect=dialect)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _arch_hint(name: str) -> str:
    if "," in name or " " in name.strip():
        return "to list several architectures write them in brackets: [amd64, arm64]"
    close = difflib.get_close_matches(name, KNOWN_ARCHS, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"use one of: {', '.join(KNOWN_ARCHS)}, or all"


def _names(archs: Sequence[str]) -> str:
    return ", ".join(archs)


def _overlaps(
    entries: Sequence[StanzaEntry], field: str
) -> Iterator[tuple[StanzaEntry, StanzaEntry, list[str]]]:
    """Each pair of entries with the archs both name in ``field`` (pairs with 'all' skipped)."""
    for a, b in combinations(entries, 2):
        left, right = getattr(a, field), getattr(b, field)
        if ALL not in left and ALL not in right:
            yield a, b, [arch for arch in left if arch in right]


class Collector:
    """Problems found so far in one document; raised together by :meth:`check`."""

    def __init__(self, document: Document) -> None:
        self.doc = document
        self.problems: list[Problem] = []

    def problem(self, path: NodePath, brief: str, hint: str | None = None) -> None:
        self.problems.append(Problem(brief, hint, self.doc.locate(path)))

    def check(self) -> None:
        if self.problems:
            raise ArchitectureProblems(self.problems)

    def list_style(self, raw: Any, root: NodePath) -> str | None:
        """``"names"`` or ``"entries"`` for a well-formed ``architectures`` list, else None."""
        if raw is None or raw == []:
            self.problem(
                root,
                "'architectures' is empty",
                "remove the key to build on every supported architecture, or list entries",
            )
            return None
        if not isinstance(raw, list):
            self.problem(
                root,
                f"'architectures' must be a list, not {_kind(raw)}",
                "e.g. 'architectures: [amd64]' or a list of '- build-on: amd64' entries",
            )
            return None
        kinds: list[str | None] = []
        for i, item in enumerate(raw):
            kind = (
                "names"
                if isinstance(item, str)
                else "entries"
                if isinstance(item, Mapping)
                else None
            )
            if kind is None:
                self.problem(
                    (*root, i),
                    f"item {i} of 'architectures' must be an architecture name or a "
                    f"build-on entry, not {_kind(item)}",
                    "e.g. '- amd64' or '- build-on: amd64'",
                )
            kinds.append(kind)
        known = [k for k in kinds if k]
        if known and any(k != known[0] for k in known):
            first_other = next(i for i, k in enumerate(kinds) if k and k != known[0])
            self.problem(
                (*root, first_other),
                "'architectures' mixes architecture names and build-on entries",
                "write every item as a name, or every item as '- build-on: ...'",
            )
        return None if len(known) != len(kinds) or len(set(known)) != 1 else known[0]

    def arch_list(
        self,
        value: Any,
        path: NodePath,
        key: str,
        *,
        check_names: bool = True,
        dedupe: bool = False,
    ) -> tuple[str, ...] | None:
        """The names in ``value`` (a name or a non-empty list of names), or None after problems."""
        if isinstance(value, str):
            items: list[tuple[Any, NodePath]] = [(value, path)]
        elif isinstance(value, list) and value:
            items = [(v, (*path, i)) for i, v in enumerate(value)]
        elif isinstance(value, list):
            self.problem(path, f"'{key}' is an empty list", "name at least one architecture")
            return None
        else:
            self.problem(
                path,
                f"'{key}' must be an architecture name or a list of names, not {_kind(value)}",
                f"e.g. '{key}: amd64' or '{key}: [amd64, arm64]'",
            )
            return None
        names: list[str] = []
        ok = True
        for name, where in items:
            if not isinstance(name, str):
                self.problem(
                    where,
                    f"'{key}' lists {_kind(name)}, not an architecture name",
                    f"use one of: {', '.join(KNOWN_ARCHS)}, or all",
                )
                ok = False
            elif check_names and name != ALL and name not in KNOWN_ARCHS:
                self.problem(where, f"unknown architecture {name!r} in '{key}'", _arch_hint(name))
                ok = False
            elif name in names and not dedupe:
                self.problem(where, f"{name!r} is listed twice in '{key}'", "list it once")
                ok = False
            elif name not in names:
                names.append(name)
        if ok and ALL in names and len(names) > 1:
            self.problem(
                path,
                f"'all' is mixed with other architectures in '{key}'",
                "'all' already means every architecture: use it alone",
            )
            ok = False
        return tuple(names) if ok else None


class _Parser(Collector):
    def __init__(self, document: Document, dialect: Dialect) -> None:
        super().__init__(document)
        self.d = dialect

    def names(self, value: Any, path: NodePath, key: str) -> tuple[str, ...] | None:
        return self.arch_list(
            value, path, key, check_names=self.d.check_arch_names, dedupe=self.d.dedupe_lists
        )

    def absent(self, value: Any) -> bool:
        return self.d.empty_is_absent and value in (None, [], "")

    def stanza(self) -> Stanza:
        base = project_base(self.doc)
        data = self.doc.data
        raw = data.get(KEY) if isinstance(data, Mapping) else None
        entries: tuple[StanzaEntry, ...] = ()
        shorthand = False
        declared = isinstance(data, Mapping) and KEY in data and not self.absent(raw)
        if self.check_base(base, declared):
            declared = True
            entries = self.platform_entries(data["platforms"])
        elif declared:
            shorthand, entries = self.entries(raw)
        if declared:
            self.check()
            if self.d.cross_entry_checks:
                self.cross_checks(entries)
            elif base not in self.d.duplicate_build_on_allowed_bases:
                self.literal_duplicate_build_on(entries)
            self.check()
        return Stanza(entries, declared, shorthand, base, self.d, self.doc)

    def check_base(self, base: str | None, declared: bool) -> bool:
        """core22+ is craft-platforms' business; only Launchpad (D12) reads its stanza itself.
        True when Launchpad is to read ``platforms``."""
        if is_modern(base) and not self.d.build_for_is_run_on:
            raise ArchitectureError(
                f"base {base} plans with build-for / platforms, not with the core20 rules",
                hint="use plan_modern() or 'workbench arch plan', which ask craft-platforms",
                location=self.doc.locate(("base",)),
            )
        if not declared and isinstance(self.doc.data, Mapping) and "platforms" in self.doc.data:
            if not is_modern(base):
                raise ArchitectureError(
                    f"'platforms' needs base core22 or later (the base here: {base or 'none'})",
                    hint="use 'architectures' with this base, or a newer base",
                    location=self.doc.locate(("platforms",)),
                )
            return True  # only Launchpad gets here (see above)
        return False

    def platform_entries(self, raw: Any) -> tuple[StanzaEntry, ...]:
        """Launchpad's reading of ``platforms``: one entry per platform."""
        if not isinstance(raw, Mapping) or not raw:
            self.problem(("platforms",), "'platforms' must be a non-empty mapping", None)
            return ()
        entries: list[StanzaEntry] = []
        for index, (name, config) in enumerate(raw.items()):
            path: NodePath = ("platforms", name)
            if not config:
                if name in KNOWN_ARCHS:
                    entries.append(StanzaEntry(index, (name,), (name,), True, False))
                else:
                    self.problem(
                        path,
                        f"{name!r} is not a supported platform",
                        "name an architecture, or give build-on and build-for",
                    )
                continue
            if not isinstance(config, Mapping):
                self.problem(path, f"platform {name!r} must be a mapping", "see the docs")
                continue
            build_on = self.names(config.get("build-on", [name]), (*path, "build-on"), "build-on")
            build_for = (
                self.names(config["build-for"], (*path, "build-for"), "build-for")
                if "build-for" in config
                else build_on
            )
            if build_on is not None and build_for is not None:
                entries.append(StanzaEntry(index, build_on, build_for, True, "build-for" in config))
        return tuple(entries)

    def entries(self, raw: Any) -> tuple[bool, tuple[StanzaEntry, ...]]:
        root: NodePath = (KEY,)
        style = self.list_style(raw, root)
        if style == "names":
            archs = self.names(raw, root, KEY)
            if archs is None:
                return True, ()
            return True, (StanzaEntry(0, archs, archs, required=True, run_on_given=False),)
        if style == "entries":
            parsed = [self.entry(i, item) for i, item in enumerate(raw)]
            return False, tuple(e for e in parsed if e is not None)
        return False, ()

    def entry(self, index: int, item: Mapping[Any, Any]) -> StanzaEntry | None:
        path: NodePath = (KEY, index)
        for key in item:
            if key not in self.d.entry_keys and self.d.unknown_keys_are_errors:
                self.problem((*path, key), *self.unknown_key(index, key))
        if "build-on" not in item or self.absent(item["build-on"]):
            if "build-on" in item:  # Launchpad: an empty build-on builds nowhere
                return StanzaEntry(index, (), (), required=True, run_on_given=False)
            self.problem(
                path,
                f"entry {index} has no 'build-on'",
                "every entry says where it builds, e.g. 'build-on: amd64'",
            )
            return None
        build_on = self.names(item["build-on"], (*path, "build-on"), "build-on")
        run_key = "run-on"
        if self.d.build_for_is_run_on and not self.absent(item.get("build-for")):
            run_key = "build-for"
        run_on: tuple[str, ...] | None = None
        if run_key in item and not self.absent(item[run_key]):
            run_on = self.names(item[run_key], (*path, run_key), run_key)
            if run_on is None:
                return None
        required = True
        if "build-error" in item and "build-error" in self.d.entry_keys:
            value = item["build-error"]
            if self.d.build_error_must_be_ignore and value != "ignore":
                self.problem(
                    (*path, "build-error"),
                    f"'build-error' must be 'ignore', not {_kind(value)}",
                    "'build-error: ignore' makes a build optional; remove it to make it required",
                )
            required = value != "ignore"
        if build_on is None:
            return None
        return StanzaEntry(index, build_on, run_on or build_on, required, run_on is not None)

    def unknown_key(self, index: int, key: Any) -> tuple[str, str]:
        if key == "build-error":
            return (
                "snapcraft 4.x rejects 'build-error': its schema allows only build-on and run-on",
                "remove it: build sets and optional builds are a CI concept",
            )
        if key == "build-for":
            return (
                "'build-for' is core22 syntax",
                "on core20 and older write 'run-on', or set 'base: core22'",
            )
        allowed = sorted(self.d.entry_keys)
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"unknown key {key!r} in entry {index}", hint

    def cross_checks(self, entries: Sequence[StanzaEntry]) -> None:
        """Example 7 and its relatives: snaps that would collide upon release or build."""
        count = len(entries)
        if count < 2:
            return
        for e in entries:
            if ALL in e.build_on:
                self.problem(
                    (KEY, e.index, "build-on"),
                    f"'all' in the build-on of entry {e.index}, but there are {count} entries",
                    "every builder would pick this entry; use 'all' only in a single entry",
                )
            if ALL in e.run_on:
                other = next(o for o in entries if o is not e)
                target = "every architecture" if ALL in other.run_on else _names(other.run_on)
                self.problem(
                    (KEY, e.index, "run-on" if e.run_on_given else "build-on"),
                    f"'all' in the run-on of entry {e.index}, but there are {count} entries: "
                    f"the snaps of entries {e.index} and {other.index} would both be released "
                    f"to {target}",
                    "use 'all' only in a single entry, or list the archs this snap runs on",
                )
        for a, b, both in _overlaps(entries, "run_on"):
            if both:
                implicit = [e.index for e in (a, b) if not e.run_on_given]
                note = "".join(f" (entry {i}'s run-on defaults to its build-on)" for i in implicit)
                self.problem(
                    (KEY, b.index, "run-on" if b.run_on_given else "build-on"),
                    f"entries {a.index} and {b.index} both claim to run on {_names(both)}{note}",
                    "upon release one snap would replace the other; give each arch to one run-on",
                )
        for a, b, both in _overlaps(entries, "build_on"):
            if both:
                self.problem(
                    (KEY, b.index, "build-on"),
                    f"{_names(both)} {'is' if len(both) == 1 else 'are'} in the build-on of "
                    f"entries {a.index} and {b.index}",
                    f"a builder on {both[0]} could not tell which run-on to claim; "
                    "keep each arch in one build-on",
                )

    def literal_duplicate_build_on(self, entries: Sequence[StanzaEntry]) -> None:
        """Launchpad's only cross-entry check: the same name in two build-ons (D7)."""
        counts = Counter(arch for e in entries for arch in e.build_on)
        duplicates = sorted(arch for arch, n in counts.items() if n > 1)
        if duplicates:
            self.problem(
                (KEY,),
                f"{_names(duplicates)} {'is' if len(duplicates) == 1 else 'are'} in the "
                "build-on of several entries",
                "Launchpad allows this only on core22 bases; keep each arch in one build-on",
            )
