"""The build VM (notebook 03): launch, lifecycle steps, a command box, prime/, snapshots, stop.

Every button is a method too (:meth:`BuildView.launch`, :meth:`~BuildView.step`,
:meth:`~BuildView.clean_part`, :meth:`~BuildView.run_command`, :meth:`~BuildView.browse`,
:meth:`~BuildView.save_snapshot`, :meth:`~BuildView.restore_snapshot`, :meth:`~BuildView.stop`,
:meth:`~BuildView.clean`). Each
runs in the background on one :class:`~workbench.widgets.tasks.TaskRunner` (one task at a time:
they all use the same VM) and talks to the VM only through the public APIs:
:class:`workbench.vm.Instance` for the VM, :class:`workbench.lifecycle.Session` for the steps
(each press is one ``workbench build --step STEP --stop-after IDLE``: steps already done are
skipped), and each part's clean menu is one ``workbench clean PART --step STEP``. Workers only
queue events; the panes, the timeline and the status change on the kernel thread.

The VM stops by itself (state saved) once unused for ``stop_after`` seconds (default:
``WORKBENCH_STOP_AFTER_IDLE``, else 30 min), also when the kernel dies; ``keep=True`` keeps it up
after the steps. The keep-alive line says when and why; it is read again after every task.

Cancelling: a step stops at once: the guest runner and its child processes (make, gcc...),
found through /proc, are killed over a second SSH connection, and the session stops at its next
event. craft-parts records a step only when it ends, so the VM stays usable and the next press
redoes that step (a host action in progress, e.g. the boot, ends first). A launch cannot be
interrupted inside the boot: cancelling it stops the VM once it is up. A command stops being
waited for, but keeps running in the VM until it ends. Snapshots, stop and clean are short and
run to the end.

The ``tiny`` image has no python3, so craft-parts cannot run in it: with it the step buttons are
disabled and say so (the VM buttons all work).
"""

from __future__ import annotations

import html
import os
import shlex
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import traitlets

from workbench import dirs
from workbench.errors import BuildError, UsageError, WorkbenchError, format_error
from workbench.lifecycle.events import Event
from workbench.lifecycle.safetext import LineSplitter
from workbench.vm import watchdog
from workbench.widgets.follow import following
from workbench.widgets.log import LogPane
from workbench.widgets.prime_browser import (
    Entry,
    PrimeBrowser,
    listing_command,
    packed_snap_yaml,
    parse_listing,
)
from workbench.widgets.progress_view import ProgressView
from workbench.widgets.step_spans import StepSpans
from workbench.widgets.style import CSS, table, verdict_badge
from workbench.widgets.tasks import Cancelled, Reporter, TaskEvent, TaskRunner
from workbench.widgets.timeline import Timeline

if TYPE_CHECKING:
    from workbench.lifecycle import BuildOptions, Session
    from workbench.vm import Instance, Timeouts

STEPS = ("pull", "build", "stage", "prime", "pack")
CLEAN_CHOICES = (("clean…", ""), *((f"{step} and after", step) for step in STEPS[:-1]))
"""A part's clean menu: craft-parts cleans a step and every step after it."""
NO_PYTHON_IMAGES = frozenset({"tiny"})
"""Images without python3, where craft-parts cannot run."""
COMMAND_TIMEOUT = 600.0
RUNNER_PATTERN = "[w]orkbench.lifecycle.guest"
"""Matches the guest runner's command line, but not the command that looks for it."""
STOP_RUNNER = f"""
runners=$(for d in /proc/[0-9]*; do
  tr '\\0' ' ' 2>/dev/null < $d/cmdline | grep -q '{RUNNER_PATTERN}' && echo ${{d#/proc/}}
done)
tree=$runners; new=$runners
while [ -n "$new" ]; do
  next=
  for stat in /proc/[0-9]*/stat; do
    read -r pid comm state ppid rest 2>/dev/null < $stat || continue
    for p in $new; do [ "$ppid" = "$p" ] && next="$next $pid"; done
  done
  tree="$tree $next"; new=$next
done
[ -z "$runners" ] || kill -TERM $tree 2>/dev/null
echo $runners
"""
"""Kills every guest runner and its descendants (make, gcc...); prints the runners' PIDs."""


