"""One controller of a project's build VM: what ``workbench build`` and the build view drive.

Both make their :class:`~workbench.lifecycle.session.Session` here, so the decisions live in one
place: which images can run craft-parts (:data:`NO_PYTHON_IMAGES`); what a step press is (one
``workbench build --step STEP --stop-after IDLE``: steps already done are skipped); what a part's
clean is (``workbench clean PART --step STEP``); how a cancelled step stops (:data:`STOP_RUNNER`,
over a second SSH connection, kills the guest runner and its children: craft-parts records a step
only when it ends, so the VM stays usable and the next press redoes it); and the VM's own actions
(launch, a command, the prime/ listing, snapshots, stop, clean). Each action runs on the caller's
thread, reports to a :class:`Feedback` (a task runner's reporter, or a fake) and returns a value;
nothing here knows a widget.

The VM a launch or a step press leaves up stops by itself (state saved) once unused for
``stop_after`` seconds (default: ``WORKBENCH_STOP_AFTER_IDLE``, else 30 min); ``workbench build``
keeps its options' policy.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from workbench.errors import BuildError, UsageError, WorkbenchError, format_error
from workbench.follow import following
from workbench.lifecycle.build_project import resolve_build
from workbench.lifecycle.events import Event, Listener
from workbench.lifecycle.keepalive import Policy
from workbench.lifecycle.options import BuildOptions, BuildResult
from workbench.lifecycle.prime import PrimePath, listing_command, packed_snap_yaml, parse_listing
from workbench.lifecycle.safetext import LineSplitter
from workbench.lifecycle.session import Session, session_arch
from workbench.lifecycle.steps import CLEAN_STEP_NAMES, STEP_NAMES, Step
from workbench.progress import Progress
from workbench.project import find_root
from workbench.vm import InstanceDir, Status, watchdog

if TYPE_CHECKING:
    from workbench.vm import Completed, Instance, StatusReport, Timeouts

NO_PYTHON_IMAGES = frozenset({"tiny", "tiny-arm64"})
"""Images without python3, where craft-parts cannot run (the VM itself works)."""
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


def craft_parts_refusal(image: str | None) -> UsageError | None:
    """Why builds cannot run on ``image`` (None: they can; an image of None: the base's)."""
    if image not in NO_PYTHON_IMAGES:
        return None
    return UsageError(
        f"the {image} image has no python3, so craft-parts cannot run in it",
        hint="steps need debian-12",
    )


class Feedback(Protocol):
    """Where an action reports, and how it learns it was cancelled (a task runner's reporter)."""

    @property
    def cancelled(self) -> bool: ...

    def check(self) -> None:
        """Raise (the runner's own exception) once cancelled."""

    def log(self, line: str) -> None: ...

    def progress(self, event: Progress) -> None: ...

    def item(self, value: Event) -> None:
        """One event of a build session."""


@dataclass(frozen=True)
class VmState:
    """The instance as its directory says: its status, and when and why it stops (when up)."""

    status: Status
    stops: str | None


@dataclass(frozen=True)
class PrimeContents:
    """prime/ in the VM and the packed snap's snap.yaml; empty when not there yet."""

    prime: str
    entries: tuple[PrimePath, ...]
    snap: Path
    snap_yaml: str

    @property
    def missing(self) -> str:
        """What is not there yet and which step makes it ("" when nothing is missing)."""
        notes = [] if self.entries else [f"no {self.prime} in the VM yet (run prime)"]
        notes += [] if self.snap_yaml else [f"no {self.snap.name} yet (run pack)"]
        return "; ".join(notes)


@dataclass(frozen=True)
class SnapshotTiming:
    """How long saving or restoring a snapshot took."""

    action: Literal["save", "restore"]
    name: str
    seconds: float


class BuildController:
    """The build VM and lifecycle of the project at or above ``start``, built with ``options``
    (default: those of ``workbench build``: debian-12; the project's hints, else 2G and 2 CPUs).

    ``instances`` and ``timeouts`` are for tests (another instances directory, shorter waits).
    """

    def __init__(
        self,
        start: str | Path,
        options: BuildOptions | None = None,
        *,
        stop_after: float | None = None,
        instances: Path | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.start = Path(start)
        self.options = options or BuildOptions()
        self.stop_after = watchdog.default_idle(os.environ) if stop_after is None else stop_after
        self.instances = instances
        self.timeouts = timeouts

    # -- what the project and its image allow (any thread) ----------------------------------------

    @cached_property
    def root(self) -> Path:
        """The project directory."""
        return find_root(self.start)

    @property
    def refusal(self) -> UsageError | None:
        """Why no step can run on the options' image (None: steps can run)."""
        return craft_parts_refusal(self.options.image)

    def part_names(self) -> list[str]:
        """The project's parts (none when the project does not load)."""
        o = self.options
        try:
            project = resolve_build(
                self.start, build_on=o.build_on, build_for=o.build_for, templates=o.templates
            )
        except WorkbenchError:
            return []
        return list(project.parts)

    def build_step(self, name: str) -> Step:
        """The step a press of ``name`` builds up to; :class:`UsageError` when none can run."""
        return self._allowed(name, STEP_NAMES)

    def clean_step(self, name: str) -> Step:
        """The step a part's clean undoes from; :class:`UsageError` when none can run."""
        return self._allowed(name, CLEAN_STEP_NAMES)

    def _allowed(self, name: str, steps: tuple[str, ...]) -> Step:
        if name not in steps:
            raise UsageError(f"unknown step {name!r}", hint=f"use one of {', '.join(steps)}")
        self._require_craft_parts()
        return Step.parse(name)

    def _require_craft_parts(self) -> None:
        if self.refusal is not None:
            raise self.refusal

    def state(self) -> VmState:
        """The instance's status from its directory (any process may have changed it)."""
        directory = InstanceDir.for_project(
            self.root, instances=self.instances, arch=session_arch(self.options)
        )
        status = directory.status()
        up = status in (Status.STARTING, Status.RUNNING, Status.FAILED)
        return VmState(status, watchdog.report(directory.root, up=up, now=time.time())["stops"])

    # -- sessions ----------------------------------------------------------------------------------

    def session(self, listeners: tuple[Listener, ...] = ()) -> Session:
        """The session of the options (``workbench build``, ``workbench clean PART``), its events
        (notices included) going to ``listeners``; :class:`UsageError` when the image cannot run
        craft-parts."""
        self._require_craft_parts()
        return Session(self.start, self.options, listeners=listeners, instances=self.instances)

    def _session(self, feedback: Feedback, step: Step, parts: tuple[str, ...] = ()) -> Session:
        """A session up to ``step`` for ``parts`` (default: the options' parts) that reports to
        ``feedback`` and stops at its next event once cancelled; a VM it leaves up stops after
        ``stop_after`` idle seconds."""

        def forward(event: Event) -> None:
            feedback.item(event)
            feedback.check()

        options = replace(
            self.options,
            step=step,
            parts=parts or self.options.parts,
            policy=Policy.uniform(self.stop_after),
        )
        session = Session(
            self.start,
            options,
            listeners=(forward,),
            instances=self.instances,
        )
        session.instance.listener = feedback.progress
        if self.timeouts is not None:
            session.instance.timeouts = self.timeouts
        return session

    @contextmanager
    def guest(self, feedback: Feedback, step: Step, parts: tuple[str, ...]) -> Iterator[Session]:
        """A session up to ``step`` for ``parts``, not run, for actions that run guest commands of
        their own (the part debugger): the VM is started when it is saved or stopped; its SSH
        connection is closed afterwards. :class:`UsageError` when there is no VM yet."""
        self._require_craft_parts()
        session = self._session(feedback, step, parts)
        instance = session.instance
        try:
            status = instance.status().status
            if status is Status.ABSENT:
                raise UsageError(
                    f"no build VM for {self.root} yet", hint="run a step first (it makes the VM)"
                )
            if status is not Status.RUNNING:
                instance.up(stop_after=self.stop_after, source="notebook")
            yield session
        finally:
            instance.close()

    @contextmanager
    def _vm(self, feedback: Feedback) -> Iterator[Instance]:
        """The project's instance as a build session makes it (same shares, memory, disk), its
        SSH connection closed afterwards (a connected client would hold the VM up)."""
        instance = self._session(feedback, self.options.step).instance
        try:
            yield instance
        finally:
            instance.close()

    # -- the lifecycle (worker thread) -------------------------------------------------------------

    def build(self, step: Step, feedback: Feedback, parts: tuple[str, ...] = ()) -> BuildResult:
        """Run the lifecycle up to ``step`` (see :meth:`build_step`) for ``parts`` (default: the
        options' parts, else every part); a cancel stops the guest runner, and the failure it
        causes becomes the runner's cancellation."""
        self._require_craft_parts()
        session = self._session(feedback, step, parts)
        try:
            with self._stopping_runner_on_cancel(feedback):
                return session.run()
        except BuildError:
            feedback.check()
            raise

    def clean_part(self, part: str, step: Step, feedback: Feedback) -> BuildResult:
        """Undo ``step`` (see :meth:`clean_step`) and the steps after it of ``part`` in the VM;
        the next press redoes only that."""
        self._require_craft_parts()
        return self._session(feedback, step, (part,)).clean_parts(step)

    @contextmanager
    def _stopping_runner_on_cancel(self, feedback: Feedback) -> Iterator[None]:
        """While the block runs, a cancel kills the guest runner (its SSH output then ends)."""
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.2):
                if feedback.cancelled:
                    self._stop_runner(feedback)
                    return

        thread = threading.Thread(target=watch, name="workbench-cancel-watch", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def _stop_runner(self, feedback: Feedback) -> None:
        try:
            with self._vm(feedback) as instance:
                if instance.status().status is Status.RUNNING:
                    killed = instance.exec(stop_runner_command(), timeout=60).stdout.split()
                    feedback.log(f"cancel: stopped the guest runner {' '.join(killed) or '(none)'}")
        except WorkbenchError as err:
            feedback.log(f"cancel: could not stop the guest runner: {format_error(err)}")

    # -- the VM (worker thread) --------------------------------------------------------------------

    def launch(self, feedback: Feedback) -> StatusReport:
        """Boot the VM (or warm-start it), its serial console to ``feedback.log``; a cancel
        cannot interrupt the boot: it stops the VM once it is up."""
        with self._vm(feedback) as instance:
            with following(instance.logs()["serial"], feedback.log):
                instance.up(stop_after=self.stop_after, source="notebook")
            if feedback.cancelled:
                instance.down()
                feedback.check()
            return instance.status()

    def run(self, argv: list[str], feedback: Feedback) -> Completed:
        """Run ``argv`` in the VM as root, its output lines to ``feedback.log``; a cancel stops
        the waiting (the command runs on in the VM until it ends)."""

        def sink(text: str) -> None:
            lines(text)
            feedback.check()

        lines = LineSplitter(feedback.log)
        with self._vm(feedback) as instance:
            result = instance.exec(argv, timeout=COMMAND_TIMEOUT, on_stdout=sink, on_stderr=sink)
        lines.flush()
        return result

    def browse(self, feedback: Feedback) -> PrimeContents:
        """prime/ as listed in the VM, and meta/snap.yaml from the packed snap."""
        session = self._session(feedback, Step.PACK)
        prime = f"{session.work_dir}/prime"
        try:
            listing = session.instance.exec(listing_command(prime), timeout=120)
        finally:
            session.instance.close()
        entries = parse_listing(listing.stdout) if listing.exit_status == 0 else []
        snap = session.project.root / session.snap_file
        text = packed_snap_yaml(snap) if snap.is_file() else ""
        return PrimeContents(prime, tuple(entries), snap, text)

    def snapshot(self, name: str, feedback: Feedback) -> SnapshotTiming:
        """Save the VM's state as ``name``."""
        return self._timed("save", name, feedback)

    def restore(self, name: str, feedback: Feedback) -> SnapshotTiming:
        """Bring the VM back to the snapshot ``name``."""
        return self._timed("restore", name, feedback)

    def _timed(
        self, action: Literal["save", "restore"], name: str, feedback: Feedback
    ) -> SnapshotTiming:
        with self._vm(feedback) as instance:
            started = time.perf_counter()
            if action == "save":
                instance.snapshot(name)
            else:
                instance.load_snapshot(name)
            return SnapshotTiming(action, name, time.perf_counter() - started)

    def stop(self, feedback: Feedback) -> str:
        """Shut the VM down (powerdown, then quit, then kill); say how it stopped."""
        with self._vm(feedback) as instance:
            return instance.down()

    def clean(self, feedback: Feedback) -> None:
        """Stop the VM and delete its instance (disk, keys, logs)."""
        with self._vm(feedback) as instance:
            instance.clean()
