"""The converted stanza: core22 ``architectures`` and core24 ``platforms`` side by side.

Each pane shows :func:`workbench.architectures.convert`'s YAML (notes as comments) and whether the
round trip (:func:`~workbench.architectures.round_trip`: both sides planned) yields the same snaps;
a stanza with no exact equivalent shows every problem instead.
"""

from __future__ import annotations

import ipywidgets as w

from workbench.architectures import ArchitectureProblems, Stanza, convert, round_trip
from workbench.architectures.convert import TARGETS
from workbench.errors import WorkbenchError, format_error
from workbench.widgets.style import CSS, esc, verdict_badge


def conversion_html(stanza: Stanza, target: str) -> str:
    """The ``target`` stanza and its round-trip check, or why there is none."""
    title = f"<b>{esc(target)}</b>"
    try:
        conversion = convert(stanza, target)
        same = round_trip(stanza, conversion).equal
    except ArchitectureProblems as err:
        problems = "".join(f"<li>{esc(p.brief)} ({esc(p.hint)})</li>" for p in err.problems)
        badge = verdict_badge(False, "no exact equivalent")
        return f"{CSS}{title}<div>{badge}</div><ul>{problems}</ul>"
    except WorkbenchError as err:
        return f"{CSS}{title}<div>{verdict_badge(False, format_error(err))}</div>"
    check = verdict_badge(same, "round trip: same snaps" if same else "round trip: snaps differ")
    return f'{CSS}{title}<pre class="wb-pre wb-converted">{esc(conversion.to_yaml())}</pre>{check}'


class ConvertView(w.HBox):  # type: ignore[misc]
    """One pane per target (core22, core24); ``show(stanza)`` fills them."""

    def __init__(self) -> None:
        self.panes = {target: w.HTML(layout=w.Layout(width="50%")) for target in TARGETS}
        super().__init__(list(self.panes.values()))

    def show(self, stanza: Stanza | None) -> None:
        """Convert ``stanza`` to every target (None: clear)."""
        for target, pane in self.panes.items():
            pane.value = "" if stanza is None else conversion_html(stanza, target)
