"""The builder's view as a picture: host architecture x stanza entry, and what each host claims.

:func:`grid_rows` is the data (one row per host, from
:func:`workbench.architectures.claims`); :func:`render_grid` draws it with one column per entry
plus a last column for hosts no entry matches (the snap then claims the host itself).
"""

from __future__ import annotations

from collections.abc import Iterable

import ipywidgets as w

from workbench.architectures import KNOWN_ARCHS, Claim, Stanza, StanzaEntry, claims
from workbench.widgets.style import CSS, esc

CLAIMED = "#bbf7d0"
ITSELF = "#e5e7eb"


def grid_rows(stanza: Stanza, hosts: Iterable[str] = KNOWN_ARCHS) -> tuple[Claim, ...]:
    """One :class:`~workbench.architectures.Claim` per host: the rows of the grid."""
    return claims(stanza, hosts)


def entry_label(entry: StanzaEntry) -> str:
    """``"entry 0: build-on i386 -> run-on amd64, i386"`` (plus ``optional``)."""
    text = (
        f"entry {entry.index}: build-on {', '.join(entry.build_on)} "
        f"\u2192 run-on {', '.join(entry.run_on)}"
    )
    return text + ("" if entry.required else " (optional)")


def render_grid(stanza: Stanza, hosts: Iterable[str] = KNOWN_ARCHS) -> str:
    """The grid as an HTML table; claimed cells carry ``data-host`` and ``data-entry``."""
    head = "".join(f"<th>{esc(entry_label(e))}</th>" for e in stanza.entries)
    head = f"<th>host arch</th>{head}<th>no entry: runs where built</th>"
    body = []
    for row in grid_rows(stanza, hosts):
        cells = []
        for entry in stanza.entries:
            if row.entry == entry.index:
                cells.append(
                    f'<td class="wb-claim" data-host="{row.host}" data-entry="{entry.index}" '
                    f'style="background:{CLAIMED}" title="{esc(row.reason)}">'
                    f"claims {esc(', '.join(row.architectures))}</td>"
                )
            else:
                cells.append("<td></td>")
        if row.entry is None:
            cells.append(
                f'<td class="wb-claim" data-host="{row.host}" data-entry="none" '
                f'style="background:{ITSELF}" title="{esc(row.reason)}">claims {row.host}</td>'
            )
        else:
            cells.append("<td></td>")
        body.append(f"<tr><th>{row.host}</th>{''.join(cells)}</tr>")
    return f'{CSS}<table class="wb-table wb-grid"><tr>{head}</tr>{"".join(body)}</table>'


class ArchGrid(w.HTML):  # type: ignore[misc]
    """``show(stanza)`` draws the grid; ``show(None)`` clears it."""

    def __init__(self) -> None:
        super().__init__()
        self.add_class("wb-arch-grid")

    def show(self, stanza: Stanza | None) -> None:
        """Draw the grid of ``stanza`` (None: empty)."""
        self.value = "" if stanza is None else render_grid(stanza)
