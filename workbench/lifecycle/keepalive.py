"""Keep-alive policy: how long an idle build VM stays up, and the watchdog that stops it.

After a build the VM stays up: 24 h after a failure (time to debug, and to sleep on it), 10 min
after a success, forever with ``--keep``. The decision is written to ``keepalive.json`` in the
instance directory; a detached watchdog process (its own session, started by the build and
independent of it) reads that file and, once the deadline passes, stops the VM with a saved state
(``down --save``) so the next build starts warm. A build that starts pushes the deadline back, and
the watchdog re-reads the file before acting. ``WORKBENCH_STOP_AFTER_SUCCESS`` and
``WORKBENCH_STOP_AFTER_FAILURE`` (seconds) change the two defaults.

Run as ``python -m workbench.lifecycle.keepalive PROJECT INSTANCES_DIR`` it is the watchdog.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from workbench.errors import UsageError
from workbench.files import write_atomic
from workbench.vm.instance import InstanceDir

WATCHDOG_PID = "watchdog.pid"
WATCHDOG_LOG = "watchdog.log"
ENV_SUCCESS = "WORKBENCH_STOP_AFTER_SUCCESS"
ENV_FAILURE = "WORKBENCH_STOP_AFTER_FAILURE"


@dataclass(frozen=True)
class Policy:
    """Idle seconds before an automatic stop, after a success and after a failure."""

    after_success: float = 600
    after_failure: float = 24 * 3600

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Policy:
        values = {}
        for key, name in ((ENV_SUCCESS, "after_success"), (ENV_FAILURE, "after_failure")):
            if key in environ:
                try:
                    values[name] = float(environ[key])
                except ValueError:
                    raise UsageError(
                        f"{key} must be a number of seconds, not {environ[key]!r}"
                    ) from None
        return cls(**values)


@dataclass(frozen=True)
class KeepAlive:
    """What ``keepalive.json`` says: stop at ``deadline`` (epoch seconds) unless ``keep``."""

    deadline: float
    keep: bool
    reason: str

    def expired(self, now: float) -> bool:
        return not self.keep and now >= self.deadline


def decide(policy: Policy, *, ok: bool, keep: bool, now: float) -> KeepAlive:
    """The keep-alive after a session that succeeded (``ok``) or failed (pure)."""
    if keep:
        return KeepAlive(now, True, "--keep: stays up until `vm down` or `clean`")
    idle = policy.after_success if ok else policy.after_failure
    what = "success" if ok else "failure"
    return KeepAlive(now + idle, False, f"stops {idle:g} s after the last {what}")


def busy(policy: Policy, *, now: float) -> KeepAlive:
    """The keep-alive while a build runs (a crashed build counts as a failure)."""
    return KeepAlive(now + policy.after_failure, False, f"build running (pid {os.getpid()})")


def write(instance_root: Path, keepalive: KeepAlive) -> None:
    write_atomic(InstanceDir(instance_root).keepalive_file, json.dumps(asdict(keepalive)) + "\n")


def read(instance_root: Path) -> KeepAlive | None:
    try:
        text = InstanceDir(instance_root).keepalive_file.read_text("utf-8")
        return KeepAlive(**json.loads(text))
    except (OSError, ValueError, TypeError):
        return None


def watchdog_running(instance_root: Path) -> bool:
    """True when this instance's watchdog process is alive."""
    try:
        pid = int((instance_root / WATCHDOG_PID).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return b"workbench.lifecycle.keepalive" in cmdline


def spawn_watchdog(project: Path, instance_root: Path) -> None:
    """Start the detached watchdog of this instance unless one runs already."""
    if watchdog_running(instance_root):
        return
    with (instance_root / WATCHDOG_LOG).open("ab") as log:
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workbench.lifecycle.keepalive",
                str(project),
                str(instance_root.parent),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )


def watch(project: Path, instances: Path, *, poll: float = 30) -> str:
    """The watchdog loop: stop the VM with a saved state once idle past its deadline."""
    from workbench.vm import Instance, Status

    instance = Instance(project, instances=instances, notify=print)
    root = instance.dir.root
    write_atomic(root / WATCHDOG_PID, f"{os.getpid()}\n")
    try:
        while True:
            if instance.dir.status() not in (Status.RUNNING, Status.FAILED):
                return "the VM is not running: nothing to watch"
            keepalive = read(root)
            if keepalive is None or keepalive.keep:
                return "no deadline (--keep or no keepalive.json): watchdog exits"
            now = time.time()
            if keepalive.expired(now):
                how = instance.down(save=True)
                return f"idle past the deadline ({keepalive.reason}): stopped, state saved ({how})"
            time.sleep(max(0.5, min(poll, keepalive.deadline - now)))
    finally:
        (root / WATCHDOG_PID).unlink(missing_ok=True)


if __name__ == "__main__":
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} watchdog {os.getpid()}: {watch(Path(sys.argv[1]), Path(sys.argv[2]))}")
