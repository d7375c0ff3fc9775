"""The instance watchdog: a detached process per running VM that bounds its console log and
stops it at its deadline.

``keepalive.json`` in the instance directory says until when the VM stays up and why
(:class:`KeepAlive`; the build's policy writes it, :mod:`workbench.lifecycle.keepalive`). Every
start sets one (:meth:`workbench.vm.Instance.up`: ``stop_after`` seconds idle, by default
:data:`DEFAULT_IDLE` or ``WORKBENCH_STOP_AFTER_IDLE``) before qemu starts, so a VM whose launcher
dies (a notebook kernel killed during Launch) still stops; each command run in the VM pushes the
deadline back to ``idle`` seconds after it (:func:`touch`). The
watchdog (its own session, independent of whoever started the VM) runs while the VM runs: every
few seconds it keeps ``serial.log`` under :data:`SERIAL_CAP` (qemu appends to it, so the head is
cut in place and the cut is said in the file), and once a deadline passes it stops the VM with a
saved state (``down --save``) so the next start is warm. It re-reads the file each time, so a
build that starts pushes the deadline back; with ``keep`` or no file it only bounds the log.

The loop itself is :mod:`workbench.vm.watcher`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from workbench.errors import UsageError
from workbench.files import write_atomic
from workbench.vm.state import InstanceDir

WATCHDOG_PID = "watchdog.pid"
WATCHDOG_LOG = "watchdog.log"
SERIAL_CAP = 64 * 2**20
"""Bytes ``serial.log`` may reach before its head is cut (``WORKBENCH_SERIAL_CAP`` changes it)."""
SERIAL_KEEP = 8 * 2**20
"""Bytes of its tail kept when it is cut (at most half the cap)."""
ENV_CAP = "WORKBENCH_SERIAL_CAP"
POLL = 5.0
ENV_IDLE = "WORKBENCH_STOP_AFTER_IDLE"
DEFAULT_IDLE = 1800.0
"""Idle seconds before a VM started by ``vm up`` or a notebook stops by itself."""
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?")
_UNITS = {None: 1, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class KeepAlive:
    """What ``keepalive.json`` says: stop at ``deadline`` (epoch seconds) unless ``keep``.

    ``since``: when the VM was last used; ``idle``: the idle seconds each use grants (None: uses
    do not push the deadline back); ``source``: who set it (``build``, ``vm up``, ``notebook``).
    """

    deadline: float
    keep: bool
    reason: str
    since: float | None = None
    idle: float | None = None
    source: str = ""

    def expired(self, now: float) -> bool:
        return not self.keep and now >= self.deadline


def armed(idle: float, *, source: str, now: float, grace: float = 0.0) -> KeepAlive:
    """The keep-alive of a VM that ``source`` starts: ``idle`` seconds after its last use
    (``grace``: extra seconds for the boot itself)."""
    reason = f"{format_duration(idle)} idle ({source})"
    return KeepAlive(now + idle + grace, False, reason, since=now, idle=idle, source=source)


def write(instance_root: Path, keepalive: KeepAlive) -> None:
    write_atomic(InstanceDir(instance_root).keepalive_file, json.dumps(asdict(keepalive)) + "\n")


def read(instance_root: Path) -> KeepAlive | None:
    try:
        text = InstanceDir(instance_root).keepalive_file.read_text("utf-8")
        data = json.loads(text)
        known = {f.name for f in fields(KeepAlive)}
        return KeepAlive(**{k: v for k, v in data.items() if k in known})
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def touch(instance_root: Path, now: float | None = None) -> None:
    """The VM is in use: push its deadline to ``idle`` seconds from ``now`` (not when kept)."""
    current = read(instance_root)
    if current is None or current.keep or current.idle is None:
        return
    at = time.time() if now is None else now
    write(instance_root, replace(current, deadline=at + current.idle, since=at))


def parse_duration(text: str, *, what: str) -> float:
    """Seconds from ``90``, ``90s``, ``30m``, ``2h`` or ``1d`` (``what``: for the error)."""
    match = _DURATION.fullmatch(str(text).strip())
    if not match:
        raise UsageError(
            f"{what} must be a number of seconds or a duration, not {text!r}",
            hint="e.g. 90, 90s, 30m, 2h or 1d",
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def default_idle(environ: Mapping[str, str]) -> float:
    """The idle seconds of a VM started without ``stop_after``: ``WORKBENCH_STOP_AFTER_IDLE``."""
    if ENV_IDLE in environ:
        return parse_duration(environ[ENV_IDLE], what=ENV_IDLE)
    return DEFAULT_IDLE


def format_duration(seconds: float) -> str:
    """``20 s``, ``30 min``, ``2 h``, ``1.5 d``: the largest unit that reads well."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.4g} {unit}"
    return f"{seconds:.4g} s"


def describe(keepalive: KeepAlive | None, now: float) -> str:
    """When a running VM stops and why, in one line."""
    if keepalive is None:
        return "no deadline: stays up until `vm down`"
    if keepalive.keep:
        return f"kept ({keepalive.reason})"
    day = time.localtime(now)[:3] != time.localtime(keepalive.deadline)[:3]
    clock = time.strftime("%a %H:%M" if day else "%H:%M", time.localtime(keepalive.deadline))
    left = keepalive.deadline - now
    if left <= 0:
        return f"stopping: its deadline {clock} passed ({keepalive.reason})"
    if left < 60:
        within = f"{left:.0f} s"
    elif left < 3600:
        within = f"{-(-left // 60):.0f} min"
    else:
        within = format_duration(left)
    since = ""
    if keepalive.since is not None:
        since = f", idle since {time.strftime('%H:%M', time.localtime(keepalive.since))}"
    return f"stops at {clock} (in {within}): {keepalive.reason}{since}"


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


WATCHER = "workbench.vm.watcher"
"""The module the watchdog process runs (its command line names it)."""


def watchdog_pid(instance_root: Path) -> int | None:
    """The PID of this instance's watchdog process when it is alive."""
    try:
        pid = int((instance_root / WATCHDOG_PID).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if WATCHER.encode() in cmdline else None


def running(instance_root: Path) -> bool:
    """True when this instance's watchdog process is alive."""
    return watchdog_pid(instance_root) is not None


def report(instance_root: Path, *, up: bool, now: float) -> dict[str, Any]:
    """What ``vm status`` adds: when the VM stops (``up``: it runs) and why, the keep-alive as
    recorded, the watchdog's PID."""
    keepalive = read(instance_root)
    return {
        "stops": describe(keepalive, now) if up else None,
        "keepalive": asdict(keepalive) if keepalive else None,
        "watchdog": watchdog_pid(instance_root),
    }


def connected(port: int) -> bool:
    """Whether a TCP connection to the host's forwarded SSH ``port`` is open (a client is in)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            words = row.split()
            if len(words) > 3 and words[3] == "01" and words[1].endswith(f":{port:04X}"):
                return True  # ESTABLISHED, its local end on the forwarded port
    return False


def spawn(project: Path, instance_root: Path) -> None:
    """Start the detached watchdog of this instance unless one runs already."""
    if running(instance_root):
        return
    with (instance_root / WATCHDOG_LOG).open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", WATCHER, str(project), str(instance_root.parent)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    write_atomic(instance_root / WATCHDOG_PID, f"{proc.pid}\n")  # seen as running from now on
