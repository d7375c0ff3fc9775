"""A browser of a build's ``prime/`` (in the VM) and of the packed snap's ``meta/snap.yaml``.

:func:`render_listing` draws the entries of :mod:`workbench.lifecycle.prime` as a table;
:class:`PrimeBrowser` shows them beside the snap.yaml; the build view fills it from a background
task.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as w

from workbench.lifecycle.prime import SNAP_YAML, PrimePath
from workbench.widgets.style import CSS, esc, table


def render_listing(entries: Sequence[PrimePath]) -> str:
    """A table of the entries (directories end with ``/``; sizes of files only)."""
    rows = [
        (e.path + ("/" if e.kind == "dir" else ""), e.kind, str(e.size) if e.kind == "file" else "")
        for e in entries
    ]
    return CSS + table(("path", "kind", "bytes"), rows)


class PrimeBrowser(w.VBox):  # type: ignore[misc]
    """prime/'s listing beside the packed snap.yaml; :meth:`show` fills both (kernel thread)."""

    def __init__(self) -> None:
        self.entries: list[PrimePath] = []
        self.snap_yaml = ""
        self.listing = w.HTML()
        self.listing.add_class("wb-prime")
        self.yaml_view = w.HTML()
        self.yaml_view.add_class("wb-snap-yaml")
        super().__init__([w.HBox([self.listing, self.yaml_view])])

    def show(self, entries: Sequence[PrimePath], snap_yaml: str, note: str = "") -> None:
        """Show ``entries`` and ``snap_yaml`` (``note`` says why one is missing)."""
        self.entries = list(entries)
        self.snap_yaml = snap_yaml
        self.listing.value = render_listing(self.entries) if self.entries else esc(note)
        self.yaml_view.value = (
            f'{CSS}<b>{SNAP_YAML}</b><pre class="wb-pre">{esc(snap_yaml)}</pre>'
            if snap_yaml
            else esc(note)
        )
