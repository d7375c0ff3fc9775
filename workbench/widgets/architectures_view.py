"""The architectures explorer (notebook 02): the proposal's examples, editable, in every view.

Pick an example (edits are kept per example), and see: the host x entry grid (what each builder
claims), the CI build set (supported-arch checkboxes, queue sliders), the outcome simulator (toggle
each build), the dialects side by side, and the converted core22/core24 stanza. The stanza is read
as the proposal reads it; errors go inline into the editor, while the dialect comparison still
shows what snapcraft and Launchpad make of it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as w
import traitlets

from workbench.architectures import parse
from workbench.errors import UsageError, WorkbenchError, format_error
from workbench.widgets.arch_grid import ArchGrid
from workbench.widgets.build_set import BuildSetView
from workbench.widgets.convert_view import ConvertView
from workbench.widgets.dialects_view import DialectsView
from workbench.widgets.editor import YamlEditor
from workbench.widgets.outcome_view import OutcomeView
from workbench.widgets.style import verdict_badge
from workbench.yamlpos import load_text

DIALECT_HOSTS: tuple[str, ...] = ("amd64", "arm64", "armhf", "i386")
"""The hosts whose claims the dialect comparison shows."""


def read_examples(
    directory: str | os.PathLike[str], pattern: str = "example-*.yaml"
) -> dict[str, str]:
    """``{file name: text}`` of the matching files in ``directory``, sorted by name."""
    files = sorted(Path(directory).glob(pattern))
    return {file.name: file.read_text(encoding="utf-8") for file in files}


def _heading(text: str) -> w.HTML:
    return w.HTML(f"<h3>{text}</h3>")


class ArchitecturesView(w.VBox):  # type: ignore[misc]
    """Example picker and editor, grid, build set, outcome, dialects and conversion."""

    stanza = traitlets.Any(None, allow_none=True)
    error = traitlets.Any(None, allow_none=True)

    def __init__(self, examples: Mapping[str, str], *, selected: str | None = None) -> None:
        if not examples:
            raise UsageError("no examples to show", hint="pass at least one example")
        self.texts = dict(examples)
        first = selected if selected in self.texts else next(iter(self.texts))
        self.example = w.Dropdown(options=list(self.texts), value=first, description="example")
        self.editor = YamlEditor(self.texts[first], file=first)
        self.status = w.HTML()
        self.status.add_class("wb-status")
        self.grid = ArchGrid()
        self.build_set = BuildSetView()
        self.outcome = OutcomeView()
        self.dialects = DialectsView()
        self.convert = ConvertView()
        self.editor.layout = w.Layout(width="40%")
        self.grid.layout = w.Layout(width="60%", overflow="auto")
        super().__init__(
            [
                w.HBox([self.example, self.status]),
                w.HBox([self.editor, w.VBox([_heading("Builder's view"), self.grid])]),
                w.HBox([self.build_set, self.outcome]),
                _heading("Dialects side by side"),
                self.dialects,
                _heading("Converted stanza"),
                self.convert,
            ]
        )
        self.example.observe(self._on_example, names="value")
        self.editor.observe(self.refresh, names="value")
        self.build_set.observe(self._on_build_set, names="build_set")
        self.refresh()

    @classmethod
    def from_dir(
        cls, directory: str | os.PathLike[str], *, selected: str | None = None
    ) -> ArchitecturesView:
        """A view on the ``example-*.yaml`` projects of ``directory``."""
        return cls(read_examples(directory), selected=selected)

    def _on_example(self, change: Any) -> None:
        self.texts[change["old"]] = self.editor.value
        self.editor.file = change["new"]
        self.editor.value = self.texts[change["new"]]

    def _on_build_set(self, change: Any) -> None:
        self.outcome.build_set = change["new"]

    def refresh(self, _change: Any = None) -> None:
        """Parse the editor's text and update every view."""
        try:
            document = load_text(self.editor.value, self.editor.file)
        except WorkbenchError as err:
            self._show(None, err)
            self.dialects.show(None)
            return
        self.dialects.show(document, DIALECT_HOSTS)
        try:
            stanza = parse(document)
        except WorkbenchError as err:
            self._show(None, err)
            return
        self._show(stanza, None)

    def _show(self, stanza: Any, error: WorkbenchError | None) -> None:
        self.error = error
        self.editor.error = error
        self.stanza = stanza
        self.grid.show(stanza)
        self.build_set.stanza = stanza
        self.convert.show(stanza)
        self.status.value = (
            verdict_badge(False, format_error(error))
            if error is not None
            else verdict_badge(True, f"{len(stanza.entries)} entries read as the proposal does")
        )
