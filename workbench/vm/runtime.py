""":class:`Instance`: one project's build VM, from launch to clean.

``up`` takes the instance lock, prepares the instance directory (keys, seed ISO, overlay on the
base image), chooses the accelerator, starts qemu and runs the readiness checks (QMP, port, SSH
banner, login, the image's ready command, the 9p mount), checking at every step that qemu is
alive. A failure carries the diagnosis (:mod:`workbench.vm.diagnose`) and the log tails; qemu stays
up for debugging when it is still alive. ``down --save`` stores a warm-start state that the next
``up`` loads when its tag still matches. The instance directory is the only state: a second
:class:`Instance` for the same project (another process, the CLI) sees the same instance.

Before qemu starts, ``up`` refuses a base image whose files no longer match its sha256 and an
overlay that fails ``qemu-img check`` (corrupt, truncated, missing, or its backing file gone),
and warns when the guest RAM asked for exceeds the host's available memory. Faults later on:
qemu runs in its own session, so a terminal's Ctrl-C never reaches it. Ctrl-C during ``up``
stops the qemu it started (SIGTERM, then SIGKILL) and frees the lock; a warm state it started
from stays for the next ``up``. Ctrl-C during ``exec`` ends only the client: qemu keeps running
and holding the lock, and the guest command runs on to its end (no pty, so no hangup). A lost
SSH connection fails the command at once; when qemu is gone, the error says the VM died, with
the last lines of its logs, and ``up`` boots it again from its overlay.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from workbench import dirs
from workbench.errors import BuildError, UsageError, VmError, WorkbenchError
from workbench.files import write_atomic
from workbench.progress import ProgressListener, ignore
from workbench.vm import accel as accel_mod
from workbench.vm import diagnose, qemu, rekey, watchdog
from workbench.vm.instance import InstanceDir, InstanceState, Status
from workbench.vm.lock import ProcessRef
from workbench.vm.qmp import Qmp, SnapshotEntry, parse_snapshots, shutdown, wait_exit
from workbench.vm.readiness import Check, QemuExited, run_checks
from workbench.vm.snapshots import (
    AFTER_LOAD,
    BEFORE_SAVE,
    WARM,
    SnapshotTag,
    check_name,
    mismatches,
)
from workbench.vm.ssh import (
    PULL_LIMIT,
    Completed,
    ConnectionLost,
    HostKeyChanged,
    Sink,
    SshExecutor,
    known_hosts_line,
)

if TYPE_CHECKING:
    from workbench.vm.images import BootImage

log = logging.getLogger(__name__)

LOGIN_USER = "root"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
_MEMORY = re.compile(r"(\d+)\s*([MmGg]?)(?:i?[Bb])?")
_SHARE_TAG = re.compile(r"[a-z][a-z0-9_-]{0,30}")


def parse_memory(text: str | int, *, what: str = "memory size") -> int:
    """MiB from ``1G``, ``512M``, ``2GiB`` or a plain number of MiB (``what``: for the error)."""
    match = _MEMORY.fullmatch(str(text).strip())
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"invalid {what} {text!r}", hint="use e.g. 512M or 2G")
    number, unit = int(match.group(1)), match.group(2).upper()
    return number * 1024 if unit == "G" else number


def mount_command(msize: int, mode: str = "ro") -> list[str]:
    """The guest command mounting the project share on /project (idempotent)."""
    options = f"trans=virtio,version=9p2000.L,msize={msize},{mode}"
    return [
        "sh",
        "-c",
        "mkdir -p /project && { grep -qs ' /project 9p ' /proc/mounts"
        f" || mount -t 9p -o {options} project /project; }}",
    ]


@dataclass(frozen=True)
class Timeouts:
    """Deadlines in seconds; shutdown ones nest (powerdown, then quit, then kill)."""

    qmp: float = 15
    port: float = 30
    banner: float = 240
    login: float = 30
    ready: float = 600
    mount: float = 30
    powerdown: float = 30
    quit: float = 10


@dataclass(frozen=True)
class SnapshotInfo:
    """A saved VM state with its tag and whether this instance may load it."""

    name: str
    entry: SnapshotEntry | None
    tag: SnapshotTag | None
    problems: list[str] = field(default_factory=list)

    @property
    def loadable(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class StatusReport:
    """What ``vm status`` shows."""

    name: str
    project: str
    status: Status
    directory: str
    image: str | None = None
    pid: int | None = None
    port: int | None = None
    accel: str | None = None
    memory_mib: int | None = None
    cpus: int | None = None
    disk_mib: int | None = None
    snapshots: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Status) else v for k, v in self.__dict__.items()}


class Instance:
    """The build VM of one project (a context manager that stops what it started).

    ``shares``: extra host directories exported read-only over 9p by mount tag (the guest mounts
    them when it needs them); they are part of every snapshot tag, like the project share.
    ``share_mode``: ``ro`` (default) exports the project read-only, so nothing the guest does can
    create or change a file in it; ``rw`` lets the guest write it (setuid and world-writable
    files included: see docs/security.md).
    """

    def __init__(
        self,
        project: Path | str = ".",
        *,
        image: str | BootImage = "tiny",
        memory: str | int = "1G",
        cpus: int = 2,
        disk_size: str | int | None = None,
        accel: str | None = None,
        ssh_port: int | None = None,
        extra_append: str = "",
        qemu_binary: str | None = None,
        msize: int = 512000,
        share_project: bool = True,
        share_mode: str = "ro",
        shares: Mapping[str, Path] | None = None,
        timeouts: Timeouts = Timeouts(),
        listener: ProgressListener = ignore,
        notify: Callable[[str], None] | None = None,
        instances: Path | None = None,
    ) -> None:
        self.project = Path(project).resolve()
        if not self.project.is_dir():
            raise UsageError(f"project directory {self.project} does not exist")
        self.dir = InstanceDir.for_project(self.project, instances=instances)
        self.image = image
        self.memory_mib = parse_memory(memory)
        if cpus < 1:
            raise UsageError(f"invalid CPU count {cpus}", hint="use 1 or more")
        self.cpus = cpus
        self.disk_mib = None if disk_size is None else parse_memory(disk_size, what="disk size")
        self.accel = accel
        self.ssh_port = ssh_port
        self.extra_append = extra_append
        self.qemu_binary = qemu_binary
        self.msize = msize
        self.share_project = share_project
        if share_mode not in qemu.SHARE_MODES:
            raise UsageError(f"invalid share mode {share_mode!r}", hint="use ro or rw")
        self.share_mode = share_mode
        self.shares = _read_only_shares(shares or {})
        self.timeouts = timeouts
        self.listener = listener
        self.notify = notify or (lambda line: print(f"workbench: {line}", file=sys.stderr))
        self._ssh: SshExecutor | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = False

    # -- context manager -------------------------------------------------------------------------

    def __enter__(self) -> Instance:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._started:
            self.down()
        else:
            self.close()

    def close(self) -> None:
        """Drop the SSH connection (the instance keeps running)."""
        if self._ssh is not None:
            self._ssh.close()
            self._ssh = None

    # -- state -----------------------------------------------------------------------------------

    def _state(self) -> InstanceState | None:
        return self.dir.load_state()

    def _require_state(self) -> InstanceState:
        state = self._state()
        if state is None:
            raise UsageError(f"no instance for {self.project}", hint="run `vm up` first")
        return state

    def _alive(self, state: InstanceState | None) -> bool:
        if self._proc is not None and state is not None and state.pid == self._proc.pid:
            return self._proc.poll() is None
        return self.dir.qemu_alive(state)

    def status(self) -> StatusReport:
        state = self._state()
        return StatusReport(
            name=self.dir.name,
            project=str(self.project),
            status=self.dir.status(),
            directory=str(self.dir.root),
            image=state.image if state else None,
            pid=state.pid if state and self._alive(state) else None,
            port=state.port if state else None,
            accel=state.accel if state else None,
            memory_mib=state.memory_mib if state else None,
            cpus=state.cpus if state else None,
            disk_mib=state.disk_mib if state else None,
            snapshots=sorted(state.snapshots) if state else [],
        )

    def logs(self) -> dict[str, Path]:
        return self.dir.logs()

    def _fail(self, err: WorkbenchError, *, cls: type[WorkbenchError] = VmError) -> WorkbenchError:
        """``err`` with the diagnosis as hint, and the matched line and log tails as details."""
        found = diagnose.explain(
            f"{err.brief}\n{err.details or ''}",
            qemu_log=self.dir.qemu_log,
            serial_log=self.dir.serial_log,
        )
        brief = err.brief
        qemu_said = diagnose.tail(self.dir.qemu_log, 1)
        if isinstance(err, QemuExited) and qemu_said:
            brief = f"{brief}: {qemu_said}"
        details = [f"matched: {found.evidence}"] if found else []
        details += [
            f"--- {path} (last lines) ---\n{text}"
            for path in (self.dir.qemu_log, self.dir.serial_log)
            if (text := diagnose.tail(path))
        ]
        hint = found.line() if found else (err.hint or f"see {self.dir.serial_log}")
        return cls(brief, hint=hint, details="\n".join(details) or err.details)

    # -- launch ----------------------------------------------------------------------------------

    def _boot_image(self) -> BootImage:
        if not isinstance(self.image, str):
            return self.image
        from workbench.vm.images import ensure_image

        return ensure_image(self.image, listener=self.listener)

    def _prepare(self, image: BootImage) -> InstanceState:
        """Keys, seed ISO and overlay (first launch only); the state to launch with."""
        from workbench.vm import keys

        d = self.dir
        state = self._state()
        if state is not None and state.base_sha256 != image.sha256:
            raise VmError(
                f"instance {d.name} was created from another build of image {state.image!r}",
                hint="run `vm clean` then `vm up` to recreate it on the current image",
            )
        if not d.ssh_key.exists():
            keys.generate_ed25519(d.ssh_key, f"workbench@{d.name}")
        if not d.host_key.exists():
            keys.generate_ed25519(d.host_key, f"host@{d.name}")
        if not d.seed_iso.exists():
            self._write_seed(image)
        if state is not None and d.overlay.exists():
            try:
                recorded = qemu.backing_file(d.overlay)
            except VmError:
                recorded = None  # unreadable: the launch fails on it and diagnoses it
            if recorded is not None and Path(recorded) != image.disk and image.disk.exists():
                # Same sha256 (checked above), another path: the image was rebuilt or the cache
                # moved. Re-point the overlay instead of failing on a stale backing path.
                self.notify(f"the base image of {d.name} moved: using {image.disk}")
                qemu.repoint_overlay(d.overlay, image.disk)
        if state is None:
            if not d.overlay.exists():
                qemu.create_overlay(d.overlay, image.disk, self._disk_mib(image, None))
            state = InstanceState(
                project=str(self.project),
                image=image.name,
                base_sha256=image.sha256,
                memory_mib=self.memory_mib,
                cpus=self.cpus,
                disk_mib=qemu.virtual_mib(d.overlay),
            )
        else:
            state = self._checked_disk(image, state)
        return replace(state, memory_mib=self.memory_mib, cpus=self.cpus)

    def _write_seed(self, image: BootImage) -> None:
        """The seed ISO with this instance's user key and host key."""
        from workbench.vm import keys, seed

        d = self.dir
        hostname = re.sub(r"[^A-Za-z0-9-]+", "-", d.name)[:63].strip("-") or "workbench"
        cfg = seed.SeedConfig(
            instance_id=d.name,
            hostname=hostname,
            user=image.user,
            authorized_key=keys.public_line(d.ssh_key),
            host_private_key=d.host_key.read_text(encoding="ascii"),
            host_public_key=keys.public_line(d.host_key),
            ca_bundle=_host_ca_bundle() if _uses_cloud_init(image) else None,
        )
        seed.write_seed_iso(cfg, d.seed_iso)

    def _disk_mib(self, image: BootImage, current: int | None) -> int | None:
        """The disk size asked for, if any; never below the base image's or the current size."""
        if self.disk_mib is None:
            return None
        floor = max(qemu.virtual_mib(image.disk), current or 0)
        if self.disk_mib < floor:
            raise UsageError(
                f"disk size {self.disk_mib} MiB is below this instance's minimum of {floor} MiB"
                " (the base image's size, or the disk's current size: a disk never shrinks)",
                hint=f"use --disk-size {floor}M or more, or `vm clean` for a new disk",
            )
        return self.disk_mib

    def _checked_disk(self, image: BootImage, state: InstanceState) -> InstanceState:
        """``state`` once its overlay passed ``qemu-img check`` and grew to the size asked for.

        A disk that fails the check is refused before qemu starts; qemu-img's words go to
        ``qemu.log`` (this launch's log) so the diagnosis and ``vm logs`` show them.
        """
        d = self.dir
        problem = qemu.check_disk(d.overlay)
        if problem:
            d.qemu_log.write_text(problem + "\n", encoding="utf-8")
            brief = f"the disk of instance {d.name} failed its check: {problem.splitlines()[0]}"
            raise self._fail(VmError(brief))
        current = qemu.virtual_mib(d.overlay)
        wanted = self._disk_mib(image, current)
        if wanted is not None and wanted > current:
            qemu.grow_overlay(d.overlay, wanted)
            self.notify(f"grew the disk of {d.name} from {current} to {wanted} MiB")
        return replace(state, disk_mib=wanted or current)

    def up(self, *, stop_after: float | None = None, source: str = "vm up") -> None:
        """Start the instance and wait until the guest is ready (refused when already locked).

        It stops by itself (state saved) once idle for ``stop_after`` seconds (default:
        ``WORKBENCH_STOP_AFTER_IDLE``, else 30 min); ``source`` says who started it. The deadline
        and the watchdog exist from before qemu starts, so a launcher that dies leaves no orphan.
        """
        idle = watchdog.default_idle(os.environ) if stop_after is None else stop_after
        self.dir.create()
        notice = self.dir.lock.acquire(ProcessRef.current())
        if notice:
            self.notify(notice)
        from workbench.vm.images import verify

        previous = self._state()
        t = self.timeouts
        boot = t.qmp + t.port + t.banner + t.login + t.ready + t.mount
        watchdog.write(
            self.dir.root, watchdog.armed(idle, source=source, now=time.time(), grace=boot)
        )
        try:
            memory = diagnose.memory_notice(self.memory_mib, diagnose.host_meminfo())
            if memory:
                self.notify(memory)
            image = self._boot_image()
            state = self._prepare(image)
            verify(image)
            binary = self.qemu_binary or qemu.binary_for(image.arch)
            choice = accel_mod.choose(
                self.accel,
                binary=binary,
                kernel=image.kernel,
                cache=dirs.cache_dir() / "accel.json",
                notify=self.notify,
            )
            tags = [*(["project"] if self.share_project else []), *(t for t, _ in self.shares)]
            tag = _tag(image.sha256, state, binary, sorted(tags))
            warm = None
            if state.state == "saved":
                problems = mismatches(SnapshotTag.from_json(state.snapshots.get(WARM, {})), tag)
                if problems:
                    self.notify(
                        f"cold boot: the saved state does not match ({'; '.join(problems)})"
                    )
                else:
                    warm = WARM
            try:
                self._launch(image, state, binary, choice.accel, warm)
                if rekey.due(self.dir):
                    self._ssh = rekey.rekey(
                        self.dir,
                        self._executor(),
                        user=image.user,
                        write_seed=lambda: self._write_seed(image),
                    )
            except QemuExited as err:
                found = diagnose.explain(
                    err.brief, qemu_log=self.dir.qemu_log, serial_log=self.dir.serial_log
                )
                if warm is None or found is None or found.failure.key != "snapshot-incompatible":
                    raise
                self.notify(f"cold boot: qemu could not load the saved state ({found.evidence})")
                self._launch(image, state, binary, choice.accel, None)
        except BaseException as exc:
            self._abandon_launch(exc, saved=previous is not None and previous.state == "saved")
            if not self._alive(self._state()):
                self.dir.lock.release()
            raise
        self._started = True
        watchdog.touch(self.dir.root)  # idle from now on
        watchdog.spawn(self.project, self.dir.root)  # bounds serial.log, keeps deadlines

    def _abandon_launch(self, exc: BaseException, *, saved: bool) -> None:
        """After ``up`` failed with ``exc``: stop the qemu it started unless that qemu is a
        failed guest recorded for debugging. Ctrl-C always stops it (a half-booted guest serves
        no one), and so does any error before the state file named the new qemu (it would be
        an orphan nobody can find). ``saved``: the warm state it came from is still there.

        SIGTERM to qemu's process group, not QMP: qemu exits cleanly on it (disk flushed), and
        the interrupt may have hit this process halfway through importing the QMP client.
        """
        state = self._state()
        proc = self._proc if self._proc is not None and self._proc.poll() is None else None
        if proc is not None:  # the qemu this call started; an orphan unless the state names it
            pid, orphan = proc.pid, state is None or state.pid != proc.pid
        elif state is not None and state.qemu is not None and self._alive(state):
            pid, orphan = state.qemu.pid, False
        else:
            return
        if not orphan and not isinstance(exc, KeyboardInterrupt):
            return  # a failed guest stays up for `vm logs` / `vm shell`, as recorded
        _stop_group(pid, self.timeouts.quit)
        if proc is not None:
            proc.poll()
        if state is not None:
            self.dir.save_state(replace(state, state="saved" if saved else "stopped"))

    def _launch(
        self, image: BootImage, state: InstanceState, binary: str, accel: str, warm: str | None
    ) -> None:
        d = self.dir
        port = self.ssh_port or qemu.free_port()
        from workbench.vm.keys import public_line

        write_atomic(d.known_hosts, known_hosts_line(port, public_line(d.host_key)))
        cfg = qemu.QemuConfig(
            name=d.name,
            kernel=image.kernel,
            initrd=image.initrd,
            append=f"{image.append} {self.extra_append}".strip(),
            overlay=d.overlay,
            seed_iso=d.seed_iso,
            qmp_socket=d.qmp_socket,
            serial_log=d.serial_log,
            ssh_port=port,
            project=self.project if self.share_project else None,
            accel=accel,
            memory_mib=self.memory_mib,
            cpus=self.cpus,
            binary=binary,
            loadvm=warm,
            shares=self.shares,
            project_writable=self.share_mode == "rw",
        )
        argv = qemu.qemu_argv(cfg)
        d.qmp_socket.unlink(missing_ok=True)
        d.serial_log.unlink(missing_ok=True)  # this boot's console only
        log.info("starting %s", " ".join(argv))
        self.close()
        with _interrupt_deferred():  # Ctrl-C waits until the state file names the new qemu
            self._proc = qemu.start(argv, d.qemu_log)
            ref = ProcessRef.of(self._proc.pid)
            state = state.launched(ref, state="starting", port=port, accel=accel, argv=argv)
            d.save_state(state)
            if ref is not None:
                d.lock.transfer(ref)
            watchdog.spawn(self.project, d.root)  # the deadline holds if we die now
        proc = self._proc
        self._ssh = SshExecutor(
            port=port, user=LOGIN_USER, key=d.ssh_key, known_hosts=d.known_hosts
        )
        try:
            run_checks(
                self._checks(image, port, warm=warm is not None),
                qemu_alive=lambda: proc.poll() is None,
                listener=self.listener,
                task=f"{'warm start' if warm else 'boot'} {d.name}",
            )
        except WorkbenchError as err:
            alive = proc.poll() is None
            d.save_state(replace(state, state="failed" if alive else "starting"))
            raise self._fail(err, cls=type(err) if isinstance(err, VmError) else VmError) from err
        d.save_state(replace(state, state="running"))
        log.info("instance %s ready on port %d", d.name, port)

    def _checks(self, image: BootImage, port: int, *, warm: bool) -> list[Check]:
        from workbench.vm.ssh import port_open, wait_banner

        t = self.timeouts
        ssh = self._ssh
        assert ssh is not None

        def qmp_ready(left: float) -> bool:
            try:
                with Qmp(self.dir.qmp_socket).connect(deadline=min(left, 1.0)) as qmp:
                    return qmp.status() in ("running", "paused", "inmigrate", "restore-vm")
            except VmError:
                return False

        def login(left: float) -> bool:
            try:
                ssh.connect(timeout=min(left, 20.0))
            except HostKeyChanged:
                raise
            except VmError:
                return False
            return True

        def ready(left: float) -> bool:
            try:
                result = ssh.run(image.ready_command, timeout=left)
            except ConnectionLost:
                return False  # the next attempt logs in again
            if result.exit_status != 0 and _uses_cloud_init(image):
                # `cloud-init status --wait` only returns once cloud-init has finished: a
                # non-zero status is its final word, not "not yet".
                raise VmError(
                    "cloud-init finished with errors",
                    hint=f"run `python -m workbench vm logs`, or see {self.dir.serial_log}",
                    details=(result.stdout + result.stderr).strip(),
                )
            return result.exit_status == 0

        def guest_run(argv: Sequence[str]) -> Callable[[float], bool]:
            def attempt(left: float) -> bool:
                result = ssh.run(argv, timeout=left)
                if result.exit_status != 0:
                    said = (result.stderr.strip() or result.stdout.strip()).splitlines()
                    raise VmError(
                        f"`{shlex.join(argv)}` failed in the guest after the warm start "
                        f"(status {result.exit_status}): {said[-1] if said else 'no output'}",
                        hint="`vm down` then `vm up` boots it again",
                        details=result.stderr or result.stdout,
                    )
                return True

            return attempt

        checks = [
            Check("qemu monitor", qmp_ready, t.qmp, "qemu did not open its QMP socket"),
            Check(
                "SSH port forwarded",
                lambda left: port_open(port, min(left, 1.0)),
                t.port,
                "qemu's port forward did not open",
            ),
            Check(
                "SSH banner",
                lambda left: wait_banner(port, min(left, 2.0)) is not None,
                t.banner,
                f"see {self.dir.serial_log}",
                timeout_message=f"the guest's SSH server never answered on port {port}",
            ),
            Check("SSH login", login, t.login, "the guest rejected the instance key"),
            Check(
                "first-boot setup",
                ready,
                t.ready,
                f"`{' '.join(image.ready_command)}` never succeeded",
            ),
        ]
        if warm:
            checks += [
                Check("guest clock", guest_run(argv), t.mount, "hwclock failed")
                for argv in AFTER_LOAD
            ]
        if self.share_project:
            checks.append(
                Check(
                    "project mounted on /project",
                    self._mount_attempt,
                    t.mount,
                    "the 9p mount failed",
                )
            )
        return checks

    def running_share_mode(self) -> str:
        """How the last launched qemu exports the project: ``rw`` or ``ro``."""
        state = self._state()
        return "rw" if state is not None and qemu.project_writable(state.argv) else "ro"

    def _mount_attempt(self, left: float) -> bool:
        mode = self.running_share_mode()  # as the running qemu exports it
        result = self._executor().run(mount_command(self.msize, mode), timeout=left)
        if result.exit_status != 0:
            raise VmError(
                f"cannot mount the project on /project: {result.stderr.strip() or result.stdout}"
            )
        return True

    # -- use -------------------------------------------------------------------------------------

    def _executor(self) -> SshExecutor:
        if self._ssh is not None and self._ssh.connected:
            return self._ssh
        state = self._require_state()
        if not self._alive(state) or state.port is None:
            raise self._not_running()
        self._ssh = SshExecutor(
            port=state.port, user=LOGIN_USER, key=self.dir.ssh_key, known_hosts=self.dir.known_hosts
        )
        self._ssh.connect()
        return self._ssh

    def exec(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        check: bool = False,
        on_stdout: Sink | None = None,
        on_stderr: Sink | None = None,
        stdin: bytes | None = None,
    ) -> Completed:
        """Run ``argv`` in the guest as root; ``check``: a failure raises a diagnosed BuildError.

        A lost connection raises :class:`~workbench.vm.ssh.ConnectionLost`, or the error saying
        the VM died when qemu is gone. The VM's idle deadline restarts before and after it.
        """
        watchdog.touch(self.dir.root)
        try:
            result = self._executor().run(
                argv,
                env=env,
                cwd=cwd,
                timeout=timeout,
                on_stdout=on_stdout,
                on_stderr=on_stderr,
                stdin=stdin,
            )
        except ConnectionLost as err:
            raise self.crash_error() or err from err
        watchdog.touch(self.dir.root)
        if check and result.exit_status != 0:
            try:
                result.check()
            except BuildError as err:
                raise self._fail(err, cls=BuildError) from err
        return result

    def explain(self, text: str) -> diagnose.Diagnosis | None:
        """The known failure behind ``text`` (e.g. a failed command's stderr), if any."""
        return diagnose.explain(text, qemu_log=self.dir.qemu_log, serial_log=self.dir.serial_log)

    def shell(self, *, user: str = LOGIN_USER) -> int:
        """An interactive login shell as ``user`` in the guest on this terminal; its exit status.

        ``user``: root or the image's user (the seed authorizes the instance key for both).
        """
        if user == LOGIN_USER:
            return self._executor().shell()
        state = self._running()
        assert state.port is not None
        ssh = SshExecutor(
            port=state.port, user=user, key=self.dir.ssh_key, known_hosts=self.dir.known_hosts
        )
        try:
            ssh.connect()
            return ssh.shell()
        finally:
            ssh.close()

    def push(self, src: Path, dst: str) -> None:
        """Copy the host file ``src`` to ``dst`` in the guest."""
        if not src.is_file():
            raise UsageError(f"{src}: no such file to push")
        self._executor().push(src, dst)

    def pull(self, src: str, dst: Path, *, max_bytes: int = PULL_LIMIT) -> None:
        """Copy the guest file ``src`` to the host path ``dst``, whole or not at all (see
        :meth:`SshExecutor.pull`); a file over ``max_bytes`` is refused."""
        self._executor().pull(src, dst, max_bytes=max_bytes)

    # -- snapshots -------------------------------------------------------------------------------

    def _running_tag(self, state: InstanceState) -> SnapshotTag:
        binary = state.argv[0] if state.argv else qemu.binary_for("amd64")
        shares = qemu.share_tags(state.argv)
        return _tag(state.base_sha256, state, binary, shares)

    def _running(self) -> InstanceState:
        state = self._require_state()
        if not self._alive(state):
            raise self._not_running()
        return state

    def _not_running(self) -> WorkbenchError:
        return self.crash_error() or VmError(
            f"instance {self.dir.name} is not running (status: {self.dir.status()})",
            hint="run `vm up` first",
        )

    def crash_error(self) -> WorkbenchError | None:
        """If the VM died (qemu gone while starting or running): the error saying so, with the
        last lines of its logs; else None."""
        state = self._state()
        if state is None or self.dir.status() is not Status.CRASHED:
            return None
        return self._fail(
            VmError(
                f"the VM of instance {self.dir.name} died: its qemu (pid {state.pid}) is gone",
                hint="`vm up` starts it again from its disk; `vm logs` shows the logs",
            )
        )

    def _save_vm(self, name: str, state: InstanceState) -> InstanceState:
        ssh = self._executor()
        for argv in BEFORE_SAVE:
            ssh.run(argv, timeout=120, check=True)
        with Qmp(self.dir.qmp_socket, timeout=600).connect() as qmp:
            try:
                qmp.savevm(name)
            except VmError as err:
                raise self._fail(err) from err
        snapshots = {**state.snapshots, name: self._running_tag(state).to_json()}
        state = replace(state, snapshots=snapshots)
        self.dir.save_state(state)
        return state

    def snapshot(self, name: str = "default") -> SnapshotTag:
        """Save the running VM's state as ``name`` (9p unmounted around it); return its tag."""
        check_name(name)
        state = self._running()
        try:
            self._save_vm(name, state)
        finally:
            if self.share_project:
                self._mount_attempt(self.timeouts.mount)
        return self._running_tag(state)

    def load_snapshot(self, name: str = "default") -> None:
        """Bring the running VM back to the state ``name`` (refused when its tag differs)."""
        check_name(name)
        state = self._running()
        problems = mismatches(
            SnapshotTag.from_json(state.snapshots.get(name, {})), self._running_tag(state)
        )
        if problems:
            raise self._fail(
                VmError(f"snapshot {name} does not match this instance: {'; '.join(problems)}")
            )
        ssh = self._executor()
        for argv in BEFORE_SAVE:
            ssh.run(argv, timeout=120)
        self.close()
        with Qmp(self.dir.qmp_socket, timeout=600).connect() as qmp:
            try:
                qmp.loadvm(name)
            except VmError as err:
                raise self._fail(err) from err
        ssh = self._executor()
        for argv in AFTER_LOAD:
            ssh.run(argv, timeout=60, check=True)
        if self.share_project:
            self._mount_attempt(self.timeouts.mount)

    def delete_snapshot(self, name: str) -> None:
        check_name(name)
        state = self._running()
        with Qmp(self.dir.qmp_socket, timeout=120).connect() as qmp:
            qmp.delvm(name)
        self.dir.save_state(
            replace(state, snapshots={k: v for k, v in state.snapshots.items() if k != name})
        )

    def snapshots(self) -> list[SnapshotInfo]:
        """The saved states in the overlay, with their tags and loadability."""
        state = self._require_state()
        if self._alive(state):
            with Qmp(self.dir.qmp_socket, timeout=60).connect() as qmp:
                entries = qmp.snapshots()
        else:
            entries = _offline_snapshots(self.dir.overlay)
        current = self._running_tag(state)
        out = []
        for entry in entries:
            tag = SnapshotTag.from_json(state.snapshots.get(entry.tag, {}))
            out.append(SnapshotInfo(entry.tag, entry, tag, mismatches(tag, current)))
        return out

    # -- stop ------------------------------------------------------------------------------------

    def down(self, *, save: bool = False) -> str:
        """Stop the instance; with ``save`` store the warm-start state first. Say how it stopped."""
        state = self._state()
        if state is None or not self._alive(state):
            if save:
                raise VmError(f"instance {self.dir.name} is not running; nothing to save")
            if state is not None and state.state != "saved":
                self.dir.save_state(replace(state, state="stopped"))
            self.dir.lock.release()
            self.close()
            return "not running"
        ref = state.qemu
        assert ref is not None
        if save:
            state = self._save_vm(WARM, state)
            powerdown = 0.0
        else:
            try:
                self._executor().run(list(BEFORE_SAVE[0]), timeout=30)
            except VmError as err:
                log.warning("could not sync the guest before stopping: %s", err)
            powerdown = self.timeouts.powerdown
        self.close()
        how = shutdown(
            self.dir.qmp_socket, ref, powerdown_timeout=powerdown, quit_timeout=self.timeouts.quit
        )
        if self._proc is not None:
            self._proc.poll()
        self.dir.save_state(replace(state, state="saved" if save else "stopped"))
        self.dir.lock.release()
        self._started = False
        return how

    def clean(self) -> None:
        """Stop the instance (no waiting for the guest) and delete its directory."""
        self.close()
        destroy(self.dir)
        self._started = False


