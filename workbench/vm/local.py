"""The qemu provider: :class:`Instance`, one project's build VM on this host, launch to clean.

``up`` takes the instance lock, prepares the instance directory (:mod:`~workbench.vm.prepare`),
chooses the accelerator and launches qemu (:mod:`~workbench.vm.launch`). ``down --save`` stores a
warm-start state that the next ``up`` loads when its tag still matches
(:mod:`~workbench.vm.snapshots`). The instance directory is the only state: a second
:class:`Instance` for the same project (another process, the CLI) sees the same instance.

Before qemu starts, ``up`` refuses a base image whose files no longer match its sha256 and an
overlay that fails ``qemu-img check``, and warns when the guest RAM asked for exceeds the host's
available memory. Ctrl-C during ``up`` stops the qemu it started (SIGTERM, then SIGKILL) and frees
the lock; a warm state it started from stays for the next ``up``. Ctrl-C during ``exec`` ends only
the client: qemu keeps running and holding the lock, and the guest command runs on to its end (no
pty, so no hangup). A lost SSH connection fails the command at once; when qemu is gone, the error
says the VM died, with the last lines of its logs, and ``up`` boots it again from its overlay.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from workbench.errors import BuildError, UsageError, VmError, WorkbenchError
from workbench.progress import ProgressListener, ignore
from workbench.vm import diagnose, qemu, rekey, snapshots, teardown, watchdog
from workbench.vm.config import InstanceConfig, Timeouts
from workbench.vm.executor import PULL_LIMIT, Command, Completed, ConnectionLost, Sink
from workbench.vm.image_index import entry
from workbench.vm.images import BootImage, ensure_image, verify
from workbench.vm.launch import LOGIN_USER, Launcher, login, mount_project, plan_boot
from workbench.vm.lock import ProcessRef
from workbench.vm.prepare import prepare, write_seed
from workbench.vm.provider import Layout
from workbench.vm.qmp import shutdown
from workbench.vm.readiness import QemuExited
from workbench.vm.snapshots import BEFORE_SAVE, WARM, SnapshotInfo, SnapshotTag, check_name
from workbench.vm.ssh import SshExecutor
from workbench.vm.state import InstanceDir, InstanceState, Phase, Status, StatusReport

log = logging.getLogger(__name__)


def _arch_of(image: str | BootImage) -> str:
    """The architecture of ``image`` (a cached image, or a name in the image index)."""
    return image.arch if isinstance(image, BootImage) else entry(image).arch


class Instance:
    """The build VM of one project (a context manager that stops what it started)."""

    layout = Layout()

    def __init__(
        self,
        project: Path | str = ".",
        config: InstanceConfig | None = None,
        *,
        listener: ProgressListener = ignore,
        notify: Callable[[str], None] | None = None,
        instances: Path | None = None,
    ) -> None:
        self.project = Path(project).resolve()
        if not self.project.is_dir():
            raise UsageError(f"project directory {self.project} does not exist")
        self.config = config or InstanceConfig()
        self._dir = InstanceDir.for_project(
            self.project, instances=instances, arch=_arch_of(self.config.image)
        )
        self.listener = listener
        self.notify = notify or (lambda line: print(f"workbench: {line}", file=sys.stderr))
        self._ssh: SshExecutor | None = None
        self._launcher: Launcher | None = None
        self._started = False

    @property
    def dir(self) -> InstanceDir:
        return self._dir

    @property
    def cpus(self) -> int:
        return self.config.cpus

    @property
    def memory_mib(self) -> int:
        return self.config.memory_mib

    @property
    def share_mode(self) -> str:
        return self.config.share_mode

    @property
    def timeouts(self) -> Timeouts:
        return self.config.timeouts

    @timeouts.setter
    def timeouts(self, value: Timeouts) -> None:
        self.config = replace(self.config, timeouts=value)

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

    def _require_state(self) -> InstanceState:
        state = self.dir.load_state()
        if state is None:
            raise UsageError(f"no instance for {self.project}", hint="run `vm up` first")
        return state

    def _alive(self, state: InstanceState | None) -> bool:
        proc = self._launcher.proc if self._launcher is not None else None
        if proc is not None and state is not None and state.pid == proc.pid:
            proc.poll()  # reaps our own qemu once it has exited
        # one rule for every caller: a qemu whose main thread has exited is gone, though its
        # other threads may still be ending (no zombie to reap yet: poll() would say running)
        return self.dir.qemu_alive(state)

    def status(self) -> StatusReport:
        state = self.dir.load_state()
        return self.dir.report(self.project, state, alive=self._alive(state))

    def logs(self) -> dict[str, Path]:
        return self.dir.logs()

    # -- launch ----------------------------------------------------------------------------------

    def _boot_image(self) -> BootImage:
        image = self.config.image
        if isinstance(image, BootImage):
            return image
        return ensure_image(image, listener=self.listener)

    def up(self, *, stop_after: float | None = None, source: str = "vm up") -> None:
        """Start the instance and wait until the guest is ready (refused when already locked).

        It stops by itself (state saved) once idle for ``stop_after`` seconds (default:
        ``WORKBENCH_STOP_AFTER_IDLE``, else 30 min); ``source`` says who started it. The deadline
        and the watchdog exist from before qemu starts, so a launcher that dies leaves no orphan.
        """
        idle = watchdog.default_idle(os.environ) if stop_after is None else stop_after
        d = self.dir
        d.create()
        notice = d.lock.acquire(ProcessRef.current())
        if notice:
            self.notify(notice)
        previous = d.load_state()
        grace = self.config.timeouts.boot
        watchdog.write(d.root, watchdog.armed(idle, source=source, now=time.time(), grace=grace))
        launcher = self._launcher = Launcher(d, self.project, self.config, self.listener)
        try:
            memory = diagnose.memory_notice(self.config.memory_mib, diagnose.host_meminfo())
            if memory:
                self.notify(memory)
            image = self._boot_image()
            state = prepare(d, image, self.config, project=self.project, notify=self.notify)
            verify(image)
            boot = plan_boot(image, state, self.config, self.notify)
            self.close()
            try:
                self._ssh = launcher.start(boot, state)
                if rekey.due(d):
                    self._ssh = rekey.rekey(
                        d, self._ssh, user=image.user, write_seed=lambda: write_seed(d, image)
                    )
            except QemuExited as err:
                found = d.explain(err.brief)
                if boot.warm is None or found is None:
                    raise
                if found.failure.key != "snapshot-incompatible":
                    raise
                self.notify(f"cold boot: qemu could not load the saved state ({found.evidence})")
                self._ssh = launcher.start(boot.cold(), state)
        except BaseException as exc:
            saved = previous is not None and previous.state is Phase.SAVED
            launcher.abandon(exc, saved=saved)
            if not self._alive(d.load_state()):
                d.lock.release()
            raise
        self._started = True
        watchdog.touch(d.root)  # idle from now on
        watchdog.spawn(self.project, d.root)  # bounds serial.log, keeps deadlines

    def running_share_mode(self) -> str:
        """How the last launched qemu exports the project: ``rw`` or ``ro``."""
        state = self.dir.load_state()
        return "rw" if state is not None and qemu.project_writable(state.argv) else "ro"

    def _mount(self) -> None:
        mode = self.running_share_mode()  # as the running qemu exports it
        mount_project(self._executor(), self.config.msize, mode, self.config.timeouts.mount)

    # -- use -------------------------------------------------------------------------------------

    def _executor(self) -> SshExecutor:
        if self._ssh is not None and self._ssh.connected:
            return self._ssh
        state = self._running()
        assert state.port is not None
        self._ssh = login(self.dir, state.port)
        self._ssh.connect()
        return self._ssh

    def exec(
        self,
        command: Command | Sequence[str],
        *,
        timeout: float | None = None,
        check: bool = False,
        on_stdout: Sink | None = None,
        on_stderr: Sink | None = None,
    ) -> Completed:
        """Run ``command`` in the guest as root; ``check``: a failure raises a diagnosed
        BuildError.

        A lost connection raises :class:`~workbench.vm.executor.ConnectionLost`, or the error
        saying the VM died when qemu is gone. The VM's idle deadline restarts before and after.
        """
        watchdog.touch(self.dir.root)
        try:
            result = self._executor().run(
                command, timeout=timeout, on_stdout=on_stdout, on_stderr=on_stderr
            )
        except ConnectionLost as err:
            raise self.crash_error() or err from err
        watchdog.touch(self.dir.root)
        if check and result.exit_status != 0:
            try:
                result.check()
            except BuildError as err:
                raise self.dir.diagnosed(err, BuildError) from err
        return result

    def explain(self, text: str) -> diagnose.Diagnosis | None:
        """The known failure behind ``text`` (e.g. a failed command's stderr), if any."""
        return self.dir.explain(text)

    def shell(self, *, user: str = LOGIN_USER) -> int:
        """An interactive login shell as ``user`` in the guest on this terminal; its exit status.

        ``user``: root or the image's user (the seed authorizes the instance key for both).
        """
        if user == LOGIN_USER:
            return self._executor().shell()
        state = self._running()
        assert state.port is not None
        ssh = login(self.dir, state.port, user)
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

    def _running(self) -> InstanceState:
        state = self._require_state()
        if not self._alive(state) or state.port is None:
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
        state = self.dir.load_state()
        if state is None or self.dir.status() is not Status.CRASHED:
            return None
        return self.dir.diagnosed(
            VmError(
                f"the VM of instance {self.dir.name} died: its qemu (pid {state.pid}) is gone",
                hint="`vm up` starts it again from its disk; `vm logs` shows the logs",
            )
        )

    def snapshot(self, name: str = "default") -> SnapshotTag:
        """Save the running VM's state as ``name`` (9p unmounted around it); return its tag."""
        check_name(name)
        state = self._running()
        try:
            snapshots.save(self.dir, self._executor(), name, state)
        finally:
            if self.config.share_project:
                self._mount()
        return snapshots.running_tag(state)

    def load_snapshot(self, name: str = "default") -> None:
        """Bring the running VM back to the state ``name`` (refused when its tag differs)."""
        check_name(name)
        state = self._running()
        ssh = self._executor()
        for argv in BEFORE_SAVE:
            ssh.run(argv, timeout=120)
        self.close()
        snapshots.load(self.dir, name, state)
        ssh = self._executor()
        for argv in snapshots.after_load(time.time()):
            ssh.run(argv, timeout=60, check=True)
        if self.config.share_project:
            self._mount()

    def delete_snapshot(self, name: str) -> None:
        snapshots.delete(self.dir, check_name(name), self._running())

    def snapshots(self) -> list[SnapshotInfo]:
        """The saved states in the overlay, with their tags and loadability."""
        state = self._require_state()
        return snapshots.listing(self.dir, state, running=self._alive(state))

    # -- stop ------------------------------------------------------------------------------------

    def down(self, *, save: bool = False) -> str:
        """Stop the instance; with ``save`` store the warm-start state first. Say how it stopped."""
        d = self.dir
        state = d.load_state()
        if state is None or not self._alive(state):
            if save:
                raise VmError(f"instance {d.name} is not running; nothing to save")
            if state is not None and state.state is not Phase.SAVED:
                d.save_state(replace(state, state=Phase.STOPPED))
            d.lock.release()
            self.close()
            return "not running"
        ref = state.qemu
        assert ref is not None
        if save:
            state = snapshots.save(d, self._executor(), WARM, state)
            powerdown = 0.0
        else:
            try:
                self._executor().run(list(BEFORE_SAVE[0]), timeout=30)
            except VmError as err:
                log.warning("could not sync the guest before stopping: %s", err)
            powerdown = self.config.timeouts.powerdown
        self.close()
        how = shutdown(
            d.qmp_socket, ref, powerdown_timeout=powerdown, quit_timeout=self.config.timeouts.quit
        )
        if self._launcher is not None and self._launcher.proc is not None:
            self._launcher.proc.poll()
        d.save_state(replace(state, state=Phase.SAVED if save else Phase.STOPPED))
        d.lock.release()
        self._started = False
        return how

    def clean(self) -> None:
        """Stop the instance (no waiting for the guest) and delete its directory."""
        self.close()
        teardown.destroy(self.dir)
        self._started = False


class QemuProvider:
    """Makes the qemu VMs: one :class:`Instance` per project, with ``config``."""

    name = "qemu"
    snapshots = True

    def __init__(
        self,
        config: InstanceConfig | None = None,
        *,
        notify: Callable[[str], None] | None = None,
        instances: Path | None = None,
    ) -> None:
        self.config = config or InstanceConfig()
        self.notify = notify
        self.instances = instances

    def machine(self, project: Path) -> Instance:
        return Instance(project, self.config, notify=self.notify, instances=self.instances)
