"""The explode explorer (notebook 01): edit a project, pick templates and options, see the result.

Every control re-runs :func:`workbench.explode` on the editor's text (never on the file: the
project file is read once and never written). The exploded project is shown beside the input with
provenance colours and overridden values struck through, plus a diff and an overrides table;
errors go inline into the editor, at their line. Templates picked in the picker are applied to
every app, as if each app's ``templates:`` list (and the root one) named them.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import ipywidgets as w
import traitlets

from workbench.errors import WorkbenchError, format_error
from workbench.project import project_file
from workbench.templates import Exploded, ExplodeOptions, Registry, explode
from workbench.templates.grammar import ARCHITECTURES
from workbench.templates.model import TEMPLATE_LIST_KEYS
from workbench.widgets.diff import render_diff
from workbench.widgets.editor import YamlEditor
from workbench.widgets.provenance import inline, loser, render_exploded, summary
from workbench.widgets.style import CSS, table, verdict_badge
from workbench.yamlpos import Document, load_text

BASES: tuple[str, ...] = ("core18", "core20", "core22", "core24")
"""The bases offered by the base selector (besides the project's own)."""


def with_templates(doc: Document, names: Sequence[str]) -> Document:
    """``doc`` with ``names`` added to every template list (a copy; ``doc`` is kept).

    They are appended to the root list (created if missing), which serves the apps without a list
    of their own, and to each app's own list: as if every app had named them.
    """
    if not names or not isinstance(doc.data, Mapping):
        return doc
    data = copy.deepcopy(doc.data)
    assert isinstance(data, MutableMapping)
    apps = data.get("apps")
    own_lists = [
        app
        for app in (apps.values() if isinstance(apps, Mapping) else ())
        if isinstance(app, MutableMapping) and any(k in app for k in TEMPLATE_LIST_KEYS)
    ]
    for owner in (data, *own_lists):
        key = next((k for k in TEMPLATE_LIST_KEYS if k in owner), TEMPLATE_LIST_KEYS[0])
        listed = list(owner[key]) if isinstance(owner.get(key), list) else []
        owner[key] = listed + [n for n in names if n not in listed]
    return replace(doc, data=data)


def overrides_table(exploded: Exploded) -> str:
    """One row per override: path, winner and winning value, loser and lost value."""
    rows = [
        (o.path, o.winner, inline(o.winning_value), loser(o), inline(o.overridden_value))
        for o in exploded.overrides
    ]
    if not rows:
        return CSS + "<div>no overrides: every template value was kept</div>"
    return CSS + table(("path", "winner", "kept", "overridden", "dropped"), rows)


class ExplodeView(w.VBox):  # type: ignore[misc]
    """Editor, template picker, base / build-on / build-for selectors, strict toggle and views."""

    result = traitlets.Any(None, allow_none=True)
    error = traitlets.Any(None, allow_none=True)

    def __init__(
        self,
        text: str = "",
        *,
        file: str = "snapcraft.yaml",
        template_dirs: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        self.template_dirs: list[str | os.PathLike[str]] = list(template_dirs)
        self.registry = Registry.default(self.template_dirs)
        self.editor = YamlEditor(text, file=file)
        self.picker = w.SelectMultiple(
            options=self.registry.names(), rows=6, description="add templates"
        )
        self.folder = w.Text(placeholder="a folder of NAME.yaml templates")
        self.add_folder = w.Button(description="Add folder", icon="folder-open")
        arch = [("keep grammar", ""), *((a, a) for a in ARCHITECTURES)]
        self.base = w.Dropdown(
            options=[("project's base", ""), *((b, b) for b in BASES)], description="base"
        )
        self.build_on = w.Dropdown(options=arch, description="build-on")
        self.build_for = w.Dropdown(options=arch, description="build-for")
        self.strict = w.Checkbox(False, description="--strict")
        self.experimental = w.Checkbox(False, description="--enable-experimental")
        self.status = w.HTML()
        self.status.add_class("wb-status")
        self.exploded = w.HTML()
        self.exploded.add_class("wb-exploded-view")
        self.diff = w.HTML()
        self.overrides = w.HTML()
        self.tabs = w.Tab([self.exploded, self.diff, self.overrides])
        for index, title in enumerate(("exploded (provenance)", "diff", "overrides")):
            self.tabs.set_title(index, title)
        controls = w.VBox(
            [
                w.HBox([self.picker, w.VBox([self.folder, self.add_folder])]),
                w.HBox([self.base, self.build_on, self.build_for]),
                w.HBox([self.strict, self.experimental]),
            ]
        )
        self.tabs.layout = w.Layout(width="55%")
        self.editor.layout = w.Layout(width="45%")
        super().__init__([controls, self.status, w.HBox([self.editor, self.tabs])])
        self.add_folder.on_click(self._on_add_folder)
        for control in (
            self.picker,
            self.base,
            self.build_on,
            self.build_for,
            self.strict,
            self.experimental,
        ):
            control.observe(self.refresh, names="value")
        self.editor.observe(self.refresh, names="value")
        self.refresh()

    @classmethod
    def from_path(
        cls, path: str | os.PathLike[str], *, template_dirs: Sequence[str | os.PathLike[str]] = ()
    ) -> ExplodeView:
        """A view on the project at ``path`` (its snapcraft.yaml, or the file itself)."""
        file = project_file(Path(path))
        return cls(file.read_text(encoding="utf-8"), file=str(file), template_dirs=template_dirs)

    def _on_add_folder(self, _button: Any = None) -> None:
        folder = self.folder.value.strip()
        try:
            registry = Registry.default([*self.template_dirs, folder])
        except WorkbenchError as err:
            self._show_error(err)
            return
        self.template_dirs.append(folder)
        self.registry = registry
        picked = self.picker.value
        self.picker.options = registry.names()
        self.picker.value = tuple(n for n in picked if n in registry.names())
        self.refresh()

    def refresh(self, _change: Any = None) -> None:
        """Explode the editor's text with the current options and update every view."""
        try:
            doc = with_templates(load_text(self.editor.value, self.editor.file), self.picker.value)
            result = explode(
                doc,
                templates=self.registry,
                options=ExplodeOptions(
                    base=self.base.value or None,
                    build_on=self.build_on.value or None,
                    build_for=self.build_for.value or None,
                    strict=self.strict.value,
                    enable_experimental=self.experimental.value,
                ),
            )
        except WorkbenchError as err:
            self._show_error(err)
            return
        with self.hold_trait_notifications():
            self.tabs.remove_class("wb-stale")
            self.error = None
            self.editor.error = None
            self.result = result
            self.status.value = verdict_badge(True, "exploded") + (
                f" with {', '.join(result.templates) or 'no templates'}; "
                f"{len(result.overrides)} override(s)"
            )
            self.exploded.value = render_exploded(result)
            self.diff.value = render_diff(self.editor.value, result.to_yaml())
            self.overrides.value = overrides_table(result)

    def _show_error(self, err: WorkbenchError) -> None:
        self.tabs.add_class("wb-stale")  # the views still show the last good result, dimmed
        self.error = err
        self.editor.error = err
        self.result = None
        self.status.value = verdict_badge(False, format_error(err))

    def summary(self) -> str:
        """The current result in a few plain lines (or the error line)."""
        if self.error is not None:
            return format_error(self.error)
        return summary(self.result)
