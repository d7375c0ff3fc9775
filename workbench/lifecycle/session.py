"""A build session on the host: explode, resolve, boot, inject, run the steps, pack, copy.

:class:`Session` loads the project (found upward from any directory), plans its host actions
(:func:`workbench.lifecycle.steps.plan`), then executes them against the project's build VM
(a :class:`workbench.vm.Machine`: the qemu :class:`workbench.vm.Instance` with the wheelhouse
share, or an SSH host with ``BuildOptions.host``): boot or reuse it, install the
wheelhouse once, run the guest runner up to the target step with parts/, stage/ and prime/ on the
VM disk, pack, and fetch ``NAME_VERSION_ARCH.snap`` over SFTP into the project directory (the
guest sees the project read-only). The lifecycle, the pack and the shells run as the build user
``workbench``; only the guest runner's ``prepare`` (build-packages) runs as root. Every event goes
to the listeners and to ``build.log``/``events.jsonl`` in the instance directory, the notices of
the VM layer, the wheelhouse and the base instance too (:meth:`Session.notice`). A
failed step leaves the VM up (24 h by default) and the error says how to get in; ``--shell``,
``--shell-after`` and ``--debug`` open a shell in the failing part's directory.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from workbench.errors import UsageError, WorkbenchError
from workbench.files import write_atomic
from workbench.lifecycle import (
    base_instance,
    guest_workbench,
    keepalive,
    outputs,
    uptodate,
    wheelhouse,
)
from workbench.lifecycle.build_project import resolve_build
from workbench.lifecycle.events import (
    Done,
    Event,
    Failure,
    HostFinished,
    HostPlan,
    HostSkipped,
    HostStarted,
    Listener,
    Notice,
    Output,
    SessionStarted,
    SnapFetched,
    Unparsed,
)
from workbench.lifecycle.failure import build_error, spec_error
from workbench.lifecycle.guest import GuestSpec
from workbench.lifecycle.options import DEFAULT_CPUS, DEFAULT_MEMORY, BuildOptions, BuildResult
from workbench.lifecycle.runner import runner_command
from workbench.lifecycle.safetext import LineSplitter
from workbench.lifecycle.shell import shell_hook_command, wants_shell
from workbench.lifecycle.snapyaml import snap_file_name, snap_yaml
from workbench.lifecycle.steps import (
    HostAction,
    ShellMode,
    Situation,
    Step,
    clean_plan,
    plan,
    step_directory,
)
from workbench.lifecycle.timing import PhaseClock
from workbench.lifecycle.wheelhouse import Wheelhouse
from workbench.lifecycle.wire import BuildLog, guest_event
from workbench.project import find_root
from workbench.vm import watchdog
from workbench.vm.arch import ARCHS, DEFAULT_ARCH, vm_arch_for
from workbench.vm.bases import choose_image
from workbench.vm.config import DEFAULT_IMAGES, InstanceConfig
from workbench.vm.image_index import entry
from workbench.vm.local import Instance, QemuProvider
from workbench.vm.provider import Machine, Provider
from workbench.vm.remote import HostProvider
from workbench.vm.state import InstanceDir, Status

SHARE_WORK_ROOT = "/project/.workbench-work"
UNCHANGED = "nothing changed since the last build (parts, options and project files as they were)"
OUTPUT_TAIL = 25


class Session:
    """One ``workbench build`` of the project at or above ``start``."""

    def __init__(
        self,
        start: Path,
        options: BuildOptions | None = None,
        *,
        listeners: tuple[Listener, ...] = (),
        instances: Path | None = None,
        shell: Callable[[Machine], int] | None = None,
    ) -> None:
        self.options = options = options or BuildOptions()
        self.listeners = list(listeners)
        self.instances = instances
        self._shell = shell or (lambda machine: machine.shell(user=machine.layout.build_user))
        vm_arch = session_arch(options)
        self.project = resolve_build(
            start,
            build_on=options.build_on,
            build_for=options.build_for,
            vm_arch=vm_arch,
            templates=options.templates,
        )
        self.image = choose_image(
            self.project.base, vm_arch, override=options.image, min_python=wheelhouse.MIN_PYTHON
        )
        self.guest = guest_workbench.resolve(options.workbench_version)
        self.machine = self._provider().machine(self.project.root)
        self._log: BuildLog | None = None
        self._error: Failure | None = None
        self._tail: deque[str] = deque(maxlen=OUTPUT_TAIL)
        self._clock = PhaseClock()
        self._unchanged: str | None = None  # the fingerprint of a lifecycle skipped as unchanged
        self._recorded: str | None = None  # the fingerprint a lifecycle run recorded

    def _provider(self) -> Provider:
        """The SSH host provider with ``--host``, else the qemu provider with the wheelhouse
        share."""

        options, hints = self.options, self.project.hints
        if options.host is not None:
            return HostProvider(options.host, notify=self.notice)
        config = InstanceConfig(
            image=self.image.image,
            stand_in_for=self.image.stand_in_for,
            memory=options.memory or hints.memory or DEFAULT_MEMORY,
            cpus=options.cpus or hints.cpus or DEFAULT_CPUS,
            disk_size=options.disk_size,
            share_mode="rw" if options.work_on_share else options.share_mode,
            shares=wheelhouse.share(),
        )
        return QemuProvider(config, notify=self.notice, instances=self.instances)

    @property
    def instance(self) -> Instance:
        """The project's qemu VM (a UsageError when the session builds on an SSH host)."""
        if not isinstance(self.machine, Instance):
            raise UsageError(f"{self.project.name} builds on an SSH host, not in a VM")
        return self.machine

    def on_event(self, listener: Listener) -> None:
        self.listeners.append(listener)

    # -- plan ------------------------------------------------------------------------------------

    @property
    def work_dir(self) -> str:
        """``ROOT/NAME``; ``ROOT/NAME-on-ARCH-for-ARCH`` for a build not for the VM's own
        architecture, so the builds of a set that share a VM keep their parts apart."""
        root = SHARE_WORK_ROOT if self.options.work_on_share else self.machine.layout.work_root
        p = self.project
        if p.build_on == p.build_for == self.image.arch:
            return f"{root}/{p.name}"
        return f"{root}/{p.name}-on-{p.build_on}-for-{p.build_for}"

    @property
    def snap_file(self) -> str:

        p = self.project
        return snap_file_name(p.name, p.version, p.architectures)

    def plan(self) -> list[HostAction]:
        """The host actions this session will take, with reasons (reads the instance dir only)."""
        return plan(
            self.options.step,
            self._situation(),
            parts=self.options.parts,
            shell=self.options.shell,
            export_prime=self.options.export_prime,
        )

    def _situation(self) -> Situation:
        injected = self.machine.dir.injected_marker
        return Situation(
            status=str(self.machine.status().status),
            injected=injected.read_text().strip() if injected.exists() else None,
            wheelhouse=self.guest.key,
            from_base=self.options.from_base,
        )

    def spec(self, target: Step) -> GuestSpec:
        """What the guest runner gets for a run (or pack) up to ``target``."""

        p = self.project
        return GuestSpec(
            name=p.name,
            parts=p.parts,
            work_dir=self.work_dir,
            cache_dir=self.machine.layout.parts_cache,
            target=min(target, Step.PRIME).label,
            part_names=list(self.options.parts),
            build_for=p.build_for,
            cpus=self.machine.cpus,
            snap_yaml=snap_yaml(p.data, p.architectures),
            apps=p.data.get("apps") or {},
            gui=p.gui_files(),
            snap_file=self.snap_file,
            export_prime=self.options.export_prime,
            user=self.machine.layout.build_user,
        )

    # -- events ----------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Hand ``event`` to the build log and every listener; keep the first failure and the
        output's tail for the error."""
        payload = event.payload
        if isinstance(payload, Failure) and self._error is None:
            self._error = payload
        if isinstance(payload, Output | Unparsed):
            self._tail.append(payload.text)
        self._clock(event)
        if self._log is not None:
            self._log(event)
        for listener in self.listeners:
            listener(event)

    def notice(self, text: str) -> None:
        """Tell the listeners ``text`` as a notice (the VM layer's and the wheelhouse's too)."""
        self.emit(Event(Notice(text=text)))

    def _host(self, action: HostAction, run: Callable[[], Any]) -> Any:
        if action.skip:
            self.emit(Event(HostSkipped(action=action.name, reason=action.reason)))
            return None
        self.emit(Event(HostStarted(action=action.name, reason=action.reason)))
        started = time.monotonic()
        result = run()
        elapsed = time.monotonic() - started
        self.emit(Event(HostFinished(action=action.name, reason=action.reason, elapsed=elapsed)))
        return result

    # -- run -------------------------------------------------------------------------------------

    def run(self) -> BuildResult:
        """Execute the plan; raise :class:`BuildError` (after any shell) when a step failed."""
        return self._execute(self.plan())

    def clean_parts(self, step: Step = Step.PULL) -> BuildResult:
        """Undo ``step`` and the steps after it for the options' parts (every part without) in
        the VM, starting it if needed; the other parts and the VM stay as they are, and the next
        build redoes only what was cleaned. Raise :class:`BuildError` when the guest failed."""
        unknown = [name for name in self.options.parts if name not in self.project.parts]
        if unknown:
            raise UsageError(
                f"no part {', '.join(map(repr, unknown))} in {self.project.name}",
                hint=f"its parts: {', '.join(self.project.parts) or 'none'}",
                location=self.project.locate("parts"),
            )
        if self.machine.status().status is Status.ABSENT:
            raise UsageError(
                f"no build VM for {self.project.root}: nothing to clean",
                hint="`workbench build` makes it",
            )
        actions = clean_plan(step, self._situation(), parts=self.options.parts)
        return self._execute(actions, cleaning=step)

    def _execute(self, actions: list[HostAction], *, cleaning: Step | None = None) -> BuildResult:

        started = time.monotonic()
        self._clock = PhaseClock()
        self._unchanged = self._recorded = None
        self.machine.dir.create()
        self._log = BuildLog(self.machine.dir.build_log, self.machine.dir.events_log)
        root = self.machine.dir.root
        watchdog.write(root, keepalive.busy(self.options.policy, now=time.time()))
        house = wheelhouse.ensure_wheelhouse(
            self.guest, arch=self.image.arch, python=self.image.python, notify=self.notice
        )
        p = self.project
        self._announce(actions)
        self._running_notices()
        ok = False
        finished = False
        shell_dir: str | None = None
        shell_status: int | None = None
        snap: Path | None = None
        try:
            for action in actions:
                if action.name == "base":
                    self._host(action, partial(self._from_base, house))
                elif action.name == "boot":
                    self._host(action, self._boot)
                elif action.name == "inject":
                    self._host(action, partial(self._inject, house))
                    ok = True
                elif action.name == "clean" and cleaning is not None:
                    ok = bool(self._host(action, partial(self._clean, cleaning)))
                elif action.name == "lifecycle":
                    ok = self._lifecycle(action, house.key)
                elif action.name == "pack" and ok:
                    snap = self._pack_unless_current(action)
                    ok = snap is not None
                elif action.name == "export-prime" and ok:
                    ok = bool(self._host(action, self._export_prime))
                elif action.name == "shell" and wants_shell(self.options.shell, ok):
                    shell_dir = self._shell_dir(ok)
                    shell_status = self._host(action, partial(self._open_shell, shell_dir))
            finished = True
        finally:
            self._finish(ok and finished)
        result = BuildResult(
            ok, p, root, time.monotonic() - started, snap, self._error, shell_dir, shell_status
        )
        operation = "clean" if cleaning else "build"
        snap_path = str(snap) if snap else None
        self.emit(Event(self._clock.timing(result.elapsed)))
        self.emit(Event(Done(operation=operation, ok=ok, elapsed=result.elapsed, snap=snap_path)))
        if not ok:
            raise build_error(
                self._error, self.project, self.options.step, self._tail, self.machine
            )
        return result

    def _announce(self, actions: list[HostAction]) -> None:
        """The session's first events: what it builds, and its plan."""
        p = self.project
        started = SessionStarted(
            name=p.name,
            version=p.version,
            build_on=p.build_on,
            build_for=p.build_for,
            architectures=tuple(p.architectures),
            arch_reason=p.arch_reason,
            project=str(p.root),
            instance=str(self.machine.dir.root),
            snap=self.snap_file,
            image=self.image.label if self.options.host is None else "",
        )
        self.emit(Event(started))
        if self.options.host is None and self.image.stand_in_for is not None:
            self.notice(f"{self.image.label}: {self.image.reason}")
        self.emit(Event(HostPlan(actions=tuple(actions))))

    def _running_notices(self) -> None:
        """Say which asked-for settings a VM that is already running does not have yet."""
        if self.machine.status().status is not Status.RUNNING:
            return
        running = self.instance.running_share_mode()
        changes = []
        if self.options.disk_size:
            changes.append(f"--disk-size {self.options.disk_size}")
        if self.instance.share_mode != running:
            changes.append(f"--share-mode {self.instance.share_mode} (running: {running})")
        for change in changes:
            self.notice(
                f"the VM is running: {change} applies when it next starts"
                " (`workbench vm down` first)"
            )

    def _finish(self, ok: bool) -> None:
        root = self.machine.dir.root
        decision = keepalive.decide(
            self.options.policy, ok=ok, keep=self.options.keep, now=time.time()
        )
        watchdog.write(root, decision)
        if not decision.keep and self.machine.status().status is Status.RUNNING:
            watchdog.spawn(self.project.root, root)
        self.machine.close()

    def _boot(self) -> None:
        """Start the VM; the build's keep-alive replaces the one ``up`` set."""
        self.machine.up(source="build")
        watchdog.write(self.machine.dir.root, keepalive.busy(self.options.policy, now=time.time()))

    def _from_base(self, house: Wheelhouse) -> None:

        base = base_instance.ensure_base(
            self.image.image,
            memory_mib=self.instance.memory_mib,
            cpus=self.instance.cpus,
            house=house,
            notify=self.notice,
        )
        base_instance.seed_instance(base, self.instance.dir, self.project.root)

    def _inject(self, house: Wheelhouse) -> None:

        installed = wheelhouse.inject(self.machine, house)
        write_atomic(self.machine.dir.injected_marker, house.key + "\n")
        where = "" if self.guest.running else f" ({self.guest.label})"
        if not installed:
            self.notice(f"inject: {house.key}{where} was already in the guest")
        elif where:
            self.notice(f"inject: the guest runs workbench {house.key}{where}")

    def _lifecycle(self, action: HostAction, workbench_key: str) -> bool:
        """Run the guest's lifecycle up to the target step, unless the guest's last successful
        run had the same fingerprint (:mod:`workbench.lifecycle.uptodate`); True when done."""
        target = self.options.step
        if self.options.shell is ShellMode.INSTEAD:
            target = target.previous() or target
        spec = self.spec(target)
        before = uptodate.fingerprint(spec, workbench_key, self.project.root)
        found = None if action.skip else uptodate.recorded(self.machine, spec)
        if found == before:
            self._unchanged = before
            self.emit(Event(HostSkipped(action=action.name, reason=UNCHANGED)))
            return True
        if found is not None:  # an older record: gone before the run changes anything
            uptodate.forget(self.machine, spec)
        ran = self._host(action, partial(self._guests, ("prepare", "run"), target))
        after = uptodate.fingerprint(spec, workbench_key, self.project.root)
        if ran and after == before:  # a file changed during the run: the next build runs again
            uptodate.record(self.machine, spec, before)
            self._recorded = before
        return action.skip or bool(ran)

    def _pack_unless_current(self, action: HostAction) -> Path | None:
        """Pack and fetch the .snap, unless nothing changed since the project's .snap was."""
        snap = self.project.root / self.snap_file
        root = self.machine.dir.root
        if self._unchanged is not None and uptodate.pack_is_current(root, self._unchanged, snap):
            reason = f"nothing changed since {snap.name} was packed"
            self.emit(Event(HostSkipped(action=action.name, reason=reason)))
            return snap
        packed: Path | None = self._host(action, self._pack)
        fingerprint = self._unchanged or self._recorded
        if packed is not None and fingerprint is not None:
            uptodate.remember_pack(root, fingerprint, packed)
        return packed

    def _clean(self, step: Step) -> bool:
        """Clean in the guest; the guest's record of its last run goes with it."""
        try:
            return self._guest("clean", step)
        finally:
            uptodate.forget(self.machine, self.spec(step))

    def _pack(self) -> Path | None:
        """Pack in the guest, then fetch the .snap into the project; the .snap."""

        if not self._guest("pack", Step.PACK):
            return None
        spec = self.spec(Step.PACK)
        snap = self._fetch(
            spec.snap, lambda got: outputs.deliver(got, self.project.root / spec.snap_file)
        )
        if snap is not None:
            self.emit(Event(SnapFetched(path=str(snap))))
        return snap

    def _export_prime(self) -> Path | None:
        """Tar prime in the guest, then unpack it as the project's prime/ (--export-prime)."""

        if not self._guest("export", Step.PRIME):
            return None
        destination = self.project.root / outputs.EXPORT_DIR
        return self._fetch(
            self.spec(Step.PRIME).prime_tar, lambda got: outputs.export_prime(got, destination)
        )

    def _fetch(self, guest_file: Path, install: Callable[[Path], Path]) -> Path | None:
        """:func:`outputs.fetch`; None (and an error event) when it fails."""
        try:
            return outputs.fetch(self.machine, guest_file, install)
        except (OSError, WorkbenchError) as err:
            brief = getattr(err, "brief", str(err))
            failure = Failure(brief=f"fetching {guest_file.name} failed: {brief}", step="pack")
            self.emit(Event(failure))
            return None

    def _guests(self, commands: tuple[str, ...], target: Step) -> bool:
        """Run the guest runner's ``commands`` in turn while they succeed."""
        return all(self._guest(command, target) for command in commands)

    def _guest(self, command: str, target: Step) -> bool:
        """Run the guest runner (as root or the build user); stream its events; True when ok."""

        def stdout_line(line: str) -> None:  # stamped on arrival: the guest clock may lag
            self.emit(replace(guest_event(line), time=time.time()))

        out = LineSplitter(stdout_line)
        err = LineSplitter(lambda line: self.emit(Event(Output(text=line))))
        runner = runner_command(self.machine.layout, command, self.spec(target))
        result = self.machine.exec(runner, on_stdout=out, on_stderr=err)
        out.flush()
        err.flush()
        if result.exit_status == 2:
            raise spec_error(self._error, self.project)
        if result.exit_status != 0 and self._error is None:
            status = result.exit_status
            self.emit(Event(Failure(brief=f"the guest runner exited with status {status}")))
        return result.exit_status == 0

    def _shell_dir(self, ok: bool) -> str:
        error = self._error
        if not ok and error is not None and error.directory:
            return error.directory
        part = (self.options.parts or tuple(self.project.parts))[0]
        return step_directory(self.work_dir, self.options.step, part)

    def _open_shell(self, directory: str) -> int:
        self.machine.exec(shell_hook_command(self.project.name, directory), check=True)
        return self._shell(self.machine)


def session_arch(options: BuildOptions) -> str:
    """The architecture of the VM a session with ``options`` builds in: the asked image's, else
    the one that builds on the asked build-on architecture, else :data:`DEFAULT_ARCH`."""
    if options.image is not None:
        return entry(options.image).arch
    return vm_arch_for(options.build_on) if options.build_on else DEFAULT_ARCH


def clean(start: Path, *, instances: Path | None = None) -> str:
    """Destroy the build VMs of the project at or above ``start`` (one per architecture:
    overlays and all)."""

    root = find_root(start)
    removed = []
    for arch in ARCHS:
        directory = InstanceDir.for_project(root, instances=instances, arch=arch)
        if directory.root.exists():
            Instance(root, InstanceConfig(image=DEFAULT_IMAGES[arch]), instances=instances).clean()
            removed.append(str(directory.root))
    if not removed:
        return f"no build VM for {root}"
    return f"removed the build VM of {root} ({', '.join(removed)})"
