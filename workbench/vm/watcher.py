"""The watchdog loop of one instance: ``python -m workbench.vm.watcher PROJECT INSTANCES_DIR``.

Started detached by :func:`workbench.vm.watchdog.spawn`: it bounds the console log and stops the
VM, state saved, once its keep-alive deadline passed with no SSH client connected.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.files import write_atomic
from workbench.vm.local import Instance
from workbench.vm.state import Status
from workbench.vm.watchdog import (
    ENV_CAP,
    POLL,
    SERIAL_CAP,
    SERIAL_KEEP,
    WATCHDOG_PID,
    cap_log,
    connected,
    read,
    touch,
)


def watch(project: Path, instances: Path, *, poll: float = POLL) -> str:
    """The watchdog loop: bound the console log; stop the VM, state saved, at its deadline
    (pushed back while an SSH client is connected)."""
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
                state = instance.dir.load_state()
                if state is None or state.port is None or not connected(state.port):
                    return f"idle past the deadline ({keepalive.reason}): {_stop(instance)}"
                touch(root, now)  # an SSH session (a shell, a long command) is using it
            time.sleep(poll)
    finally:
        (root / WATCHDOG_PID).unlink(missing_ok=True)


def _stop(instance: Instance) -> str:
    """Stop ``instance`` with a saved state; without one when saving fails (a guest that never
    finished booting cannot be saved)."""
    try:
        return f"stopped, state saved ({instance.down(save=True)})"
    except WorkbenchError as err:
        return f"could not save the state ({err.brief}): stopped ({instance.down()})"


if __name__ == "__main__":
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} watchdog {os.getpid()}: {watch(Path(sys.argv[1]), Path(sys.argv[2]))}")
