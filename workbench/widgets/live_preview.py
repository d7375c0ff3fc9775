"""Live template authoring (notebook 04): the exploded project follows the template as you type.

A template editor and a project editor side by side with the project exploded with that template,
every value coloured by its origin and a value the project declines struck through, marked
"declined". Each keystroke restarts a short wait (:class:`~workbench.widgets.debounce.Debouncer`);
when the typing pauses the draft is saved as ``NAME.yaml`` in a private work directory (as
:class:`~workbench.widgets.authoring.AuthoringView` does) and the project is exploded again. An
error goes under its line in the editor it belongs to, while the preview keeps the last good
result, dimmed; the lines an update changed are listed below the preview (:attr:`changes`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ipywidgets as w
import traitlets

from workbench.errors import WorkbenchError, format_error
from workbench.templates import Exploded, explode
from workbench.widgets.authoring import relabel, save_draft
from workbench.widgets.debounce import Debouncer, Schedule
from workbench.widgets.diff import COLOURS, MARKS, diff_rows
from workbench.widgets.editor import YamlEditor
from workbench.widgets.provenance import exploded_lines, origin_counts, render_exploded
from workbench.widgets.style import CSS, esc, template_label, verdict_badge
from workbench.yamlpos import load_text

TEMPLATE = """\
template:
  summary: Network access for command-line apps
  bases: [core22, core24]
parts:
  "*":
    build-packages: [pkg-config]
apps:
  "*":
    plugs: [network, network-bind]
"""
"""The template the live editor starts with."""

PROJECT = """\
name: fetcher
base: core22
confinement: strict
parts:
  fetcher:
    plugin: nil
apps:
  fetcher:
    command: bin/fetch
    templates: [net-tools]
    decline:
      net-tools: [plugs.network-bind]
"""
"""The project the live editor starts with: it uses ``net-tools`` and declines one plug."""

DELAY = 0.3
"""Seconds of quiet after a keystroke before the preview is updated."""


def plain_lines(exploded: Exploded) -> list[str]:
    """The provenance view as plain text: each line with its origin, struck lines with why."""
    return [
        f"{'  ' * line.depth}{line.text}  [{line.origin}]"
        + (f" \u2190 {line.note}" if line.struck else "")
        for line in exploded_lines(exploded)
    ]


def changed_lines(before: Exploded, after: Exploded) -> list[str]:
    """``- LINE`` / ``+ LINE`` for each provenance line that went away or came (in order)."""
    rows = diff_rows("\n".join(plain_lines(before)), "\n".join(plain_lines(after)))
    return [f"{MARKS[row.kind]} {row.text}" for row in rows if row.kind != "same"]


def render_changes(changes: Sequence[str]) -> str:
    """The changed lines on the diff colours (or a note that nothing changed)."""
    if not changes:
        return f"{CSS}<div>the last update changed nothing in the exploded project</div>"
    spans = "".join(
        f'<span class="wb-line" style="background:'
        f'{COLOURS["added" if line.startswith("+") else "removed"]}">{esc(line)}</span>'
        for line in changes
    )
    return f'{CSS}<div>the last update changed:</div><pre class="wb-pre">{spans}</pre>'


class LiveAuthoringView(w.VBox):  # type: ignore[misc]
    """Template editor, project editor and the exploded project, updated as you type."""

    result = traitlets.Any(None, allow_none=True)
    """The last good :class:`~workbench.templates.Exploded` (kept while there is an error)."""
    error = traitlets.Any(None, allow_none=True)

    def __init__(
        self,
        template: str = TEMPLATE,
        project: str = PROJECT,
        *,
        name: str = "net-tools",
        template_dirs: Sequence[str | os.PathLike[str]] = (),
        schedule: Schedule | None = None,
    ) -> None:
        self.name = name
        self.template_dirs = list(template_dirs)
        self._tmp = tempfile.TemporaryDirectory(prefix="wb-live-")
        self.workdir = Path(self._tmp.name)
        self.changes: list[str] = []
        self.template = YamlEditor(template, file=f"{name}.yaml", rows=12)
        self.template.add_class("wb-live-template")
        self.project = YamlEditor(project, file="snapcraft.yaml", rows=14)
        self.project.add_class("wb-live-project")
        self.status = w.HTML()
        self.status.add_class("wb-live-status")
        self.preview = w.HTML()
        self.preview.add_class("wb-live-preview")
        self.changes_view = w.HTML()
        self.changes_view.add_class("wb-live-changes")
        self.debouncer = Debouncer(self.refresh, DELAY, schedule=schedule)
        super().__init__(
            [
                self.status,
                w.HBox(
                    [
                        w.VBox(
                            [
                                w.HTML(f"<b>template {esc(name)}</b>"),
                                self.template,
                                w.HTML("<b>project</b>"),
                                self.project,
                            ],
                            layout=w.Layout(width="45%"),
                        ),
                        w.VBox(  # long lines scroll sideways instead of being cut
                            [self.preview, self.changes_view],
                            layout=w.Layout(width="55%", overflow="auto"),
                        ),
                    ]
                ),
            ]
        )
        self.add_class("wb-live")
        self.template.observe(self._typed, names="value")
        self.project.observe(self._typed, names="value")
        self.refresh()

    def _typed(self, _change: Any = None) -> None:
        self.debouncer.trigger()

    def flush(self) -> None:
        """Update the preview now if an edit is waiting for the typing to pause."""
        self.debouncer.flush()

    def refresh(self) -> None:
        """Save the draft and explode the project with it; show the result or the error."""
        try:
            registry = save_draft(
                self.workdir, self.name, self.template.value, template_dirs=self.template_dirs
            )
            exploded = explode(load_text(self.project.value, self.project.file), templates=registry)
        except WorkbenchError as err:
            self._show_error(relabel(err, str(self.workdir / self.template.file)))
            return
        with self.hold_trait_notifications():
            self.changes = [] if self.result is None else changed_lines(self.result, exploded)
            self.result, self.error = exploded, None
            self.template.error = self.project.error = None
            self.preview.remove_class("wb-stale")
            self.preview.value = render_exploded(exploded)
            self.changes_view.value = render_changes(self.changes)
            self.status.value = verdict_badge(True, self._counts())

    def _show_error(self, err: WorkbenchError) -> None:
        """The error under its line in its editor; the preview keeps the last good result."""
        in_template = err.location is not None and err.location.file == self.template.file
        self.error = err
        self.template.error = err if in_template else None
        self.project.error = None if in_template else err
        self.preview.add_class("wb-stale")
        self.status.value = verdict_badge(False, format_error(err))

    def _counts(self) -> str:
        exploded = self.result
        added = origin_counts(exploded).get(template_label(self.name), 0)
        return (
            f"exploded: {added} values from {self.name}, {len(exploded.declined)} declined, "
            f"{len(exploded.overrides)} overrides"
        )

    def summary(self) -> str:
        """The state in plain lines: the result's counts, or the error and what is still shown."""
        if self.error is None:
            return self._counts()
        kept = "nothing yet" if self.result is None else self._counts()
        return f"{format_error(self.error)}\nthe preview still shows the last good result ({kept})"