@contextlib.contextmanager
def _interrupt_deferred() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) until the block ends, then raise it as usual.

    A handler, not a signal mask: qemu started inside would inherit a mask, and ignore the
    SIGTERM that stops it. Signals only reach the main thread, so elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending and callable(previous):
        previous(signal.SIGINT, None)


def _stop_group(pid: int, grace: float) -> None:
    """SIGTERM the process group led by ``pid`` (qemu starts its own), SIGKILL after ``grace``
    seconds; wait until the leader is gone."""
    ref = ProcessRef.of(pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    if ref is not None and not wait_exit(ref, grace):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        wait_exit(ref, 5.0)


def destroy(d: InstanceDir) -> None:
    """Kill the qemu of instance directory ``d`` if it runs, then delete the directory.

    A corrupt or truncated ``instance.json`` does not stop it: the lock file names the running
    qemu too (the launcher hands the lock to it).
    """
    try:
        state = d.load_state()
    except VmError:
        state = None
    ref = state.qemu if state is not None else None
    if ref is None or not ref.alive():
        ref = d.lock.holder()
        if ref is not None and not _is_qemu(ref.pid):
            ref = None  # a launcher still starting: it fails once its directory is gone
    if ref is not None and ref.alive():
        shutdown(d.qmp_socket, ref, powerdown_timeout=0, quit_timeout=5)
    shutil.rmtree(d.root, ignore_errors=True)


def _is_qemu(pid: int) -> bool:
    """Whether process ``pid`` runs a qemu-system emulator."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return False
    return b"qemu-system" in argv0.rsplit(b"/", 1)[-1]


def clean_instances() -> list[str]:
    """Destroy every instance under the instances directory; say which."""
    removed = []
    root = dirs.instances_dir()
    if root.is_dir():
        for path in sorted(root.iterdir()):
            if path.is_dir():
                destroy(InstanceDir(path))
                removed.append(f"removed instance {path}")
    return removed


def clean_everything() -> list[str]:
    """Destroy every instance, then every cached base image; say what was removed."""
    removed = clean_instances()
    images = dirs.images_dir()
    if images.is_symlink():  # a link to images kept elsewhere: drop the link, not the images
        images.unlink()
        removed.append(f"removed the link {images}")
    elif images.exists():
        shutil.rmtree(images)
        removed.append(f"removed base images {images}")
    return removed


def _tag(base_sha256: str, state: InstanceState, binary: str, shares: list[str]) -> SnapshotTag:
    """The tag a state saved now, with ``state``'s settings and these 9p mount tags, gets."""
    version = qemu.qemu_version(binary)
    return SnapshotTag(
        base_sha256,
        state.memory_mib,
        state.cpus,
        qemu.MACHINE,
        version,
        ",".join(shares),
        state.disk_mib,
    )


def _read_only_shares(shares: Mapping[str, Path]) -> tuple[tuple[str, Path], ...]:
    """``shares`` checked (mount tags, existing directories) and sorted by tag."""
    out = []
    for tag, path in sorted(shares.items()):
        if not _SHARE_TAG.fullmatch(tag) or tag == "project":
            raise UsageError(
                f"invalid share tag {tag!r}",
                hint="lower-case letters, digits, '_' and '-', at most 31; not 'project'",
            )
        resolved = Path(path).resolve()
        if not resolved.is_dir():
            raise UsageError(f"share {tag}: {resolved} is not a directory")
        out.append((tag, resolved))
    return tuple(out)


def _offline_snapshots(overlay: Path) -> list[SnapshotEntry]:
    try:
        out = subprocess.run(
            ["qemu-img", "snapshot", "-l", "-U", str(overlay)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise VmError(f"cannot list the snapshots of {overlay}: {exc}") from exc
    return parse_snapshots(out)


def _uses_cloud_init(image: BootImage) -> bool:
    """Whether the guest runs cloud-init, the only reader of the seed's ``ca_certs`` (the tiny
    guest's seed parser would only pay for scanning a 200 KiB bundle on every boot)."""
    return image.ready_command[:1] == ["cloud-init"]


def _host_ca_bundle() -> str | None:
    """The host's trusted CA bundle, for guest HTTPS behind TLS-inspecting proxies."""
    try:
        return HOST_CA_BUNDLE.read_text(encoding="utf-8")
    except OSError:
        return None
