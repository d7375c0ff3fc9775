"""What a build needs from the machine it runs on (:class:`Machine`) and who supplies it
(:class:`Provider`).

A provider creates, launches, warms, snapshots and destroys machines of one kind: the qemu
provider (:class:`~workbench.vm.local.QemuProvider`) makes one VM per project on this host; the
SSH host provider (:class:`~workbench.vm.remote.HostProvider`) uses a machine the user already
has. The lifecycle (:mod:`workbench.lifecycle.session`) only sees these protocols, so a new base
image or backend is one new provider. :class:`Layout` says where a build lives on a machine and
which user runs what.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from workbench.progress import ProgressListener
from workbench.vm.executor import PULL_LIMIT, Command, Completed, Sink
from workbench.vm.state import InstanceDir, StatusReport

if TYPE_CHECKING:
    from workbench.vm.diagnose import Diagnosis


@dataclass(frozen=True)
class Layout:
    """Where a build lives on a machine, and who runs it (defaults: the qemu guest's).

    ``login_user`` runs every command; ``build_user`` runs the lifecycle (the login user itself
    when they are the same, else through ``runuser``: the login user is then root); root-only
    steps run directly as a root login, else through ``sudo -n`` (passwordless sudo needed).
    ``wheelhouse_share``: the wheelhouse reaches the machine as the read-only 9p share (else it
    is pushed over SFTP).
    """

    project: str = "/project"
    work_root: str = "/build"
    parts_cache: str = "/var/cache/workbench/parts"
    root: str = "/opt/workbench"
    build_user: str = "workbench"
    login_user: str = "root"
    wheelhouse_share: bool = True

    @property
    def venv(self) -> str:
        return f"{self.root}/venv"

    @property
    def python(self) -> str:
        return f"{self.venv}/bin/python"

    @property
    def marker(self) -> str:
        """The file holding the key of the workbench installed in the venv."""
        return f"{self.root}/wheelhouse.key"

    @property
    def deps_marker(self) -> str:
        """The file holding the key of the dependencies installed in the venv."""
        return f"{self.root}/deps.key"

    def as_build_user(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run as the build user (``runuser`` keeps the environment)."""
        if self.build_user == self.login_user:
            return list(argv)
        return ["runuser", "-u", self.build_user, "--", *argv]

    def as_root(self, command: Command) -> Command:
        """``command`` run as root (``sudo -n env ...`` from another login: sudo resets the
        environment, so it is passed on its command line)."""
        if self.login_user == "root":
            return command
        env = [f"{key}={value}" for key, value in command.env.items()]
        argv = ["sudo", "-n", "env", *env, *command.argv]
        return Command(argv, cwd=command.cwd, stdin=command.stdin)


class Machine(Protocol):
    """One place a project builds: commands, files, a shell, and a local records directory."""

    project: Path
    layout: Layout
    listener: ProgressListener

    @property
    def dir(self) -> InstanceDir:
        """The local directory of its records (build log, events, the injected marker)."""
        ...

    @property
    def cpus(self) -> int: ...

    def status(self) -> StatusReport: ...

    def up(self, *, stop_after: float | None = None, source: str = "vm up") -> None:
        """Make it ready to run commands (boot a VM; log in to a host, copy the project)."""
        ...

    def exec(
        self,
        command: Command | Sequence[str],
        *,
        timeout: float | None = None,
        check: bool = False,
        on_stdout: Sink | None = None,
        on_stderr: Sink | None = None,
    ) -> Completed: ...

    def push(self, src: Path, dst: str) -> None: ...

    def pull(self, src: str, dst: Path, *, max_bytes: int = PULL_LIMIT) -> None: ...

    def shell(self, *, user: str) -> int: ...

    def explain(self, text: str) -> Diagnosis | None: ...

    def close(self) -> None: ...


class Provider(Protocol):
    """Makes the machines of one kind; says what they support."""

    name: str
    snapshots: bool  # whether its machines save and load VM states

    def machine(self, project: Path) -> Machine:
        """The machine that builds ``project`` (nothing starts yet)."""
        ...
