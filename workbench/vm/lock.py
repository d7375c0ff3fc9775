"""The instance lock: which live process owns an instance (the launching ``up``, then its qemu).

The lock file holds ``PID START_TIME`` of its owner. A lock is held while that exact process (same
pid *and* same start time, so a recycled pid does not count) is alive and not a zombie. A lock
whose owner is gone is stale: the next :meth:`InstanceLock.acquire` takes it over and says so.
Reading, rewriting and removing the file happen under ``flock`` (on the file the path names at
that moment) so two launches cannot both win, and :meth:`InstanceLock.release` never frees a lock
that another live process holds (``vm down`` while another process's ``up`` is starting).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import VmError


@dataclass(frozen=True)
class ProcessRef:
    """One process, identified by pid and start time (clock ticks after boot)."""

    pid: int
    start_time: int

    @classmethod
    def of(cls, pid: int) -> ProcessRef | None:
        """The reference of the running process ``pid``, or None if there is none."""
        stat = _stat_fields(pid)
        if stat is None:
            return None
        return cls(pid, int(stat[19]))

    @classmethod
    def current(cls) -> ProcessRef:
        ref = cls.of(os.getpid())
        assert ref is not None
        return ref

    def alive(self) -> bool:
        """True while this very process runs (not exited, not a zombie, pid not recycled)."""
        stat = _stat_fields(self.pid)
        return stat is not None and stat[0] != "Z" and int(stat[19]) == self.start_time

    def __str__(self) -> str:
        return f"{self.pid} {self.start_time}"

    @classmethod
    def parse(cls, text: str) -> ProcessRef | None:
        fields = text.split()
        if len(fields) != 2 or not all(f.isdigit() for f in fields):
            return None
        return cls(int(fields[0]), int(fields[1]))


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/PID/stat`` after the command name (state first), or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


class LockHeld(VmError):
    """The instance is owned by another live process."""


class InstanceLock:
    """The lock file of one instance."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _locked(self) -> Iterator[int]:
        """The lock file, flocked; reopened when it was removed while we waited for it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            if current == os.fstat(fd).st_ino:
                break
            os.close(fd)
        try:
            yield fd
        finally:
            os.close(fd)

    @staticmethod
    def _read(fd: int) -> ProcessRef | None:
        os.lseek(fd, 0, os.SEEK_SET)
        return ProcessRef.parse(os.read(fd, 256).decode("ascii", errors="replace"))

    @staticmethod
    def _write(fd: int, owner: ProcessRef) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{owner}\n".encode("ascii"), 0)

    def holder(self) -> ProcessRef | None:
        """The live owner, or None when the lock is free or stale."""
        if not self.path.exists():
            return None
        with self._locked() as fd:
            owner = self._read(fd)
        return owner if owner is not None and owner.alive() else None

    def acquire(self, owner: ProcessRef) -> str | None:
        """Take the lock for ``owner``; return a notice when a stale lock was taken over.

        Raises :class:`LockHeld` when another live process holds it.
        """
        with self._locked() as fd:
            current = self._read(fd)
            notice = None
            if current is not None and current != owner:
                if current.alive():
                    raise LockHeld(
                        f"instance is locked by running process {current.pid} ({self.path})",
                        hint="it is already up or starting; use `vm down` first",
                    )
                notice = f"took over the stale lock of process {current.pid}, which is not running"
            self._write(fd, owner)
        return notice

    def transfer(self, owner: ProcessRef) -> None:
        """Hand the lock to ``owner`` (the launcher gives it to its qemu)."""
        with self._locked() as fd:
            self._write(fd, owner)

    def release(self) -> None:
        """Free the lock, unless another live process holds it."""
        if not self.path.exists():
            return
        with self._locked() as fd:
            owner = self._read(fd)
            if owner is None or owner == ProcessRef.current() or not owner.alive():
                self.path.unlink()
