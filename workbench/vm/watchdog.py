"""The instance watchdog: a detached process per running VM that bounds its console log and
stops it at its deadline.

``keepalive.json`` in the instance directory says until when the VM stays up and why
(:class:`KeepAlive`; the build's policy writes it, :mod:`workbench.lifecycle.keepalive`). The
watchdog (its own session, independent of whoever started the VM) runs while the VM runs: every
few seconds it keeps ``serial.log`` under :data:`SERIAL_CAP` (qemu appends to it, so the head is
cut in place and the cut is said in the file), and once a deadline passes it stops the VM with a
saved state (``down --save``) so the next start is warm. It re-reads the file each time, so a
build that starts pushes the deadline back; with ``keep`` or no file it only bounds the log.

Run as ``python -m workbench.vm.watchdog PROJECT INSTANCES_DIR``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from workbench.files import write_atomic
from workbench.vm.instance import InstanceDir, Status

WATCHDOG_PID = "watchdog.pid"
WATCHDOG_LOG = "watchdog.log"
SERIAL_CAP = 64 * 2**20
"""Bytes ``serial.log`` may reach before its head is cut (``WORKBENCH_SERIAL_CAP`` changes it)."""
SERIAL_KEEP = 8 * 2**20
"""Bytes of its tail kept when it is cut (at most half the cap)."""
ENV_CAP = "WORKBENCH_SERIAL_CAP"
POLL = 5.0


@dataclass(frozen=True)
class KeepAlive:
    """What ``keepalive.json`` says: stop at ``deadline`` (epoch seconds) unless ``keep``."""

    deadline: float
    keep: bool
    reason: str

    def expired(self, now: float) -> bool:
        return not self.keep and now >= self.deadline


def write(instance_root: Path, keepalive: KeepAlive) -> None:
    write_atomic(InstanceDir(instance_root).keepalive_file, json.dumps(asdict(keepalive)) + "\n")


def read(instance_root: Path) -> KeepAlive | None:
    try:
        text = InstanceDir(instance_root).keepalive_file.read_text("utf-8")
        return KeepAlive(**json.loads(text))
    except (OSError, ValueError, TypeError):
        return None


def cap_log(path: Path, cap: int = SERIAL_CAP, keep: int = SERIAL_KEEP) -> bool:
    """Cut the head of the append-only log ``path`` when it is over ``cap`` bytes, keeping the
    last ``keep`` bytes after a line that says how much went; True when it cut."""
    try:
        size = path.stat().st_size
        if size <= cap:
            return False
        with path.open("rb") as src:
            src.seek(size - keep)
            tail = src.read()
        note = f"[workbench: {size - len(tail)} bytes of earlier console output dropped]\n"
        with path.open("r+b") as log:  # in place: qemu keeps appending to this same file
            log.truncate(0)
        with path.open("ab") as log:
            log.write(note.encode() + tail)
    except OSError:
        return False
    return True


def running(instance_root: Path) -> bool:
    """True when this instance's watchdog process is alive."""
    try:
        pid = int((instance_root / WATCHDOG_PID).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return __name__.encode() in cmdline


def spawn(project: Path, instance_root: Path) -> None:
    """Start the detached watchdog of this instance unless one runs already."""
    if running(instance_root):
        return
    with (instance_root / WATCHDOG_LOG).open("ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", __name__, str(project), str(instance_root.parent)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )


def watch(project: Path, instances: Path, *, poll: float = POLL) -> str:
    """The watchdog loop: bound the console log; stop the VM, state saved, at its deadline."""
    from workbench.vm.runtime import Instance

    instance = Instance(project, instances=instances, notify=print)
    root = instance.dir.root
    if not root.is_dir():
        return f"no instance directory {root}: nothing to watch"
    cap = int(os.environ.get(ENV_CAP, SERIAL_CAP))
    write_atomic(root / WATCHDOG_PID, f"{os.getpid()}\n")
    try:
        while True:
            if instance.dir.status() not in (Status.STARTING, Status.RUNNING, Status.FAILED):
                return "the VM is not running: nothing to watch"
            if cap_log(instance.dir.serial_log, cap, min(SERIAL_KEEP, cap // 2)):
                print(f"cut the head of {instance.dir.serial_log}", flush=True)
            keepalive = read(root)
            now = time.time()
            if keepalive is not None and keepalive.expired(now):
                how = instance.down(save=True)
                return f"idle past the deadline ({keepalive.reason}): stopped, state saved ({how})"
            time.sleep(poll)
    finally:
        (root / WATCHDOG_PID).unlink(missing_ok=True)


if __name__ == "__main__":
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} watchdog {os.getpid()}: {watch(Path(sys.argv[1]), Path(sys.argv[2]))}")
