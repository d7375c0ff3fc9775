"""One QMP client (qemu.qmp's synchronous shim) for status, snapshots and shutdown.

Snapshots go through ``human-monitor-command`` (savevm/loadvm/delvm/info snapshots). Those HMP
commands print nothing on success; any text in the reply is qemu refusing, and becomes a
:class:`~workbench.errors.VmError` carrying that text (for example the 9p migration blocker).
Shutdown nests its timeouts: ACPI powerdown, then ``quit``, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar

from workbench.errors import VmError
from workbench.vm.lock import ProcessRef

T = TypeVar("T")


@dataclass(frozen=True)
class SnapshotEntry:
    """One line of ``info snapshots``."""

    tag: str
    vm_size: str
    date: str
    vm_clock: str


def parse_snapshots(text: str) -> list[SnapshotEntry]:
    """The rows of HMP ``info snapshots`` output (pure)."""
    entries = []
    in_table = False
    for line in text.splitlines():
        fields = line.split()
        if fields[:2] == ["ID", "TAG"]:
            in_table = True
            continue
        if not in_table or len(fields) < 7:
            continue
        # ID TAG SIZE UNIT DATE TIME VM-CLOCK [ICOUNT]
        entries.append(
            SnapshotEntry(fields[1], " ".join(fields[2:4]), " ".join(fields[4:6]), fields[6])
        )
    return entries


@contextlib.contextmanager
def _quiet_library_log() -> Iterator[None]:
    """Keep qemu.qmp from logging every refused connection attempt as an ERROR."""
    logger = logging.getLogger("qemu.qmp")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


class _Worker:
    """One daemon thread running submitted calls in order (so they share its event loop).

    A daemon, so that a call stuck on a frozen qemu never keeps the interpreter from exiting. A
    call whose caller stopped waiting has its late result handed to ``dispose`` (a client that
    connected after its deadline is closed here, on its own loop, not at interpreter exit).
    """

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[_Call[Any] | None] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="qmp", daemon=True).start()

    def _serve(self) -> None:
        while (item := self._calls.get()) is not None:
            try:
                result = item.call()
            except BaseException as exc:  # handed to the caller, re-raised there
                item.future.set_exception(exc)
                continue
            item.future.set_result(result)
            if item.gave_up.is_set() and item.dispose is not None:
                with contextlib.suppress(Exception):
                    item.dispose(result)

    def run(
        self,
        call: Callable[[], T],
        timeout: float | None,
        dispose: Callable[[T], object] | None = None,
    ) -> T:
        item = _Call(call, Future(), threading.Event(), dispose)
        self._calls.put(item)
        try:
            return item.future.result(timeout)
        except FutureTimeout:
            item.gave_up.set()
            dispose = item.dispose
            finished = item.future.done() and item.future.exception() is None
            if finished and dispose is not None:  # it finished meanwhile
                late = item.future.result()
                with contextlib.suppress(Exception):
                    self.run(lambda: dispose(late), timeout)
            raise TimeoutError(f"no answer within {timeout:g} s") from None

    def stop(self) -> None:
        self._calls.put(None)


@dataclass(frozen=True)
class _Call(Generic[T]):
    """A call for the worker, its result, whether the caller gave up, what disposes a late
    result."""

    call: Callable[[], T]
    future: Future[T]
    gave_up: threading.Event
    dispose: Callable[[T], object] | None


class Qmp:
    """A connected QMP session on an instance's socket (a context manager).

    qemu.qmp's synchronous shim drives an asyncio loop of its own, which cannot run inside a
    thread whose loop is already running (a Jupyter kernel's). So every call runs on one private
    worker thread with its own loop, whichever thread the caller is on, and every call has a
    deadline (a frozen qemu accepts the connection but never greets).
    """

    def __init__(self, socket_path: Path, *, timeout: float = 10.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._client: Any = None
        self._worker = _Worker()

    def _run(self, call: Callable[[], T], timeout: float | None = None) -> T:
        return self._worker.run(call, timeout or self.timeout)

    def _connect_once(self) -> Any:
        from qemu.qmp.legacy import QEMUMonitorProtocol  # noqa: PLC0415 (heavy: loaded when used)

        client = QEMUMonitorProtocol(str(self.socket_path))
        try:
            with _quiet_library_log():
                client.connect()
        except BaseException:
            client.close()
            raise
        client.settimeout(self.timeout)
        return client

    def connect(self, *, deadline: float = 10.0) -> Qmp:
        """Connect, retrying until qemu has created its socket or ``deadline`` s passed."""
        from qemu.qmp import QMPError  # noqa: PLC0415 (heavy: loaded when used)

        end = time.monotonic() + deadline
        while True:
            try:
                self._client = self._worker.run(
                    self._connect_once,
                    max(end - time.monotonic(), 0.5),
                    dispose=lambda client: client.close(),
                )
                return self
            except (QMPError, OSError) as exc:
                if time.monotonic() >= end:
                    self.close()
                    raise VmError(
                        f"cannot connect to qemu's QMP socket {self.socket_path}: {exc}",
                        hint="is the instance running? see `vm status`",
                    ) from exc
                time.sleep(0.1)

    def __enter__(self) -> Qmp:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(OSError, EOFError, TimeoutError):
                self._run(client.close)
        self._worker.stop()

    def command(self, name: str, **args: object) -> Any:
        """Run one QMP command and return its ``return`` value."""
        from qemu.qmp import QMPError  # noqa: PLC0415 (heavy: loaded when used)

        if self._client is None:
            self.connect()
        client = self._client
        try:
            return self._run(lambda: client.cmd(name, **args))
        except (QMPError, OSError, EOFError, TimeoutError) as exc:
            raise VmError(f"QMP {name} failed: {exc or type(exc).__name__}") from exc

    def status(self) -> str:
        """The run state (``running``, ``paused``, ``inmigrate``, ...)."""
        return str(self.command("query-status")["status"])

    def hmp(self, command_line: str) -> str:
        """The text output of one human-monitor command."""
        return str(self.command("human-monitor-command", **{"command-line": command_line}))

    def _quiet_hmp(self, command_line: str) -> None:
        out = self.hmp(command_line).strip()
        if out:
            raise VmError(f"qemu refused `{command_line}`: {out.splitlines()[0]}", details=out)

    def savevm(self, tag: str) -> None:
        self._quiet_hmp(f"savevm {tag}")

    def loadvm(self, tag: str) -> None:
        self._quiet_hmp(f"loadvm {tag}")

    def delvm(self, tag: str) -> None:
        self._quiet_hmp(f"delvm {tag}")

    def snapshots(self) -> list[SnapshotEntry]:
        return parse_snapshots(self.hmp("info snapshots"))


def wait_exit(qemu: ProcessRef, timeout: float) -> bool:
    """Wait up to ``timeout`` s for ``qemu`` to end (reaping it if it is our child)."""
    end = time.monotonic() + timeout
    while True:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(qemu.pid, os.WNOHANG)
        if not qemu.alive():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.1)


def shutdown(
    socket_path: Path,
    qemu: ProcessRef,
    *,
    powerdown_timeout: float,
    quit_timeout: float = 10.0,
) -> str:
    """Stop ``qemu``: ACPI powerdown (0 skips it), then ``quit``, then SIGKILL; say which worked.

    The timeouts nest: each stage gets its own budget after the previous one ran out.
    """
    if not qemu.alive():
        return "not running"
    try:
        with Qmp(socket_path, timeout=min(quit_timeout, 10.0)).connect(deadline=2.0) as qmp:
            if powerdown_timeout > 0:
                qmp.command("system_powerdown")
                if wait_exit(qemu, powerdown_timeout):
                    return "powered down"
            with contextlib.suppress(VmError):  # qemu may close the socket before answering
                qmp.command("quit")
    except VmError:
        pass
    if wait_exit(qemu, quit_timeout):
        return "quit"
    os.kill(qemu.pid, signal.SIGKILL)
    wait_exit(qemu, 5.0)
    return "killed"
