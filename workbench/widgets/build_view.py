"""The build VM (notebook 03): launch, lifecycle steps, a command box, prime/, snapshots, stop.

The view renders a :class:`~workbench.lifecycle.controller.BuildController` and forwards its
buttons to it; every button is a method too (:meth:`BuildView.launch`, :meth:`~BuildView.step`,
:meth:`~BuildView.clean_part`, :meth:`~BuildView.run_command`, :meth:`~BuildView.browse`,
:meth:`~BuildView.save_snapshot`, :meth:`~BuildView.restore_snapshot`, :meth:`~BuildView.stop`,
:meth:`~BuildView.clean`). Each runs the controller's action in the background on one
:class:`~workbench.widgets.tasks.TaskRunner` (one task at a time: they all use the same VM), with
the runner's reporter as its feedback. Workers only queue events; the panes, the timeline and the
status change on the kernel thread. What a press means (a step press is one build up to that
step, a part's clean menu one ``workbench clean PART --step STEP``), how cancelling works, which
images can run the steps, and when the VM stops by itself are the controller's (see
:mod:`workbench.lifecycle.controller`); the keep-alive line says when and why, read again after
every task.

What it builds is chosen in its :class:`~workbench.widgets.build_chooser.BuildChooser` (project,
parts, last step, build-on/build-for, templates, export-prime: :meth:`BuildView.choose`, or
:meth:`BuildView.use` with another controller). When a step fails, the
:class:`~workbench.widgets.debug_view.DebugView` under the build log opens on the failing part
(:mod:`workbench.lifecycle.debug`); :meth:`BuildView.debug_part` opens it on any part and step.

Cancelling: a step stops at once and is not recorded, so the next press redoes it; a launch stops
the VM once it is up; a command stops being waited for. Snapshots, stop and clean run to the end.
On an image that cannot run craft-parts (``tiny``) the step buttons are disabled and say why.
"""

from __future__ import annotations

import html
import os
import shlex
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import ipywidgets as w
import traitlets

from workbench.errors import UsageError, format_error
from workbench.lifecycle.build_project import copy_example
from workbench.lifecycle.choices import BuildChoices
from workbench.lifecycle.controller import BuildController, PrimeContents, SnapshotTiming
from workbench.lifecycle.debug import PartDebugger
from workbench.lifecycle.events import Event, Timing
from workbench.lifecycle.steps import CLEAN_STEP_NAMES, STEP_NAMES, Step
from workbench.templates.registry import env_template_dirs
from workbench.widgets.build_chooser import BuildChooser
from workbench.widgets.debug_view import DebugView
from workbench.widgets.log import LogPane
from workbench.widgets.prime_browser import PrimeBrowser
from workbench.widgets.progress_view import ProgressView
from workbench.widgets.step_spans import StepSpans
from workbench.widgets.style import CSS, table, verdict_badge
from workbench.widgets.tasks import Reporter, TaskEvent, TaskRunner
from workbench.widgets.timeline import Timeline

if TYPE_CHECKING:
    from workbench.lifecycle.options import BuildOptions, BuildResult
    from workbench.vm import Completed, StatusReport

T = TypeVar("T")
CLEAN_CHOICES = (("clean…", ""), *((f"{step} and after", step) for step in CLEAN_STEP_NAMES))
"""A part's clean menu: craft-parts cleans a step and every step after it."""


