"""The design's headline numbers measured on this machine (notebook 05), drawn as charts.

The view renders a :class:`~workbench.perf.suite.Plan` as controls (rounds, which comparisons,
where the builds put their parts) and runs :func:`~workbench.perf.suite.run_plan` in the
background on a :class:`~workbench.widgets.tasks.TaskRunner`: progress and the VMs' notices show
while it runs, each comparison becomes a chart as soon as it is measured, and **Cancel** stops
it between measurements. :meth:`PerfView.run` does what **Measure** does; a script waits with
``view.runner.wait(seconds)`` and reads ``view.comparisons`` or :meth:`PerfView.summary`.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as w

from workbench.perf.compare import Comparison
from workbench.perf.suite import Plan, WorkDir, run_plan
from workbench.widgets.log import LogPane
from workbench.widgets.perf_chart import caption, chart_png
from workbench.widgets.progress_view import ProgressView
from workbench.widgets.style import CSS, esc, verdict_badge
from workbench.widgets.tasks import TaskEvent, TaskRunner

if TYPE_CHECKING:
    from workbench.widgets.tasks import Reporter

NO_WORK_DIR = "not measured"


class PerfView(w.VBox):  # type: ignore[misc]
    """Controls for a :class:`Plan`, a **Measure** and a **Cancel** button, progress, a log and
    one chart per comparison measured."""

    def __init__(self, plan: Plan | str | Path) -> None:
        if not isinstance(plan, Plan):
            plan = Plan(Path(plan))
        self.example = plan.example
        self.read_mib = plan.read_mib
        self.runner = TaskRunner()
        self.comparisons: list[Comparison] = []
        self.status_text = ""

        wide = {"description_width": "initial"}
        self.rounds = w.IntSlider(plan.rounds, min=1, max=9, description="VM rounds", style=wide)
        self.build_rounds = w.IntSlider(
            plan.build_rounds, min=1, max=5, description="build rounds", style=wide
        )
        self.start = w.Checkbox(plan.start, description="cold vs warm start, 9p msize (tiny)")
        self.first_build = w.Checkbox(
            plan.first_build, description="new project: saved base vs scratch (debian-12)"
        )
        self.work_dir = w.ToggleButtons(
            options=[*(place.value for place in WorkDir), NO_WORK_DIR],
            value=plan.work_dir.value if plan.work_dir else NO_WORK_DIR,
            description="parts on",
            style={"button_width": "auto"},
        )
        for box in (self.start, self.first_build):
            box.indent = False
            box.layout.width = "auto"
        self.measure_button = w.Button(description="Measure", icon="play", button_style="primary")
        self.cancel_button = w.Button(description="Cancel", icon="times")
        self.progress = ProgressView()
        self.status = w.HTML()
        self.status.add_class("wb-status")
        self.log_pane = LogPane(max_lines=400, height="8em")
        self.charts = w.VBox()
        self.charts.add_class("wb-perf-charts")
        super().__init__(
            [
                w.HBox([self.rounds, self.build_rounds]),
                w.HBox([self.start, self.first_build]),
                self.work_dir,
                w.HBox([self.measure_button, self.cancel_button, self.progress]),
                self.status,
                self.log_pane,
                self.charts,
            ]
        )
        self.measure_button.on_click(lambda _b: self.run())
        self.cancel_button.on_click(lambda _b: self.runner.cancel())
        self.runner.on_event(self._on_event)

    def plan(self) -> Plan:
        """The plan the controls describe."""
        chosen = self.work_dir.value
        return Plan(
            self.example,
            rounds=self.rounds.value,
            build_rounds=self.build_rounds.value,
            read_mib=self.read_mib,
            start=self.start.value,
            first_build=self.first_build.value,
            work_dir=None if chosen == NO_WORK_DIR else WorkDir(chosen),
        )

    def run(self) -> None:
        """Measure what the controls ask, in the background; the charts replace the last run's."""
        if self.runner.running:
            self._say(False, f"{self.runner.message} is still running: wait or cancel it first")
            return
        plan = self.plan()
        self.comparisons.clear()
        self.charts.children = ()
        self.log_pane.clear()
        self._say(True, "measuring")

        def job(reporter: Reporter) -> list[Comparison]:
            return run_plan(plan, reporter)

        self.runner.start("measure", job)

    def _on_event(self, event: TaskEvent) -> None:
        if event.kind == "log":
            self.log_pane.append(event.payload)
        elif event.kind == "progress":
            self.progress.update(event.payload)
        elif event.kind == "item" and isinstance(event.payload, Comparison):
            self.comparisons.append(event.payload)
            self.charts.children = (*self.charts.children, chart(event.payload))
        elif event.kind == "finished":
            state = self.runner.state
            count = f"{len(self.comparisons)} comparisons measured"
            self._say(state == "done", f"{state}: {count}" + _why(state, self.runner.message))

    def _say(self, ok: bool, text: str) -> None:
        self.status.value = verdict_badge(ok, text)
        self.status_text = text

    def summary(self) -> str:
        """The run's outcome and one line per comparison (title, figures, where), plain text."""
        return "\n".join([self.status_text, *(c.headline() for c in self.comparisons)])


def _why(state: str, message: str) -> str:
    return f" ({message})" if state == "failed" else ""


def chart(comparison: Comparison) -> w.VBox:
    """A comparison's chart (PNG) under its caption (what was measured, on which accelerator)."""
    lines = caption(comparison).split("\n")
    text = "<br>".join(
        f"<b>{esc(line)}</b>" if n == 0 else esc(line) for n, line in enumerate(lines)
    )
    png = chart_png(comparison)
    alt = esc(" ".join(lines))
    image = w.HTML(
        f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
    )
    box = w.VBox([w.HTML(CSS + f'<div class="wb-perf-caption">{text}</div>'), image])
    box.add_class("wb-perf-chart")
    return box
