"""Template authoring (notebook 04): write a template, validate it, apply it to many projects.

The template being written is saved as ``NAME.yaml`` in a private work directory (never in the
repository) and loaded by a :class:`~workbench.templates.Registry` exactly like a template folder,
so positions in errors are positions in the editor. *Validate* loads its metadata and applies it to
a minimal probe project on each base it claims. *Apply* explodes every chosen sample project on
every chosen base in the background (:class:`~workbench.widgets.tasks.TaskRunner`), filling the
results table, the progress bar, the log and the timeline as each combination finishes.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import ipywidgets as w
import traitlets

from workbench.errors import UsageError, WorkbenchError, format_error
from workbench.progress import Progress
from workbench.project import project_file
from workbench.templates import Exploded, ExplodeOptions, Registry, TemplateInfo, explode
from workbench.templates.model import NAME_PATTERN
from workbench.widgets.editor import YamlEditor
from workbench.widgets.explode_view import BASES, with_templates
from workbench.widgets.log import LogPane
from workbench.widgets.progress_view import ProgressView
from workbench.widgets.provenance import origin_counts, render_exploded
from workbench.widgets.style import BAD, CSS, GOOD, esc, template_label, verdict_badge
from workbench.widgets.tasks import Reporter, TaskEvent, TaskRunner
from workbench.widgets.timeline import Span, Timeline
from workbench.yamlpos import Document, load_text

STARTER = """\
# A template: snapcraft.yaml fragments merged into every project that names it.
template:
  summary: Network tools for command-line apps
  bases: [core20, core22, core24]
apps:
  "*":
    plugs: [network, network-bind]
    environment:
      LANG: C.UTF-8
parts:
  "*":
    build-packages: [pkg-config]
  NAME/certs:
    plugin: nil
    stage-packages@core20: [ca-certificates]
    stage-packages@: [ca-certificates, openssl]
