"""The dialects side by side: what the proposal, snapcraft 4.x and Launchpad each make of a stanza.

:func:`compare_dialects` reads one document under every dialect of
:data:`workbench.architectures.DIALECTS` and answers the same questions in each (does it parse,
what does each host claim, what is the build set, is it released when every build succeeds or the
first fails); a row whose answers differ is highlighted. Below it, the documented rules
(:data:`~workbench.architectures.RULES`), with each cell that differs from the proposal
highlighted. For a list of names (``architectures: [amd64]``), :func:`shorthand_meanings` shows
what the list meant in each era: before the 2018 proposal (built anywhere), in the proposal and
snapcraft 3/4 (build-on equals run-on) and today on core22 (one platform per name, from
craft-platforms).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import ipywidgets as w

from workbench.architectures import (
    DIALECTS,
    RULES,
    Stanza,
    claim,
    judge,
    parse,
    plan,
    plan_platforms,
)
from workbench.errors import WorkbenchError
from workbench.widgets.style import CSS, DIFFERS, esc
from workbench.yamlpos import Document

NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class DialectRow:
    """One question and each dialect's answer, in :data:`DIALECTS` order."""

    label: str
    cells: tuple[str, ...]

    @property
    def differs(self) -> bool:
        """True when two dialects that have an answer give different ones."""
        return len({c for c in self.cells if c != NOT_APPLICABLE}) > 1


def _answer(stanza: Stanza | None, view: str, ask: Callable[[Stanza], str]) -> str:
    if stanza is None:
        return "rejected"
    if view not in stanza.dialect.views:
        return NOT_APPLICABLE
    try:
        return ask(stanza)
    except WorkbenchError as err:
        return f"error: {err.brief}"


def _build_set(stanza: Stanza) -> str:
    built = plan(stanza)
    text = ", ".join(f"{b.build_on} \u2192 {'/'.join(b.run_on)}" for b in built.builds)
    dropped = ", ".join(f"entry {d.entry}" for d in built.dropped)
    return (text or "nothing") + (f"; drops {dropped}" if dropped else "")


def _claims(host: str) -> Callable[[Stanza], str]:
    def ask(stanza: Stanza) -> str:
        return ", ".join(claim(stanza, host).architectures)

    return ask


def _released(fail_first: bool) -> Callable[[Stanza], str]:
    def ask(stanza: Stanza) -> str:
        built = plan(stanza)
        results = {b.build_on: True for b in built.builds}
        if fail_first and built.builds:
            results[built.builds[0].build_on] = False
        outcome = judge(built, results)
        return f"{outcome.set}: {', '.join(outcome.released) or 'nothing'}"

    return ask


@dataclass(frozen=True)
class ShorthandMeaning:
    """What a list of architecture names meant in one era: its entries and the snaps made."""

    era: str
    entries: str
    snaps: str


def shorthand_meanings(document: Document) -> list[ShorthandMeaning]:
    """The meanings of ``architectures: [NAMES]`` side by side (empty for any other stanza)."""
    data = document.data
    raw = data.get("architectures") if isinstance(data, Mapping) else None
    if not isinstance(raw, list) or not raw or not all(isinstance(n, str) for n in raw):
        return []
    names = [str(n) for n in raw]
    listed = ", ".join(names)
    try:
        modern = plan_platforms(
            "core22", {n: {"build-on": [n], "build-for": [n]} for n in names}
        ).builds
        today = ShorthandMeaning(
            "core22 today: one platform per name",
            "; ".join(f"build-on: [{n}], build-for: [{n}]" for n in names),
            ", ".join(f"on {b.build_on} for {b.build_for}" for b in modern),
        )
    except WorkbenchError as err:
        today = ShorthandMeaning("core22 today: one platform per name", "", f"error: {err.brief}")
    return [
        ShorthandMeaning(
            "before the 2018 proposal",
            f"build-on: all, run-on: [{listed}]",
            f"one snap, built on any host, claims {listed}",
        ),
        ShorthandMeaning(
            "2018 proposal, snapcraft 3/4 (core20 and older): build-on equals run-on",
            f"build-on: [{listed}], run-on: [{listed}]",
            f"one snap, built on one of {listed}, claims {listed}",
        ),
        today,
    ]


