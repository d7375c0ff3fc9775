"""The :class:`Executor` protocol: run a command, push and pull files, open a shell on a machine.

An executor reaches one machine (a VM's guest, an SSH host) and knows nothing of its lifecycle.
A command is a :class:`Command` (argv, environment, working directory, standard input) or just
its argv; it runs with no shell in between: :func:`command_line` quotes every word. Its result is
a :class:`Completed`. :class:`~workbench.vm.ssh.SshExecutor` implements it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from workbench.errors import BuildError, VmError

Sink = Callable[[str], None]
PULL_LIMIT = 16 << 30  # bytes: `pull` refuses a bigger file unless told a higher limit


@dataclass(frozen=True)
class Command:
    """A command to run: ``argv`` with extra ``env``, in ``cwd``, fed ``stdin``."""

    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    stdin: bytes | None = None

    @classmethod
    def of(cls, command: Command | Sequence[str]) -> Command:
        return command if isinstance(command, Command) else cls(command)

    def line(self) -> str:
        """The remote shell command line, every word quoted (pure)."""
        return command_line(self.argv, env=self.env, cwd=self.cwd)


@dataclass(frozen=True)
class Completed:
    """A finished command."""

    argv: list[str]
    exit_status: int
    stdout: str
    stderr: str

    def check(self) -> Completed:
        """Self, or :class:`BuildError` when the command failed."""
        if self.exit_status != 0:
            last = (self.stderr.strip() or self.stdout.strip()).splitlines()[-1:] or ["no output"]
            raise BuildError(
                f"`{shlex.join(self.argv)}` exited with status {self.exit_status}: {last[0]}",
                details=self.stderr or self.stdout,
            )
        return self


class ConnectionLost(VmError):
    """The connection ended while a command ran (the machine's SSH server or the VM went away)."""


def command_line(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None
) -> str:
    """The remote shell command for ``argv`` with ``env`` and ``cwd``, every word quoted (pure)."""
    if not argv:
        raise VmError("no command given")
    words = list(argv)
    if env:
        words = ["env", *(f"{key}={value}" for key, value in env.items()), *words]
    line = shlex.join(words)
    return f"cd {shlex.quote(cwd)} && {line}" if cwd else line


class Executor(Protocol):
    """Commands and files on one machine."""

    def run(
        self,
        command: Command | Sequence[str],
        *,
        timeout: float | None = None,
        check: bool = False,
        on_stdout: Sink | None = None,
        on_stderr: Sink | None = None,
    ) -> Completed:
        """Run ``command``; stream its output to the sinks; raise on timeout (and with
        ``check``, on a non-zero exit status)."""
        ...

    def push(self, src: Path, dst: str) -> None:
        """Copy the local file ``src`` to ``dst`` on the machine."""
        ...

    def pull(self, src: str, dst: Path, *, max_bytes: int = PULL_LIMIT) -> None:
        """Copy the machine's file ``src`` to the local ``dst``, whole or not at all."""
        ...

    def shell(self) -> int:
        """An interactive login shell on this terminal; its exit status."""
        ...

    def close(self) -> None:
        """Drop the connection (the next call makes a new one)."""
        ...