"""
"""A first template for the editor (``NAME`` is replaced by the template's name)."""

PROBE = """\
name: probe
base: {base}
confinement: strict
apps:
  probe:
    command: bin/probe
parts:
  probe:
    plugin: nil
"""
"""The minimal project *Validate* applies the template to, once per base."""


@dataclass(frozen=True)
class Cell:
    """One project on one base: the exploded result or the error line, and how long it took."""

    project: str
    base: str
    exploded: Exploded | None
    error: str | None
    start: float
    end: float

    @property
    def key(self) -> str:
        """``"project @ base"``."""
        return f"{self.project} @ {self.base}"


def read_samples(directory: str | os.PathLike[str]) -> dict[str, Document]:
    """``{dir name: project}`` of every project directory in ``directory``; each project's file
    is named ``DIR/snapcraft.yaml`` (or ``DIR/snap/snapcraft.yaml``) in its errors."""
    samples: dict[str, Document] = {}
    for folder in sorted(p for p in Path(directory).iterdir() if p.is_dir()):
        try:
            file = project_file(folder)
        except WorkbenchError:
            continue
        label = f"{folder.name}/{file.relative_to(folder)}"
        samples[folder.name] = load_text(file.read_text(encoding="utf-8"), label)
    return samples


def as_document(name: str, sample: str | Document) -> Document:
    """A sample given as text is the project ``NAME/snapcraft.yaml``."""
    return sample if isinstance(sample, Document) else load_text(sample, f"{name}/snapcraft.yaml")


def save_draft(
    directory: Path, name: str, text: str, *, template_dirs: Sequence[str | os.PathLike[str]] = ()
) -> Registry:
    """Write the draft as ``directory/NAME.yaml``; the built-ins, ``template_dirs``, the draft."""
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f"invalid template name {name!r}", hint="use lower-case letters, digits and dashes"
        )
    (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
    return Registry.default([*template_dirs, directory])


def relabel(err: WorkbenchError, source: str) -> WorkbenchError:
    """``err`` with a location in the draft file ``source`` renamed to its base name."""
    loc = err.location
    if loc is not None and loc.file == source:
        err.location = replace(loc, file=Path(source).name)
    return err


def validate(registry: Registry, name: str) -> TemplateInfo:
    """Load the template's metadata, then apply it to :data:`PROBE` on each of its bases."""
    info = registry.get(name).info
    for base in info.bases:
        probe = with_templates(load_text(PROBE.format(base=base), f"probe-{base}.yaml"), [name])
        explode(probe, templates=registry)
    return info


def apply_all(
    registry: Registry,
    name: str,
    projects: Mapping[str, Document],
    bases: Sequence[str],
    reporter: Reporter,
) -> list[Cell]:
    """Explode every project on every base with template ``name`` added (a background job)."""
    total = len(projects) * len(bases)
    source = registry.get(name).info.source
    cells: list[Cell] = []
    for project, doc in projects.items():
        for base in bases:
            reporter.check()
            start = time.perf_counter()
            try:
                result: Exploded | None = explode(
                    with_templates(doc, [name]),
                    templates=registry,
                    options=ExplodeOptions(base=base),
                )
                error = None
            except WorkbenchError as err:
                result, error = None, format_error(relabel(err, source))
            cell = Cell(project, base, result, error, start, time.perf_counter())
            cells.append(cell)
            reporter.item(cell)
            reporter.log(f"{cell.key}: {error or 'ok'}")
            reporter.progress(Progress("apply", len(cells), total, cell.key, "projects"))
    return cells


def results_table(cells: Sequence[Cell], name: str) -> str:
    """Projects down, bases across: values the template added and overrides, or the error."""
    projects = list(dict.fromkeys(c.project for c in cells))
    bases = list(dict.fromkeys(c.base for c in cells))
    by_key = {(c.project, c.base): c for c in cells}
    head = "<tr><th>project</th>" + "".join(f"<th>{esc(b)}</th>" for b in bases) + "</tr>"
    rows = []
    for project in projects:
        tds = []
        for base in bases:
            cell = by_key.get((project, base))
            if cell is None:
                tds.append("<td>\u2026</td>")
            elif cell.exploded is None:
                tds.append(
                    f'<td class="wb-cell" data-ok="false" style="color:{BAD}">'
                    f"{esc(cell.error)}</td>"
                )
            else:
                added = origin_counts(cell.exploded).get(template_label(name), 0)
                text = f"{added} values, {len(cell.exploded.overrides)} overrides"
                tds.append(f'<td class="wb-cell" data-ok="true" style="color:{GOOD}">{text}</td>')
        rows.append(f"<tr><th>{esc(project)}</th>{''.join(tds)}</tr>")
    return f'{CSS}<table class="wb-table wb-results">{head}{"".join(rows)}</table>'


class AuthoringView(w.VBox):  # type: ignore[misc]
    """Template editor, validate button, sample and base pickers, apply/cancel and the results."""

    info = traitlets.Any(None, allow_none=True)
    error = traitlets.Any(None, allow_none=True)

    def __init__(
        self,
        samples: Mapping[str, str | Document],
        *,
        name: str = "net-tools",
        text: str | None = None,
        template_dirs: Sequence[str | os.PathLike[str]] = (),
        workdir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.template_dirs = list(template_dirs)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="wb-draft-")
            workdir = self._tmp.name
        self.workdir = Path(workdir)
        self.samples = dict(samples)
        self.cells: list[Cell] = []
        self.name = w.Text(name, description="name")
        self.editor = YamlEditor(
            text if text is not None else STARTER.replace("NAME", name), file=f"{name}.yaml"
        )
        self.validate_button = w.Button(description="Validate", icon="check")
        self.projects = w.SelectMultiple(
            options=list(self.samples), value=tuple(self.samples), rows=5, description="projects"
        )
        self.bases = w.SelectMultiple(options=BASES, value=BASES, rows=4, description="bases")
        self.apply_button = w.Button(description="Apply", icon="play", button_style="primary")
        self.cancel_button = w.Button(description="Cancel", icon="stop")
        self.status = w.HTML()
        self.status.add_class("wb-status")
        self.results = w.HTML()
        self.detail_choice = w.Dropdown(options=[], description="show")
        self.detail = w.HTML()
        self.runner = TaskRunner()
        self.progress = ProgressView()
        self.log_pane = LogPane(max_lines=200)
        self.timeline = Timeline()
        super().__init__(
            [
                w.HBox([self.name, self.validate_button]),
                self.editor,
                w.HBox([self.projects, self.bases]),
                w.HBox([self.apply_button, self.cancel_button, self.progress]),
                self.status,
                self.results,
                self.timeline,
                self.log_pane,
                self.detail_choice,
                self.detail,
            ]
        )
        self.validate_button.on_click(lambda _b: self.validate())
        self.apply_button.on_click(lambda _b: self.apply())
        self.cancel_button.on_click(lambda _b: self.runner.cancel())
        self.detail_choice.observe(self._show_detail, names="value")
        self.runner.on_event(self._on_event)

    @classmethod
    def from_dir(cls, directory: str | os.PathLike[str], **kwargs: Any) -> AuthoringView:
        """A view whose samples are the project directories in ``directory``."""
        return cls(read_samples(directory), **kwargs)

    @property
    def file(self) -> str:
        """Where the draft is saved (errors in it are shown in the editor)."""
        return str(self.workdir / f"{self.name.value}.yaml")

    def _registry(self) -> Registry:
        self.editor.file = f"{self.name.value}.yaml"
        return save_draft(
            self.workdir, self.name.value, self.editor.value, template_dirs=self.template_dirs
        )

    def validate(self) -> TemplateInfo | None:
        """Check the draft; show its metadata, or the error at its line in the editor."""
        try:
            info = validate(self._registry(), self.name.value)
        except WorkbenchError as err:
            self._fail(err)
            return None
        self.error = self.editor.error = None
        self.info = info
        self.status.value = verdict_badge(
            True, f"{info.name}: {info.summary}; bases {', '.join(info.bases)}"
        )
        return info

    def _fail(self, err: WorkbenchError) -> None:
        self.error = self.editor.error = relabel(err, self.file)
        self.info = None
        self.status.value = verdict_badge(False, format_error(err))

    def apply(self) -> None:
        """Validate, then explode the chosen projects on the chosen bases in the background."""
        if self.runner.running:
            self.status.value = verdict_badge(False, "still applying: cancel it first")
            return
        if self.validate() is None:
            return
        registry = self._registry()
        name = self.name.value
        registry.get(name)  # loaded here, so that later edits of the draft cannot race the worker
        try:
            docs = {p: as_document(p, self.samples[p]) for p in self.projects.value}
        except WorkbenchError as err:
            self._fail(err)
            return
        bases = list(self.bases.value)
        self.cells = []
        self.results.value = ""
        self.log_pane.clear()
        self.timeline.clear()
        self.detail_choice.options = []
        self.runner.start(
            f"apply {name}", lambda reporter: apply_all(registry, name, docs, bases, reporter)
        )

    def _on_event(self, event: TaskEvent) -> None:
        if event.kind == "item":
            cell: Cell = event.payload
            self.cells.append(cell)
            origin = self.cells[0].start
            ok = cell.exploded is not None
            self.timeline.update(
                Span(cell.key, cell.start - origin, cell.end - origin, "done" if ok else "failed")
            )
            self.results.value = results_table(self.cells, self.name.value)
            self.detail_choice.options = [c.key for c in self.cells]
        elif event.kind == "log":
            self.log_pane.append(event.payload)
        elif event.kind == "progress":
            self.progress.update(event.payload)
        elif event.kind == "finished":
            exploded = sum(c.exploded is not None for c in self.cells)
            self.status.value = verdict_badge(
                self.runner.state == "done",
                f"apply {self.runner.message}: {exploded} of {len(self.cells)} exploded",
            )

    def _show_detail(self, _change: Any = None) -> None:
        cell = next((c for c in self.cells if c.key == self.detail_choice.value), None)
        if cell is None:
            self.detail.value = ""
        elif cell.exploded is None:
            self.detail.value = verdict_badge(False, cell.error or "")
        else:
            self.detail.value = render_exploded(cell.exploded)

    def summary(self) -> str:
        """One plain line per finished combination (for scripts and notebooks)."""
        name = self.name.value
        lines = []
        for cell in self.cells:
            if cell.exploded is None:
                lines.append(f"{cell.key}: {cell.error}")
            else:
                added = origin_counts(cell.exploded).get(template_label(name), 0)
                lines.append(
                    f"{cell.key}: ok, {added} values from {name}, "
                    f"{len(cell.exploded.overrides)} overrides"
                )
        return "\n".join(lines)
