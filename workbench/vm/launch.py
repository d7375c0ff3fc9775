"""Launching qemu for a prepared instance and waiting until its guest is ready.

:class:`Launcher` pins the guest's host key, starts qemu in its own session (so a terminal's
Ctrl-C never reaches it; Ctrl-C is held back until the state file names the new qemu) and runs
the readiness checks (QMP, port, SSH banner, login, the image's ready command, the clock after a
warm start, the 9p mount), checking at every step that qemu is alive. A failure carries the
diagnosis and the log tails; qemu stays up for debugging when it is still alive, unless
:meth:`Launcher.abandon` finds it orphaned or interrupted.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from workbench import dirs
from workbench.errors import VmError, WorkbenchError
from workbench.files import write_atomic
from workbench.progress import ProgressListener
from workbench.vm import accel as accel_mod
from workbench.vm import qemu, snapshots, teardown, watchdog
from workbench.vm.arch import guest_arch
from workbench.vm.config import InstanceConfig
from workbench.vm.executor import ConnectionLost, Executor
from workbench.vm.hostkeys import HostKeyChanged, HostKeyUnknown, known_hosts_line
from workbench.vm.images import BootImage
from workbench.vm.keys import public_line
from workbench.vm.lock import ProcessRef
from workbench.vm.prepare import uses_cloud_init
from workbench.vm.qmp import Qmp
from workbench.vm.readiness import BANNER_ATTEMPT, Check, port_open, run_checks, wait_banner
from workbench.vm.snapshots import WARM, SnapshotTag, after_load
from workbench.vm.ssh import SshExecutor
from workbench.vm.state import InstanceDir, InstanceState, Phase

log = logging.getLogger(__name__)

LOGIN_USER = "root"


def mount_command(msize: int, mode: str = "ro") -> list[str]:
    """The guest command mounting the project share on /project (idempotent)."""
    options = f"trans=virtio,version=9p2000.L,msize={msize},{mode}"
    return [
        "sh",
        "-c",
        "mkdir -p /project && { grep -qs ' /project 9p ' /proc/mounts"
        f" || mount -t 9p -o {options} project /project; }}",
    ]


def mount_project(ssh: Executor, msize: int, mode: str, timeout: float) -> bool:
    """Mount the project share in the guest (raises when the mount fails)."""
    result = ssh.run(mount_command(msize, mode), timeout=timeout)
    if result.exit_status != 0:
        raise VmError(
            f"cannot mount the project on /project: {result.stderr.strip() or result.stdout}"
        )
    return True


def login(d: InstanceDir, port: int, user: str = LOGIN_USER) -> SshExecutor:
    """A (not yet connected) executor for instance ``d``'s guest on ``port`` as ``user``."""
    return SshExecutor(port=port, user=user, key=d.ssh_key, known_hosts=d.known_hosts)


@dataclass(frozen=True)
class Boot:
    """What one start of qemu runs: the image, emulator, accelerator and saved state to load."""

    image: BootImage
    binary: str
    accel: str
    warm: str | None = None

    def cold(self) -> Boot:
        return replace(self, warm=None)


def plan_boot(
    image: BootImage, state: InstanceState, config: InstanceConfig, notify: Callable[[str], None]
) -> Boot:
    """The emulator, the accelerator and the warm state to start from (if its tag matches)."""
    guest = guest_arch(image.arch)
    binary = config.qemu_binary or guest.qemu_binary
    choice = accel_mod.choose(
        config.accel,
        guest=guest.name,
        probe=partial(accel_mod.probe_kvm, binary, image.kernel, guest),
        cache=dirs.cache_dir() / "accel.json",
        notify=notify,
    )
    if state.state is not Phase.SAVED:
        return Boot(image, binary, choice.accel)
    tag = snapshots.tag_now(image.sha256, state, binary, guest.machine, config.mount_tags)
    problems = snapshots.mismatches(SnapshotTag.from_json(state.snapshots.get(WARM, {})), tag)
    if problems:
        notify(f"cold boot: the saved state does not match ({'; '.join(problems)})")
        return Boot(image, binary, choice.accel)
    return Boot(image, binary, choice.accel, WARM)


