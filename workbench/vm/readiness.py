"""Readiness as data: named checks, each with a deadline and a hint, run in order.

Each :class:`Check` is attempted until it passes or its deadline runs out, with the time left
passed to every attempt. Before every attempt the runner asks whether qemu is still alive, so a
guest that died (kernel panic, qemu error) fails at once instead of waiting out the deadline. An
attempt returns False for "not yet" and raises :class:`~workbench.errors.VmError` for a failure no
retry can fix (for example a changed host key). :func:`port_open` and :func:`wait_banner` probe
qemu's forwarded SSH port.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from workbench.errors import VmError
from workbench.progress import Progress, ProgressListener


@dataclass(frozen=True)
class Check:
    """One readiness step: ``attempt(time_left)`` returns True once the step is done."""

    name: str
    attempt: Callable[[float], bool]
    timeout: float
    hint: str
    timeout_message: str = ""


class QemuExited(VmError):
    """qemu ended while the guest was being waited for."""


def run_checks(
    checks: Sequence[Check],
    *,
    qemu_alive: Callable[[], bool],
    listener: ProgressListener,
    task: str,
    poll: float = 0.1,
) -> None:
    """Run ``checks`` in order; raise VmError naming the first that fails."""
    total = len(checks)
    for number, check in enumerate(checks, 1):
        listener(Progress(task, number - 1, total, message=check.name, unit="step"))
        end = time.monotonic() + check.timeout
        while True:
            if not qemu_alive():
                raise QemuExited(f"qemu exited during step {number} of {total} ({check.name})")
            left = end - time.monotonic()
            if left <= 0:
                brief = check.timeout_message or f"{check.name} not done"
                raise VmError(
                    f"{brief} within {check.timeout:g} s (step {number} of {total})",
                    hint=check.hint,
                )
            if check.attempt(left):
                break
            time.sleep(min(poll, max(0.0, end - time.monotonic())))
    listener(Progress(task, total, total, message="ready", unit="step", finished=True))


MAX_GAP = 2.0
"""The longest wait between two new connections of :func:`wait_banner`, in seconds."""
MAX_OPEN = 8
"""The most connections :func:`wait_banner` keeps waiting at once (the oldest is closed first)."""
BANNER_ATTEMPT = 20.0
"""Seconds one banner attempt waits: a starved guest's sshd may take seconds to answer, so a
connection must be kept that long, while qemu is still checked for life between attempts."""


def wait_banner(port: int, timeout: float, *, every: float = 0.2) -> str | None:
    """The SSH identification line the guest sends on ``port``, or None if none came in time.

    Through qemu's user networking a connection made while the guest's network is still down is
    accepted on the host and then hangs, instead of failing. So a fresh connection is opened
    after ``every`` s, then after twice as long each time (at most :data:`MAX_GAP`), while the
    earlier ones keep waiting (at most :data:`MAX_OPEN`, the oldest closed first); the first
    banner on any of them wins. Backing off matters once sshd listens (after a warm start): every
    connection makes the guest start an sshd, and a loaded guest answers slowly.
    """
    end = time.monotonic() + timeout
    opened_at = 0.0
    gap = every
    received: dict[socket.socket, bytes] = {}
    with selectors.DefaultSelector() as sel:
        try:
            while (now := time.monotonic()) < end:
                if now - opened_at >= gap:
                    if opened_at:
                        gap = min(gap * 2, MAX_GAP)
                    opened_at = now
                    if len(received) >= MAX_OPEN:
                        oldest = next(iter(received))
                        sel.unregister(oldest)
                        oldest.close()
                        del received[oldest]
                    with contextlib.suppress(OSError):
                        sock = socket.create_connection(("127.0.0.1", port), timeout=every)
                        sock.setblocking(False)
                        sel.register(sock, selectors.EVENT_READ)
                        received[sock] = b""
                for key, _ in sel.select(min(every, max(end - now, 0.0))):
                    sock = key.fileobj  # type: ignore[assignment]
                    try:
                        chunk = sock.recv(256)
                    except OSError:
                        chunk = b""
                    data = received[sock] + chunk
                    if not chunk or b"\n" in data or len(data) >= 256:
                        line = data.split(b"\n", 1)[0].decode("ascii", "replace").strip()
                        if line.startswith("SSH-"):
                            return line
                        sel.unregister(sock)
                        sock.close()
                        del received[sock]
                    else:
                        received[sock] = data
        finally:
            for sock in received:
                sock.close()
    return None


def port_open(port: int, timeout: float) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False
