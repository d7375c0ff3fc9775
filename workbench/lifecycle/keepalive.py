"""Keep-alive policy: how long an idle build VM stays up after a build.

After a build the VM stays up: 24 h after a failure (time to debug, and to sleep on it), 10 min
after a success, forever with ``--keep``; ``build --stop-after DURATION`` sets both delays. The
decision goes to ``keepalive.json`` in the instance directory, where the instance's watchdog
(:mod:`workbench.vm.watchdog`) reads it and, once the deadline passes with no SSH client
connected, stops the VM with a saved state so the next build starts warm. A build that starts
pushes the deadline back, and so does every command run in the VM (the delay counts from the last
use). ``WORKBENCH_STOP_AFTER_SUCCESS`` and ``WORKBENCH_STOP_AFTER_FAILURE`` (seconds, or 30m, 2h)
change the two defaults; ``WORKBENCH_STOP_AFTER_IDLE`` the delay of a VM started by ``vm up`` or
a notebook.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from workbench.vm.watchdog import KeepAlive, format_duration, parse_duration

ENV_SUCCESS = "WORKBENCH_STOP_AFTER_SUCCESS"
ENV_FAILURE = "WORKBENCH_STOP_AFTER_FAILURE"
SOURCE = "build"


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
                values[name] = parse_duration(environ[key], what=key)
        return cls(**values)

    @classmethod
    def uniform(cls, seconds: float) -> Policy:
        """The same idle delay after a success and after a failure (``--stop-after``)."""
        return cls(after_success=seconds, after_failure=seconds)


def decide(policy: Policy, *, ok: bool, keep: bool, now: float) -> KeepAlive:
    """The keep-alive after a session that succeeded (``ok``) or failed (pure)."""
    if keep:
        return KeepAlive(now, True, "--keep: stays up until `vm down` or `clean`", source=SOURCE)
    idle = policy.after_success if ok else policy.after_failure
    what = "successful" if ok else "failed"
    reason = f"{format_duration(idle)} idle after a {what} build"
    return KeepAlive(now + idle, False, reason, since=now, idle=idle, source=SOURCE)


def busy(policy: Policy, *, now: float) -> KeepAlive:
    """The keep-alive while a build runs (a crashed build counts as a failure)."""
    reason = f"build running (pid {os.getpid()})"
    idle = policy.after_failure
    return KeepAlive(now + idle, False, reason, since=now, idle=idle, source=SOURCE)
