"""Readiness as data: named checks, each with a deadline and a hint, run in order.

Each :class:`Check` is attempted until it passes or its deadline runs out, with the time left
passed to every attempt. Before every attempt the runner asks whether qemu is still alive, so a
guest that died (kernel panic, qemu error) fails at once instead of waiting out the deadline. An
attempt returns False for "not yet" and raises :class:`~workbench.errors.VmError` for a failure no
retry can fix (for example a changed host key).
"""

from __future__ import annotations

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