class BuildView(w.VBox):  # type: ignore[misc]
    """A project's build VM and its lifecycle, driven by buttons or by the same methods.

    ``controller``: the project's :class:`BuildController`, or the project's directory for one
    with its defaults.
    """

    vm_status = traitlets.Unicode("absent")

    def __init__(self, controller: BuildController | str | Path) -> None:
        if not isinstance(controller, BuildController):
            controller = BuildController(controller)
        self.controller = controller
        self.runner = TaskRunner()
        self.spans = StepSpans()
        self.times: list[SnapshotTiming] = []
        self.last = ""
        self.status_text = ""
        self._target = ""
        self._on_done: Callable[[Any], str] | None = None

        self.launch_button = w.Button(description="Launch", icon="play", button_style="primary")
        self.stop_button = w.Button(description="Stop", icon="stop")
        self.clean_button = w.Button(description="Clean", icon="trash", button_style="danger")
        self.cancel_button = w.Button(description="Cancel", icon="times")
        self.status = w.HTML()
        self.status.add_class("wb-status")
        self.keepalive = w.HTML()
        self.keepalive_text = ""
        self.progress = ProgressView()
        self.boot_log = LogPane(max_lines=3000)
        self.step_buttons = {name: w.Button(description=name) for name in STEP_NAMES}
        self.step_note = w.HTML()
        self.clean_menus: dict[str, w.Dropdown] = {}
        self.clean_box = w.HBox()
        self.build_log = LogPane(max_lines=500)
        self.timeline = Timeline()
        self.timing_view = w.HTML()
        self.timing: Timing | None = None
        self.command = w.Text("uname -sr", description="command", continuous_update=False)
        self.run_button = w.Button(description="Run", icon="terminal")
        self.command_output = LogPane(max_lines=300, height="8em")
        self.browse_button = w.Button(description="Browse prime/", icon="folder-open")
        self.browser = PrimeBrowser()
        self.snapshot_name = w.Text("notebook", description="snapshot")
        self.save_button = w.Button(description="Save", icon="camera")
        self.restore_button = w.Button(description="Restore", icon="undo")
        self.times_view = w.HTML()
        self.debug_part_menu = w.Dropdown(options=(), description="part")
        self.debug_step_menu = w.Dropdown(
            options=CLEAN_STEP_NAMES, value="build", description="step"
        )
        self.debug_button = w.Button(description="Debug", icon="bug")
        self.debug = DebugView(self._start)
        self.chooser = BuildChooser(_choices_of(controller), self._chosen)
        self._pane = self.boot_log

        super().__init__(self._children())
        self._bind()
        self._show_controller()

    def _children(self) -> list[w.Widget]:
        def heading(text: str) -> w.HTML:
            return w.HTML(f"<b>{text}</b>")

        return [
            heading("What to build"),
            self.chooser,
            w.HBox([self.launch_button, self.stop_button, self.clean_button]),
            w.HBox([self.cancel_button, self.progress]),
            self.status,
            self.keepalive,
            heading("Boot log (serial console)"),
            self.boot_log,
            heading("Lifecycle steps"),
            w.HBox(list(self.step_buttons.values())),
            self.step_note,
            self.clean_box,
            self.timeline,
            self.timing_view,
            self.build_log,
            heading("Debug a part in place"),
            w.HBox([self.debug_part_menu, self.debug_step_menu, self.debug_button]),
            self.debug,
            heading("Command in the VM"),
            w.HBox([self.command, self.run_button]),
            self.command_output,
            heading("prime/ and the packed snap.yaml"),
            self.browse_button,
            self.browser,
            heading("Snapshots"),
            w.HBox([self.snapshot_name, self.save_button, self.restore_button]),
            self.times_view,
        ]

    def _bind(self) -> None:
        self.launch_button.on_click(lambda _b: self.launch())
        self.stop_button.on_click(lambda _b: self.stop())
        self.clean_button.on_click(lambda _b: self.clean())
        self.cancel_button.on_click(lambda _b: self.runner.cancel())
        for name, button in self.step_buttons.items():
            button.on_click(lambda _b, name=name: self.step(name))
        self.debug_button.on_click(
            lambda _b: self.debug_part(self.debug_part_menu.value, self.debug_step_menu.value)
        )
        self.run_button.on_click(lambda _b: self.run_command())
        self.browse_button.on_click(lambda _b: self.browse())
        self.save_button.on_click(lambda _b: self.save_snapshot())
        self.restore_button.on_click(lambda _b: self.restore_snapshot())
        self.runner.on_event(self._on_event)

    @classmethod
    def from_example(
        cls,
        example: str | Path,
        options: BuildOptions | None = None,
        *,
        workdir: Path | None = None,
    ) -> BuildView:
        """A view of a fresh copy of ``example`` (see :func:`~workbench.lifecycle.copy_example`)
        built with ``options``."""
        return cls(BuildController(copy_example(example, workdir=workdir), options))

    # -- what to build (kernel thread) -----------------------------------------------------------

    def use(self, controller: BuildController) -> None:
        """Drive ``controller`` from now on (another project, parts, step, architectures...)."""
        if self.runner.running:
            self._say(False, f"{self.runner.message} is still running: wait or cancel it first")
            return
        self.controller = controller
        self.spans.clear()
        self.timeline.clear()
        self.build_log.clear()
        self._show_controller()

    def choose(self, choices: BuildChoices, *, build: bool = False) -> None:
        """Build what ``choices`` say, with this view's other settings (image, memory...), the
        mapping ``workbench build`` uses; ``build``: run up to the chosen last step now."""
        c = self.controller
        options = choices.options(c.options)
        self.use(
            BuildController(
                choices.project,
                options,
                stop_after=c.stop_after,
                instances=c.instances,
                timeouts=c.timeouts,
            )
        )
        if build and self.controller is not c:
            self.step(choices.step.label)

    def _chosen(self, choices: BuildChoices, build: bool) -> None:
        try:
            self.choose(choices, build=build)
        except UsageError as err:
            self._refuse("choose", err)

    def _show_controller(self) -> None:
        controller = self.controller
        refusal = controller.refusal
        for button in self.step_buttons.values():
            button.disabled = refusal is not None
        self.step_note.value = verdict_badge(False, format_error(refusal)) if refusal else ""
        parts = controller.part_names()
        self.clean_menus = {
            part: w.Dropdown(options=CLEAN_CHOICES, value="", description=part) for part in parts
        }
        for part, menu in self.clean_menus.items():
            menu.observe(lambda change, part=part: self._clean_chosen(part, change), "value")
        self.clean_box.children = list(self.clean_menus.values())
        self.debug_part_menu.options = parts
        self.debug_part_menu.value = parts[0] if parts else None
        self.debug_button.disabled = refusal is not None
        self.refresh()

    def debug_part(self, part: str, step: str = "build") -> None:
        """Open the debug panel on ``part``'s ``step`` (to inspect what it produced, or after it
        failed)."""
        try:
            self._allowed_debug(step)
            debugger = PartDebugger(self.controller, part, Step.parse(step))
        except UsageError as err:
            self._refuse("debug", err)
            return
        self.debug.show(debugger)

    def _allowed_debug(self, step: str) -> None:
        self.controller.clean_step(step)  # the steps a part has; refused where steps cannot run

    def _debug_last_failure(self) -> None:
        debugger = PartDebugger.from_last_failure(self.controller)
        if debugger is not None:
            self.debug.show(debugger)

    # -- buttons (kernel thread) -----------------------------------------------------------------

    def _start(
        self,
        name: str,
        job: Callable[[Reporter], T],
        pane: LogPane,
        on_done: Callable[[T], str],
    ) -> None:
        if self.runner.running:
            self._say(False, f"{self.runner.message} is still running: wait or cancel it first")
            return
        self._pane = pane
        self._on_done = on_done
        self.last = name
        self._say(True, f"{name}: running")
        self.runner.start(name, job)

    def _refuse(self, name: str, err: UsageError) -> None:
        self.last = name
        self._say(False, f"{name}: refused: {format_error(err)}")

    def launch(self) -> None:
        """Boot the VM (or warm-start it): progress bar and serial console live."""
        self.boot_log.clear()
        self._start("launch", self.controller.launch, self.boot_log, _launched)

    def step(self, name: str) -> None:
        """Run the lifecycle up to step ``name`` (pull, build, stage, prime or pack)."""
        try:
            step = self.controller.build_step(name)
        except UsageError as err:
            self._refuse(name, err)
            return
        self._target = name
        self.build_log.clear()
        job = partial(self.controller.build, step)
        self._start(name, job, self.build_log, partial(_built, name))

    def clean_part(self, part: str, step: str = "pull") -> None:
        """Undo ``step`` (default: every step) and the steps after it of ``part`` in the VM; the
        next step press redoes only that (``workbench clean PART --step STEP``)."""
        try:
            target = self.controller.clean_step(step)
        except UsageError as err:
            self._refuse(f"clean {part}", err)
            return
        self.build_log.clear()
        job = partial(self.controller.clean_part, part, target)
        self._start(f"clean {part}", job, self.build_log, partial(_cleaned, part, step))

    def _clean_chosen(self, part: str, change: dict[str, Any]) -> None:
        if change["new"]:
            self.clean_menus[part].value = ""  # a menu: back to its title
            self.clean_part(part, change["new"])

    def run_command(self, command: str | None = None) -> None:
        """Run ``command`` (default: the command box) in the VM as root; no shell unless you
        write ``sh -c '...'``."""
        text = self.command.value if command is None else command
        try:
            argv = shlex.split(text)
        except ValueError as err:
            self._say(False, f"command: {err}")
            return
        if not argv:
            self._say(False, "command: nothing to run")
            return
        self.command_output.clear()
        self.command_output.append(f"$ {shlex.join(argv)}")
        job = partial(self.controller.run, argv)
        self._start("command", job, self.command_output, self._command_done)

    def browse(self) -> None:
        """List prime/ in the VM and read meta/snap.yaml from the packed snap."""
        self._start("browse", self.controller.browse, self.build_log, self._show_prime)

    def save_snapshot(self) -> None:
        """Save the VM's state under the snapshot name; the time it took is shown."""
        job = partial(self.controller.snapshot, self.snapshot_name.value)
        self._start("snapshot save", job, self.boot_log, self._record_time)

    def restore_snapshot(self) -> None:
        """Bring the VM back to the named snapshot; the time it took is shown."""
        job = partial(self.controller.restore, self.snapshot_name.value)
        self._start("snapshot restore", job, self.boot_log, self._record_time)

    def stop(self) -> None:
        """Shut the VM down (powerdown, then quit, then kill)."""
        self._start("stop", self.controller.stop, self.boot_log, "stopped ({})".format)

    def clean(self) -> None:
        """Stop the VM and delete its instance (disk, keys, logs); clears the views."""
        self._start("clean", self.controller.clean, self.boot_log, self._forget)

    # -- events (kernel thread) ------------------------------------------------------------------

    def _on_event(self, event: TaskEvent) -> None:
        if event.kind == "log":
            self._pane.append(event.payload)
        elif event.kind == "progress":
            self.progress.update(event.payload)
        elif event.kind == "item" and isinstance(event.payload, Event):
            self._show_build_event(event.payload)
        elif event.kind == "finished":
            self._finished()

    def _show_build_event(self, event: Event) -> None:
        self.build_log.append(event.line())
        for span in self.spans.add(event, self._target):
            self.timeline.update(span)
        if isinstance(event.payload, Timing):
            self._show_timing(event.payload)

    def _show_timing(self, timing: Timing) -> None:
        """The session's time per phase, under the timeline (parts of an action indented)."""
        self.timing = timing
        rows = [
            (("\u2003" if p.within else "") + p.name, f"{p.seconds:.1f} s", p.detail or "")
            for p in timing.phases
        ]
        rows.append(("total", f"{timing.total:.1f} s", ""))
        self.timing_view.value = CSS + table(("phase", "took", "why"), rows)

    def _finished(self) -> None:
        state = self.runner.state
        said = self._on_done
        text = said(self.runner.result) if state == "done" and said else self.runner.message
        if state == "cancelled":
            text = self._cancelled_note()
        if state != "done":  # a session that ended without its end event
            for span in self.spans.end_running(time.time(), "failed"):
                self.timeline.update(span)
        self._say(state == "done", f"{self.last}: {state}: {text}")
        if state == "failed" and self.last in (*STEP_NAMES, "retry"):
            self._debug_last_failure()
        self.refresh()

    def _cancelled_note(self) -> str:
        if self.last in STEP_NAMES:
            return "the step was stopped and not recorded; the VM stays usable, press it again"
        if self.last == "launch":
            return "the VM was stopped once it was up"
        return "stopped waiting (the VM may still be finishing it)"

    def _command_done(self, result: Completed) -> str:
        said = f"exit status {result.exit_status}"
        self.command_output.append(said)
        return said

    def _record_time(self, timing: SnapshotTiming) -> str:
        self.times.append(timing)
        rows = [(t.action, t.name, f"{t.seconds:.2f} s") for t in self.times]
        self.times_view.value = CSS + table(("snapshot", "name", "took"), rows)
        return f"{timing.action} {timing.name} took {timing.seconds:.2f} s"

    def _show_prime(self, found: PrimeContents) -> str:
        note = found.missing
        self.browser.show(found.entries, found.snap_yaml, note)
        return f"{len(found.entries)} paths in prime/" + (f"; {note}" if note else "")

    def _forget(self, _result: None) -> str:
        self.spans.clear()
        self.timeline.clear()
        self.timing_view.value = ""
        self.build_log.clear()
        self.times.clear()
        self.times_view.value = ""
        self.browser.show([], "", note="")
        return "instance removed"

    def _say(self, ok: bool, text: str) -> None:
        self.status.value = verdict_badge(ok, text)
        self.status_text = text

    def refresh(self) -> None:
        """Read the instance's status from its directory (any process may have changed it)."""
        state = self.controller.state()
        self.vm_status = str(state.status)
        self.keepalive_text = f"keep-alive: {state.stops}" if state.stops else ""
        self.keepalive.value = html.escape(self.keepalive_text)

    def summary(self) -> str:
        """The VM's status and the last task's outcome, as plain lines."""
        lines = [f"vm: {self.vm_status}", self.keepalive_text, self.status_text]
        return "\n".join(line for line in lines if line)


def _choices_of(controller: BuildController) -> BuildChoices:
    """The choices ``controller``'s options stand for (the chooser's first values)."""
    o = controller.options
    from_env = env_template_dirs(os.environ)
    return BuildChoices(
        project=controller.root,
        parts=o.parts,
        step=o.step,
        build_on=o.build_on,
        build_for=o.build_for,
        templates=tuple(path for path in o.templates if path not in from_env),
        export_prime=o.export_prime,
    )


def _launched(report: StatusReport) -> str:
    return f"up on 127.0.0.1:{report.port} ({report.image}, {report.accel})"


def _built(step: str, result: BuildResult) -> str:
    packed = f": {result.snap.name}" if result.snap else ""
    return f"{step} done in {result.elapsed:.1f} s{packed}"


def _cleaned(part: str, step: str, result: BuildResult) -> str:
    return f"cleaned {step} and the steps after it of {part} in {result.elapsed:.1f} s"