class Launcher:
    """Starts the qemu of instance directory ``d`` and waits until its guest is ready."""

    def __init__(
        self, d: InstanceDir, project: Path, config: InstanceConfig, listener: ProgressListener
    ) -> None:
        self.d = d
        self.project = project
        self.config = config
        self.listener = listener
        self.proc: subprocess.Popen[bytes] | None = None

    def alive(self) -> subprocess.Popen[bytes] | None:
        """The qemu this launcher started, while it runs."""
        return self.proc if self.proc is not None and self.proc.poll() is None else None

    def start(self, boot: Boot, state: InstanceState) -> SshExecutor:
        """Start qemu and run the readiness checks; the guest's logged-in executor."""
        d, config = self.d, self.config
        port = config.ssh_port or qemu.free_port()
        write_atomic(d.known_hosts, known_hosts_line(port, public_line(d.host_key)))
        cfg = qemu.QemuConfig(
            name=d.name,
            kernel=boot.image.kernel,
            initrd=boot.image.initrd,
            append=f"{boot.image.append} {config.extra_append}".strip(),
            overlay=d.overlay,
            seed_iso=d.seed_iso,
            qmp_socket=d.qmp_socket,
            serial_log=d.serial_log,
            ssh_port=port,
            project=self.project if config.share_project else None,
            accel=boot.accel,
            memory_mib=config.memory_mib,
            cpus=config.cpus,
            arch=boot.image.arch,
            binary=boot.binary,
            loadvm=boot.warm,
            shares=config.share_list,
            project_writable=config.share_mode == "rw",
        )
        argv = qemu.qemu_argv(cfg)
        d.qmp_socket.unlink(missing_ok=True)
        d.serial_log.unlink(missing_ok=True)  # this boot's console only
        log.info("starting %s", " ".join(argv))
        with interrupt_deferred():  # Ctrl-C waits until the state file names the new qemu
            proc = self.proc = qemu.start(argv, d.qemu_log)
            ref = ProcessRef.of(proc.pid)
            state = state.launched(
                ref, state=Phase.STARTING, port=port, accel=boot.accel, argv=argv
            )
            d.save_state(state)
            if ref is not None:
                d.lock.transfer(ref)
            watchdog.spawn(self.project, d.root)  # the deadline holds if we die now
        ssh = login(d, port)
        try:
            run_checks(
                self._checks(boot, ssh, port),
                qemu_alive=lambda: proc.poll() is None,
                listener=self.listener,
                task=f"{'warm start' if boot.warm else 'boot'} {d.name}",
            )
        except WorkbenchError as err:
            alive = proc.poll() is None
            d.save_state(replace(state, state=Phase.FAILED if alive else Phase.STARTING))
            ssh.close()
            raise d.diagnosed(err, type(err) if isinstance(err, VmError) else VmError) from err
        d.save_state(replace(state, state=Phase.RUNNING))
        log.info("instance %s ready on port %d", d.name, port)
        return ssh

    def _checks(self, boot: Boot, ssh: SshExecutor, port: int) -> list[Check]:
        t = self.config.timeouts
        image = boot.image

        def qmp_ready(left: float) -> bool:
            try:
                with Qmp(self.d.qmp_socket).connect(deadline=min(left, 1.0)) as qmp:
                    return qmp.status() in ("running", "paused", "inmigrate", "restore-vm")
            except VmError:
                return False

        def logged_in(left: float) -> bool:
            try:
                ssh.connect(timeout=min(left, 20.0))
            except (HostKeyChanged, HostKeyUnknown):
                raise  # no retry makes a key other than the pinned one acceptable
            except VmError:
                return False
            return True

        def ready(left: float) -> bool:
            try:
                result = ssh.run(image.ready_command, timeout=left)
            except ConnectionLost:
                return False  # the next attempt logs in again
            if result.exit_status != 0 and uses_cloud_init(image):
                # `cloud-init status --wait` only returns once cloud-init has finished: a
                # non-zero status is its final word, not "not yet".
                raise VmError(
                    "cloud-init finished with errors",
                    hint=f"run `python -m workbench vm logs`, or see {self.d.serial_log}",
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
                lambda left: wait_banner(port, min(left, BANNER_ATTEMPT)) is not None,
                t.banner,
                f"see {self.d.serial_log}",
                timeout_message=f"the guest's SSH server never answered on port {port}",
            ),
            Check("SSH login", logged_in, t.login, "the guest rejected the instance key"),
        ]
        if boot.warm:  # the state was saved after its first-boot setup had finished
            checks += [
                Check("guest clock", guest_run(argv), t.mount, "setting the clock failed")
                for argv in after_load(time.time())
            ]
        else:
            checks.append(
                Check(
                    "first-boot setup",
                    ready,
                    t.ready,
                    f"`{' '.join(image.ready_command)}` never succeeded",
                )
            )
        if self.config.share_project:
            mode = self.config.share_mode
            checks.append(
                Check(
                    "project mounted on /project",
                    lambda left: mount_project(ssh, self.config.msize, mode, left),
                    t.mount,
                    "the 9p mount failed",
                )
            )
        return checks

    def abandon(self, exc: BaseException, *, saved: bool) -> None:
        """After a start failed with ``exc``: stop the qemu it started unless that qemu is a
        failed guest recorded for debugging. Ctrl-C always stops it (a half-booted guest serves
        no one), and so does any error before the state file named the new qemu (it would be
        an orphan nobody can find). ``saved``: the warm state it came from is still there.

        SIGTERM to qemu's process group, not QMP: qemu exits cleanly on it (disk flushed), and
        the interrupt may have hit this process halfway through importing the QMP client.
        """
        d = self.d
        state = d.load_state()
        proc = self.alive()
        if proc is not None:  # the qemu this call started; an orphan unless the state names it
            pid, orphan = proc.pid, state is None or state.pid != proc.pid
        elif state is not None and state.qemu is not None and d.qemu_alive(state):
            pid, orphan = state.qemu.pid, False
        else:
            return
        if not orphan and not isinstance(exc, KeyboardInterrupt):
            return  # a failed guest stays up for `vm logs` / `vm shell`, as recorded
        teardown.stop_group(pid, self.config.timeouts.quit)
        if proc is not None:
            proc.poll()
        if state is not None:
            d.save_state(replace(state, state=Phase.SAVED if saved else Phase.STOPPED))


@contextlib.contextmanager
def interrupt_deferred() -> Iterator[None]:
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
