"""Keep-alive policy: how long an idle build VM stays up after a build.

After a build the VM stays up: 24 h after a failure (time to debug, and to sleep on it), 10 min
after a success, forever with ``--keep``. The decision goes to ``keepalive.json`` in the instance
directory, where the instance's watchdog (:mod:`workbench.vm.watchdog`) reads it and, once the
deadline passes, stops the VM with a saved state so the next build starts warm. A build that
starts pushes the deadline back. ``WORKBENCH_STOP_AFTER_SUCCESS`` and
``WORKBENCH_STOP_AFTER_FAILURE`` (seconds) change the two defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from workbench.errors import UsageError
from workbench.vm.watchdog import KeepAlive

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