def compare_dialects(document: Document, hosts: Sequence[str]) -> list[DialectRow]:
    """The questions of the module docstring, answered under every dialect."""
    stanzas: list[Stanza | None] = []
    accepted: list[str] = []
    for name in DIALECTS:
        try:
            stanzas.append(parse(document, dialect=name))
            accepted.append("accepted")
        except WorkbenchError as err:
            stanzas.append(None)
            accepted.append(f"rejected: {err.brief}")
    rows = [DialectRow("stanza", tuple(accepted))]
    for host in hosts:
        ask = _claims(host)
        rows.append(
            DialectRow(f"built on {host}, claims", tuple(_answer(s, "snap", ask) for s in stanzas))
        )
    rows.append(DialectRow("build set", tuple(_answer(s, "plan", _build_set) for s in stanzas)))
    for label, fail in (("every build succeeds", False), ("first build fails", True)):
        rows.append(DialectRow(label, tuple(_answer(s, "plan", _released(fail)) for s in stanzas)))
    return rows


def _cells(cells: Sequence[str], highlight: Sequence[bool]) -> str:
    return "".join(
        f'<td style="background:{DIFFERS}">{esc(c)}</td>' if h else f"<td>{esc(c)}</td>"
        for c, h in zip(cells, highlight, strict=True)
    )


def render_shorthand(meanings: Sequence[ShorthandMeaning]) -> str:
    """The eras' meanings of a list of names as a table ("" when there are none)."""
    if not meanings:
        return ""
    body = "".join(
        f'<tr class="wb-shorthand-row"><th>{esc(m.era)}</th><td>{esc(m.entries)}</td>'
        f"<td>{esc(m.snaps)}</td></tr>"
        for m in meanings
    )
    return (
        "<p><b>What this list of names means, by era</b></p>"
        '<table class="wb-table wb-shorthand"><tr><th>era</th><th>entries</th><th>snaps</th></tr>'
        f"{body}</table>"
    )


def render_dialects(rows: Sequence[DialectRow], meanings: Sequence[ShorthandMeaning] = ()) -> str:
    """The comparison, the eras' meanings of a list of names, then the rules table, with
    differences highlighted."""
    head = "<tr><th></th>" + "".join(f"<th>{esc(d)}</th>" for d in DIALECTS) + "</tr>"
    body = "".join(
        f'<tr class="wb-dialect-row" data-differs="{str(r.differs).lower()}"><th>{esc(r.label)}'
        f"</th>{_cells(r.cells, [r.differs and c != NOT_APPLICABLE for c in r.cells])}</tr>"
        for r in rows
    )
    rules = "".join(
        f"<tr><th>{r.id} {esc(r.topic)}</th>"
        + _cells(
            (r.proposal, r.snapcraft, r.launchpad),
            (False, r.snapcraft != r.proposal, r.launchpad != r.proposal),
        )
        + "</tr>"
        for r in RULES
    )
    return (
        f'{CSS}<table class="wb-table wb-dialects">{head}{body}</table>'
        f"{render_shorthand(meanings)}"
        f'<p><b>The rules behind the differences</b></p><table class="wb-table">{head}{rules}'
        "</table>"
    )


class DialectsView(w.HTML):  # type: ignore[misc]
    """``show(document, hosts)`` draws the comparison; ``rows`` keeps the data shown."""

    def __init__(self) -> None:
        super().__init__()
        self.add_class("wb-dialects-view")
        self.rows: list[DialectRow] = []
        self.meanings: list[ShorthandMeaning] = []

    def show(self, document: Document | None, hosts: Sequence[str] = ()) -> None:
        """Compare ``document`` under every dialect (None: clear)."""
        self.rows = [] if document is None else compare_dialects(document, hosts)
        self.meanings = [] if document is None else shorthand_meanings(document)
        self.value = render_dialects(self.rows, self.meanings) if self.rows else ""