def stop_runner_command() -> list[str]:
    """The guest command running :data:`STOP_RUNNER`."""
    return ["sh", "-c", STOP_RUNNER]


def copy_example(example: str | Path, *, workdir: Path | None = None) -> Path:
    """A copy of the project ``example`` to build in (``cache_dir()/projects/NAME`` by default;
    the example's files are refreshed, build results kept), so nothing is built in the repo."""
    source = Path(example).resolve()
    if not source.is_dir():
        raise UsageError(f"{source}: no such example project")
    target = (workdir or dirs.cache_dir() / "projects") / source.name
    shutil.copytree(source, target, dirs_exist_ok=True)
    return target


class BuildView(w.VBox):  # type: ignore[misc]
    """A project's build VM and its lifecycle, driven by buttons or by the same methods.

    The VM is the one ``workbench build`` uses for the project: ``image``, ``memory`` and ``cpus``
    default as there (debian-12; the project's hints, else 2G and 2), with the same shares.
    """

    vm_status = traitlets.Unicode("absent")

    def __init__(
        self,
        project: str | Path,
        *,
        image: str | None = None,
        memory: str | None = None,
        cpus: int | None = None,
        timeouts: Timeouts | None = None,
        instances: Path | None = None,
        stop_after: float | None = None,
        keep: bool = False,
    ) -> None:
        from workbench.lifecycle import BuildOptions

        self.project = Path(project).resolve()
        self.image = image or BuildOptions().image
        self.memory = memory
        self.cpus = cpus
        self.timeouts = timeouts
        self.instances = instances
        self.stop_after = watchdog.default_idle(os.environ) if stop_after is None else stop_after
        self.keep = keep
        self.can_build = self.image not in NO_PYTHON_IMAGES
        self.runner = TaskRunner()
        self.spans = StepSpans()
        self.times: list[tuple[str, str, float]] = []
        self.last = ""
        self.status_text = ""
        self._target = ""
        self._on_done: Callable[[Any], str | None] | None = None
        self._instance_object: Instance | None = None

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
        self.step_buttons = {name: w.Button(description=name) for name in STEPS}
        self.step_note = w.HTML()
        self.clean_menus = {
            part: w.Dropdown(options=CLEAN_CHOICES, value="", description=part)
            for part in self._part_names()
        }
        self.build_log = LogPane(max_lines=500)
        self.timeline = Timeline()
        self.command = w.Text("uname -sr", description="command", continuous_update=False)
        self.run_button = w.Button(description="Run", icon="terminal")
        self.command_output = LogPane(max_lines=300, height="8em")
        self.browse_button = w.Button(description="Browse prime/", icon="folder-open")
        self.browser = PrimeBrowser()
        self.snapshot_name = w.Text("notebook", description="snapshot")
        self.save_button = w.Button(description="Save", icon="camera")
        self.restore_button = w.Button(description="Restore", icon="undo")
        self.times_view = w.HTML()
        self._pane = self.boot_log
        if not self.can_build:
            for button in self.step_buttons.values():
                button.disabled = True
            self.step_note.value = verdict_badge(False, self._no_steps())

        super().__init__(self._children())
        self._bind()
        self.refresh()

    def _children(self) -> list[w.Widget]:
        def heading(text: str) -> w.HTML:
            return w.HTML(f"<b>{text}</b>")

        return [
            w.HBox([self.launch_button, self.stop_button, self.clean_button]),
            w.HBox([self.cancel_button, self.progress]),
            self.status,
            self.keepalive,
            heading("Boot log (serial console)"),
            self.boot_log,
            heading("Lifecycle steps"),
            w.HBox(list(self.step_buttons.values())),
            self.step_note,
            w.HBox(list(self.clean_menus.values())),
            self.timeline,
            self.build_log,
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
        for part, menu in self.clean_menus.items():
            menu.observe(lambda change, part=part: self._clean_chosen(part, change), "value")
        self.run_button.on_click(lambda _b: self.run_command())
        self.browse_button.on_click(lambda _b: self.browse())
        self.save_button.on_click(lambda _b: self.save_snapshot())
        self.restore_button.on_click(lambda _b: self.restore_snapshot())
        self.runner.on_event(self._on_event)

    @classmethod
    def from_example(
        cls, example: str | Path, *, workdir: Path | None = None, **kwargs: Any
    ) -> BuildView:
        """A view of a fresh copy of ``example`` (see :func:`copy_example`)."""
        return cls(copy_example(example, workdir=workdir), **kwargs)

    # -- the VM and the lifecycle, from the worker thread ---------------------------------------

    def _vm(self, reporter: Reporter) -> Instance:
        """The view's instance (one SSH connection for every task), reporting to ``reporter``."""
        if self._instance_object is None:
            self._instance_object = self._instance(reporter)
        self._instance_object.listener = reporter.progress
        self._instance_object.notify = reporter.log
        return self._instance_object

    def _instance(self, reporter: Reporter) -> Instance:
        """The project's instance as a build session makes it (same shares, memory, disk)."""
        from workbench.lifecycle import Session

        session = Session(self.project, self._options("pack"), instances=self.instances)
        instance = session.instance
        instance.listener = reporter.progress
        if self.timeouts is not None:
            instance.timeouts = self.timeouts
        return instance

    def _part_names(self) -> list[str]:
        """The project's parts, for the clean menus (none when the project does not load)."""
        from workbench.lifecycle.project import load

        try:
            return list(load(self.project).parts)
        except WorkbenchError:
            return []

    def _options(self, step: str, parts: tuple[str, ...] = ()) -> BuildOptions:
        from workbench.lifecycle import BuildOptions, Step
        from workbench.lifecycle.keepalive import Policy

        return BuildOptions(
            step=Step.parse(step),
            parts=parts,
            image=self.image,
            memory=self.memory,
            cpus=self.cpus,
            keep=self.keep,
            policy=Policy.uniform(self.stop_after),
        )

    def _session(self, step: str, reporter: Reporter, parts: tuple[str, ...] = ()) -> Session:
        from workbench.lifecycle import Session

        def forward(event: Event) -> None:
            reporter.item(event)
            reporter.check()

        return Session(
            self.project,
            self._options(step, parts),
            listeners=(forward,),
            instances=self.instances,
        )

    def _launch_job(self, reporter: Reporter) -> str:
        instance = self._vm(reporter)
        with following(instance.dir.serial_log, reporter.log):
            instance.up(stop_after=self.stop_after, source="notebook")
        if reporter.cancelled:
            instance.down()
            raise Cancelled
        report = instance.status()
        return f"up on 127.0.0.1:{report.port} ({report.image}, {report.accel})"

    def _step_job(self, step: str, reporter: Reporter) -> str:
        session = self._session(step, reporter)
        try:
            with self._killing_runner_on_cancel(reporter):
                result = session.run()
        except BuildError:
            if reporter.cancelled:
                raise Cancelled from None
            raise
        packed = f": {result.snap.name}" if result.snap else ""
        return f"{step} done in {result.elapsed:.1f} s{packed}"

    def _clean_part_job(self, part: str, step: str, reporter: Reporter) -> str:
        from workbench.lifecycle import Step

        result = self._session(step, reporter, (part,)).clean_parts(Step.parse(step))
        return f"cleaned {step} and the steps after it of {part} in {result.elapsed:.1f} s"

    @contextmanager
    def _killing_runner_on_cancel(self, reporter: Reporter) -> Iterator[None]:
        """While the block runs, a cancel kills the guest runner (its SSH output then ends)."""
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.2):
                if reporter.cancelled:
                    self._kill_runner(reporter)
                    return

        thread = threading.Thread(target=watch, name="workbench-cancel-watch", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def _kill_runner(self, reporter: Reporter) -> None:
        from workbench.vm import Status

        instance = self._instance(reporter)
        try:
            if instance.dir.status() is Status.RUNNING:
                killed = instance.exec(stop_runner_command(), timeout=60).stdout.split()
                reporter.log(f"cancel: stopped the guest runner {' '.join(killed) or '(none)'}")
        except WorkbenchError as err:
            reporter.log(f"cancel: could not stop the guest runner: {format_error(err)}")
        finally:
            instance.close()

    def _command_job(self, argv: list[str], reporter: Reporter) -> str:
        def sink(text: str) -> None:
            lines(text)
            reporter.check()

        lines = LineSplitter(reporter.log)
        result = self._vm(reporter).exec(
            argv, timeout=COMMAND_TIMEOUT, on_stdout=sink, on_stderr=sink
        )
        lines.flush()
        return f"exit status {result.exit_status}"

    def _browse_job(self, reporter: Reporter) -> tuple[list[Entry], str, str]:
        from workbench.lifecycle import Session

        session = Session(self.project, self._options("pack"), instances=self.instances)
        prime = f"{session.work_dir}/prime"
        listing = self._vm(reporter).exec(listing_command(prime), timeout=120)
        entries = parse_listing(listing.stdout) if listing.exit_status == 0 else []
        snap = session.project.root / session.snap_file
        text = packed_snap_yaml(snap) if snap.is_file() else ""
        notes = [] if entries else [f"no {prime} in the VM yet (run prime)"]
        notes += [] if text else [f"no {snap.name} yet (run pack)"]
        return entries, text, "; ".join(notes)

    def _timed_job(self, what: str, name: str, reporter: Reporter) -> tuple[str, str, float]:
        instance = self._vm(reporter)
        started = time.perf_counter()
        if what == "save":
            instance.snapshot(name)
        else:
            instance.load_snapshot(name)
        return what, name, time.perf_counter() - started

    def _stop_job(self, reporter: Reporter) -> str:
        return f"stopped ({self._vm(reporter).down()})"

    def _clean_job(self, reporter: Reporter) -> str:
        self._vm(reporter).clean()
        return "instance removed"

    # -- buttons (kernel thread) -----------------------------------------------------------------

    def _no_steps(self) -> str:
        return (
            f"the {self.image} image has no python3, so craft-parts cannot run in it: "
            "steps need debian-12"
        )

    def _start(
        self,
        name: str,
        job: Callable[[Reporter], Any],
        pane: LogPane,
        on_done: Callable[[Any], str | None] | None = None,
    ) -> None:
        if self.runner.running:
            self._say(False, f"{self.runner.message} is still running: wait or cancel it first")
            return
        self._pane = pane
        self._on_done = on_done
        self.last = name
        self._say(True, f"{name}: running")
        self.runner.start(name, job)

    def launch(self) -> None:
        """Boot the VM (or warm-start it): progress bar and serial console live."""
        self.boot_log.clear()
        self._start("launch", self._launch_job, self.boot_log)

    def step(self, name: str) -> None:
        """Run the lifecycle up to step ``name`` (pull, build, stage, prime or pack)."""
        if name not in STEPS:
            self._say(False, f"unknown step {name!r}: use one of {', '.join(STEPS)}")
            return
        if not self.can_build:
            self.last = name
            self._say(False, f"{name}: refused: {self._no_steps()}")
            return
        self._target = name
        self.build_log.clear()
        self._start(name, lambda reporter: self._step_job(name, reporter), self.build_log)

    def clean_part(self, part: str, step: str = "pull") -> None:
        """Undo ``step`` (default: every step) and the steps after it of ``part`` in the VM; the
        next step press redoes only that (``workbench clean PART --step STEP``)."""
        if step not in STEPS[:-1]:
            self._say(False, f"unknown step {step!r}: use one of {', '.join(STEPS[:-1])}")
            return
        if not self.can_build:
            self.last = f"clean {part}"
            self._say(False, f"clean {part}: refused: {self._no_steps()}")
            return
        self.build_log.clear()
        job = partial(self._clean_part_job, part, step)
        self._start(f"clean {part}", job, self.build_log)

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
        self._start(
            "command",
            lambda reporter: self._command_job(argv, reporter),
            self.command_output,
            self.command_output.append,
        )

    def browse(self) -> None:
        """List prime/ in the VM and read meta/snap.yaml from the packed snap."""
        self._start("browse", self._browse_job, self.build_log, self._show_prime)

    def save_snapshot(self) -> None:
        """Save the VM's state under the snapshot name; the time it took is shown."""
        self._snapshot("save")

    def restore_snapshot(self) -> None:
        """Bring the VM back to the named snapshot; the time it took is shown."""
        self._snapshot("restore")

    def _snapshot(self, what: str) -> None:
        name = self.snapshot_name.value
        job = partial(self._timed_job, what, name)
        self._start(f"snapshot {what}", job, self.boot_log, self._record_time)

    def stop(self) -> None:
        """Shut the VM down (powerdown, then quit, then kill)."""
        self._start("stop", self._stop_job, self.boot_log)

    def clean(self) -> None:
        """Stop the VM and delete its instance (disk, keys, logs); clears the views."""
        self._start("clean", self._clean_job, self.boot_log, self._forget)

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

    def _finished(self) -> None:
        state = self.runner.state
        result = self.runner.result
        said = self._on_done(result) if state == "done" and self._on_done is not None else None
        text = said or (result if isinstance(result, str) else self.runner.message)
        if state == "cancelled":
            text = self._cancelled_note()
        if state != "done":  # a session that ended without its end event
            for span in self.spans.end_running(time.time(), "failed"):
                self.timeline.update(span)
        self._say(state == "done", f"{self.last}: {state}: {text}")
        if self._instance_object is not None:
            self._instance_object.close()  # a connected client would hold the VM up
        self.refresh()

    def _cancelled_note(self) -> str:
        if self.last in STEPS:
            return "the step was stopped and not recorded; the VM stays usable, press it again"
        if self.last == "launch":
            return "the VM was stopped once it was up"
        return "stopped waiting (the VM may still be finishing it)"

    def _record_time(self, measured: tuple[str, str, float]) -> str:
        self.times.append(measured)
        rows = [(what, name, f"{seconds:.2f} s") for what, name, seconds in self.times]
        self.times_view.value = CSS + table(("snapshot", "name", "took"), rows)
        return f"{measured[0]} {measured[1]} took {measured[2]:.2f} s"

    def _show_prime(self, found: tuple[list[Entry], str, str]) -> str:
        entries, snap_yaml, note = found
        self.browser.show(entries, snap_yaml, note)
        return f"{len(entries)} paths in prime/" + (f"; {note}" if note else "")

    def _forget(self, _result: object) -> None:
        self.spans.clear()
        self.timeline.clear()
        self.build_log.clear()
        self.times.clear()
        self.times_view.value = ""
        self.browser.show([], "", note="")

    def _say(self, ok: bool, text: str) -> None:
        self.status.value = verdict_badge(ok, text)
        self.status_text = text

    def refresh(self) -> None:
        """Read the instance's status from its directory (any process may have changed it)."""
        from workbench.vm import InstanceDir, Status

        directory = InstanceDir.for_project(self.project, instances=self.instances)
        status = directory.status()
        self.vm_status = str(status)
        up = status in (Status.STARTING, Status.RUNNING, Status.FAILED)
        stops = watchdog.report(directory.root, up=up, now=time.time())["stops"]
        self.keepalive_text = f"keep-alive: {stops}" if stops else ""
        self.keepalive.value = html.escape(self.keepalive_text)

    def summary(self) -> str:
        """The VM's status and the last task's outcome, as plain lines."""
        lines = [f"vm: {self.vm_status}", self.keepalive_text, self.status_text]
        return "\n".join(line for line in lines if line)
