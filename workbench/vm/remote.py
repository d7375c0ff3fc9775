"""The SSH host provider: build on a machine the user already has (``--host user@address[:port]``).

A real arm64 board or a bigger server runs the same lifecycle as the qemu guest, over one
:class:`~workbench.vm.ssh.SshExecutor`: key-based login (``--identity KEY``, else the user's
``~/.ssh/id_ed25519``, ``id_ecdsa`` or ``id_rsa``; no agent, no password), its host key pinned
only after the user confirmed it (:mod:`workbench.vm.pins`). Everything lives under
``~/.cache/workbench-host`` of the login user on the host: the workbench venv (its wheelhouse
pushed over SFTP: no 9p share there), one copy of each project (pushed as a tar file before
every build: the host never sees the local directory) and its parts/, stage/ and prime/. The
lifecycle runs as the login user; root-only steps (build-packages) run as root through
``sudo -n`` unless the login user is root. The host needs Python 3.11 (the wheelhouse's) with
``python3-venv``-less ``venv`` support, python3-apt and squashfs-tools, as the debian-12 image has.

The workbench neither starts nor stops the host: ``up`` logs in and copies the project, ``down``
only drops the connection, and there are no snapshots.
"""

from __future__ import annotations

import shlex
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from workbench import dirs
from workbench.errors import UsageError, VmError
from workbench.lifecycle.guest import IGNORED_SOURCES
from workbench.progress import ProgressListener, ignore
from workbench.vm import diagnose
from workbench.vm.executor import PULL_LIMIT, Command, Completed, Sink
from workbench.vm.pins import HostTarget, pins_file
from workbench.vm.provider import Layout
from workbench.vm.ssh import SshExecutor
from workbench.vm.state import InstanceDir, Status, StatusReport, instance_name

HOST_ROOT = ".cache/workbench-host"
"""The workbench's directory on the host, relative to the login user's home."""
SKIPPED = (*IGNORED_SOURCES, ".git")
"""Top-level entries of the project that are not copied to the host."""


def no_snapshots(target: HostTarget) -> UsageError:
    return UsageError(
        f"{target} is an SSH host: it has no snapshots",
        hint="snapshots are for qemu VMs: drop --host",
    )


