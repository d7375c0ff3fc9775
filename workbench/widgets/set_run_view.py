"""A whole build set run from the notebook, beside its plan: one row per entry of the project's
plan, filled in as each entry's build ends (notebooks 02 and 03).

**Build all** runs :func:`~workbench.lifecycle.build_set.run_build_set` in the background on a
:class:`~workbench.widgets.tasks.TaskRunner`: each entry's progress lines go to the log, each
outcome updates its row (result, failed step, time, image, snap or log). The last run's result
file (``NAME_VERSION_build-set.json``) fills the rows when the view opens, so a notebook shows
what was built without building again. A script calls :meth:`SetRunView.run` and
``view.runner.wait(seconds)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from workbench.lifecycle.build_set import (
    EntryOutcome,
    SetEntry,
    SetOutcome,
    SetWatch,
    result_path,
    run_build_set,
    set_entries,
)
from workbench.lifecycle.events import Event
from workbench.widgets.log import LogPane
from workbench.widgets.style import CSS, table, verdict_badge
from workbench.widgets.tasks import TaskEvent, TaskRunner

if TYPE_CHECKING:
    from workbench.widgets.tasks import Reporter

SetRunner = Callable[..., SetOutcome]
HEADER = ("entry", "build-on", "run-on", "result", "step", "time", "image", "snap / log")


def entry_row(entry: SetEntry, result: dict[str, Any] | None) -> tuple[str, ...]:
    """A table row for ``entry``: its last result (an :meth:`EntryOutcome.to_json`) or none."""
    plan = (entry.label, entry.build_on, ", ".join(entry.run_on))
    if result is None:
        return (*plan, "not built" if entry.required else "not built (may fail)", "", "", "", "")
    status = result["status"] if entry.required else f"{result['status']} (ignored)"
    seconds = "-" if result["status"] == "skipped" else f"{result['seconds']:.1f} s"
    if result["status"] == "failed" and result["log"]:
        where = f"{result['reason']} (log: {result['log']})"
    else:
        where = result["snap"] or result["reason"] or result["log"]
    return (*plan, status, result["step"] or "", seconds, result["image"], where)


class SetRunView(w.VBox):  # type: ignore[misc]
    """The plan's entries as a table, a **Build all** button, a log and the set's verdict."""

    def __init__(self, project: str | Path, *, run: SetRunner = run_build_set) -> None:
        self.project = Path(project)
        self.entries = set_entries(self.project)
        self.results: dict[str, dict[str, Any]] = {}
        self.outcome: SetOutcome | None = None
        self.runner = TaskRunner()
        self._run = run
        self.table = w.HTML()
        self.table.add_class("wb-set-run")
        self.status = w.HTML()
        self.status.add_class("wb-status")
        self.build_button = w.Button(description="Build all", icon="play", button_style="primary")
        self.log_pane = LogPane(max_lines=400, height="10em")
        super().__init__(
            [
                w.HTML(
                    "<b>Build the set here</b>: each entry in a VM of its build-on architecture"
                ),
                self.table,
                w.HBox([self.build_button, self.status]),
                self.log_pane,
            ]
        )
        self.build_button.on_click(lambda _b: self.run())
        self.runner.on_event(self._on_event)
        self._load_last()
        self._draw()

    def _load_last(self) -> None:
        path = result_path(self.project)
        try:
            last = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self._say(True, "not built yet")
            return
        self.results = {e["entry"]: e for e in last.get("entries", []) if "entry" in e}
        verdict = "passed" if last.get("ok") else "failed"
        self._say(
            bool(last.get("ok")), f"last run {verdict} in {last.get('seconds', 0)} s ({path.name})"
        )

    def rows(self) -> list[tuple[str, ...]]:
        """One row per entry of the plan, with its latest result."""
        return [entry_row(e, self.results.get(e.label)) for e in self.entries]

    def _draw(self) -> None:
        self.table.value = CSS + table(HEADER, self.rows())

    def run(self) -> None:
        """Build every entry in the background; rows fill in as entries end."""
        if self.runner.running:
            self._say(False, "the set is still building: wait for it first")
            return
        self.results.clear()
        self.log_pane.clear()
        self._draw()
        self._say(True, f"building {len(self.entries)} entries")

        def job(reporter: Reporter) -> SetOutcome:
            def on_event(entry: SetEntry, event: Event) -> None:
                reporter.log(f"[{entry.label} on {entry.build_on}] {event.line()}")

            watch = SetWatch(on_event=on_event, on_outcome=reporter.item)
            return self._run(self.project, entries=self.entries, watch=watch)

        self.runner.start("build set", job)

    def _on_event(self, event: TaskEvent) -> None:
        if event.kind == "log":
            self.log_pane.append(event.payload)
        elif event.kind == "item" and isinstance(event.payload, EntryOutcome):
            self.results[event.payload.entry.label] = event.payload.to_json()
            self._draw()
        elif event.kind == "finished":
            outcome = self.runner.result
            if isinstance(outcome, SetOutcome):
                self.outcome = outcome
                verdict = "passed" if outcome.ok else "failed"
                self._say(outcome.ok, f"build set {verdict} in {outcome.seconds:.1f} s")
            else:
                self._say(False, f"{self.runner.state}: {self.runner.message}")

    def _say(self, ok: bool, text: str) -> None:
        self.status.value = verdict_badge(ok, text)
        self.status_text = text
