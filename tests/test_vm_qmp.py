"""QMP against a real qemu with no guest: status, HMP refusals, and the nested shutdown stages."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.errors import VmError
from workbench.vm.lock import ProcessRef
from workbench.vm.qmp import Qmp, _Worker, shutdown

pytestmark = pytest.mark.slow


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[tuple[Path, ProcessRef]]:
    """A qemu with no machine at all (no ACPI, so a powerdown request is never answered)."""
    sock = tmp_path / "qmp.sock"
    proc = subprocess.Popen(
        [
            "qemu-system-x86_64",
            "-machine",
            "none",
            "-nodefaults",
            "-display",
            "none",
            "-qmp",
            f"unix:{sock},server=on,wait=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ref = ProcessRef.of(proc.pid)
    assert ref is not None
    yield sock, ref
    proc.kill()
    proc.wait()


def test_status_and_refused_hmp_commands(machine: tuple[Path, ProcessRef]) -> None:
    sock, _ = machine
    with Qmp(sock).connect() as qmp:
        assert qmp.status() == "running"
        with pytest.raises(VmError, match="qemu refused `loadvm nothing`"):
            qmp.loadvm("nothing")
        assert qmp.snapshots() == []


def test_unanswered_powerdown_falls_back_to_quit(machine: tuple[Path, ProcessRef]) -> None:
    sock, ref = machine
    Qmp(sock).connect().close()  # wait until the socket is up
    assert shutdown(sock, ref, powerdown_timeout=1.0, quit_timeout=5.0) == "quit"
    assert not ref.alive()


def test_a_frozen_qemu_is_killed(machine: tuple[Path, ProcessRef]) -> None:
    sock, ref = machine
    Qmp(sock).connect().close()
    os.kill(ref.pid, signal.SIGSTOP)
    assert shutdown(sock, ref, powerdown_timeout=1.0, quit_timeout=1.0) == "killed"
    assert not ref.alive()


def test_connect_to_a_missing_socket_fails_within_its_deadline(tmp_path: Path) -> None:
    with pytest.raises(VmError, match="cannot connect to qemu's QMP socket"):
        Qmp(tmp_path / "absent.sock").connect(deadline=0.5)


def test_a_result_that_comes_after_its_deadline_is_disposed_of_not_leaked() -> None:
    """A QMP client that connects after the caller gave up is closed by the worker itself."""
    worker = _Worker()
    released = threading.Event()
    disposed: list[str] = []

    def slow() -> str:
        released.wait(10)
        return "late client"

    with pytest.raises(TimeoutError, match="no answer within"):
        worker.run(slow, 0.05, dispose=disposed.append)
    released.set()
    assert worker.run(lambda: "next", 10) == "next"  # the worker went on, in order
    assert disposed == ["late client"]
    worker.stop()