class RemoteHost:
    """An existing machine reached over SSH, building ``project`` (None: commands only)."""

    listener: ProgressListener = ignore

    def __init__(
        self,
        target: HostTarget,
        project: Path | None = None,
        *,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.target = target
        self.project = (project or Path(".")).resolve()
        self._copies = project is not None
        self.notify = notify or (lambda _line: None)
        self.layout = Layout(login_user=target.user, build_user=target.user)
        self._cpus = 1
        self._ssh = SshExecutor(
            host=target.host,
            port=target.port,
            user=target.user,
            key=target.key_file(),
            known_hosts=pins_file(),
        )

    @property
    def dir(self) -> InstanceDir:
        """The local records of builds of this project on this host."""
        host = f"{self.target.user}@{self.target.host}-{self.target.port}"
        return InstanceDir(dirs.cache_dir() / "hosts" / host / instance_name(self.project))

    @property
    def cpus(self) -> int:
        return self._cpus

    def status(self) -> StatusReport:
        return StatusReport(
            name=str(self.target),
            project=str(self.project),
            status=Status.REMOTE,
            directory=str(self.dir.root),
            port=self.target.port,
            cpus=self._cpus,
        )

    def up(self, *, stop_after: float | None = None, source: str = "vm up") -> None:
        """Log in, learn the host's layout and CPU count, copy the project (``stop_after`` and
        ``source`` do not apply: the host is not stopped)."""
        home = self._ssh.run(["sh", "-c", 'printf %s "$HOME"'], check=True).stdout
        if not home.startswith("/"):
            raise VmError(f"{self.target} has no usable home directory ({home!r})")
        root = f"{home}/{HOST_ROOT}"
        copy = f"{root}/projects/{instance_name(self.project)}"
        self.layout = replace(
            self.layout,
            root=root,
            project=f"{copy}/project",
            work_root=f"{copy}/work",
            parts_cache=f"{root}/parts-cache",
            wheelhouse_share=False,
        )
        probe = self._ssh.run(["sh", "-c", "nproc && python3 -V"], timeout=60)
        if probe.exit_status != 0:
            raise VmError(
                f"{self.target} cannot build: `nproc && python3 -V` failed",
                hint="the host needs python3 (3.11, as in Debian 12)",
                details=probe.stderr,
            )
        self._cpus = int(probe.stdout.split()[0])
        if self._copies:
            self._copy_project()

    def _copy_project(self) -> None:
        """Replace the host's copy of the project with the local directory (tar over SFTP)."""
        target = self.layout.project
        self.notify(f"copying {self.project} to {self.target}:{target}")
        with tempfile.TemporaryDirectory(prefix="workbench-copy-") as scratch:
            tar = Path(scratch) / "project.tar"
            with tarfile.open(tar, "w") as archive:
                for child in sorted(self.project.iterdir()):
                    if not any(child.match(pattern) for pattern in SKIPPED):
                        archive.add(child, arcname=child.name)
            remote_tar = f"{target}.tar"
            self.exec(["mkdir", "-p", str(Path(target).parent)], check=True)
            self._ssh.push(tar, remote_tar)
        unpack = (
            'rm -rf "$1" && mkdir -p "$1" && tar --no-same-owner -xf "$2" -C "$1" && rm -f "$2"'
        )
        self.exec(["sh", "-c", unpack, "unpack", target, remote_tar], check=True)

    def exec(
        self,
        command: Command | Sequence[str],
        *,
        timeout: float | None = None,
        check: bool = False,
        on_stdout: Sink | None = None,
        on_stderr: Sink | None = None,
    ) -> Completed:
        """Run ``command`` on the host as the login user."""
        return self._ssh.run(
            command, timeout=timeout, check=check, on_stdout=on_stdout, on_stderr=on_stderr
        )

    def push(self, src: Path, dst: str) -> None:
        if not src.is_file():
            raise UsageError(f"{src}: no such file to push")
        self._ssh.push(src, dst)

    def pull(self, src: str, dst: Path, *, max_bytes: int = PULL_LIMIT) -> None:
        self._ssh.pull(src, dst, max_bytes=max_bytes)

    def shell(self, *, user: str | None = None) -> int:
        """An interactive login shell as the login user (the only user it can be)."""
        if user not in (None, self.target.user):
            raise UsageError(f"a shell on {self.target} is a shell as {self.target.user}")
        return self._ssh.shell()

    def explain(self, text: str) -> diagnose.Diagnosis | None:
        """The known failure behind ``text`` (there are no VM logs to add)."""
        return diagnose.diagnose({diagnose.ERROR: text}, {})

    def close(self) -> None:
        self._ssh.close()

    def down(self, *, save: bool = False) -> str:
        if save:
            raise no_snapshots(self.target)
        self.close()
        return "disconnected (an SSH host is not stopped)"

    def clean(self) -> None:
        """Delete the host's copy of the project and its build directories."""
        copy = f"{HOST_ROOT}/projects/{instance_name(self.project)}"
        self.exec(["sh", "-c", f"rm -rf ~/{shlex.quote(copy)}"], check=True)

    def snapshot(self, name: str = "default") -> None:
        raise no_snapshots(self.target)


class HostProvider:
    """Makes :class:`RemoteHost` machines on the one host ``target``."""

    name = "ssh"
    snapshots = False

    def __init__(self, target: HostTarget, *, notify: Callable[[str], None] | None = None) -> None:
        self.target = target
        self.notify = notify

    def machine(self, project: Path) -> RemoteHost:
        return RemoteHost(self.target, project, notify=self.notify)
