"""How the host starts the guest runner (:mod:`workbench.lifecycle.guest`): its command line,
environment and user on the machine, the build spec on its stdin."""

from __future__ import annotations

from dataclasses import replace

from workbench.lifecycle.guest import ROOT_COMMANDS, GuestSpec
from workbench.vm.executor import Command
from workbench.vm.provider import Layout

GUEST_ENV = {"LC_ALL": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def runner_command(layout: Layout, command: str, spec: GuestSpec) -> Command:
    """The guest runner's ``command`` with ``spec``: as root for the root commands (such as the
    build-packages install), else as the build user."""
    runner = Command(
        [layout.python, "-m", "workbench.lifecycle.guest", command, "-"],
        env={**GUEST_ENV, "PATH": f"{layout.venv}/bin:{GUEST_PATH}"},  # craftctl for scriptlets
        cwd=layout.project,
        stdin=spec.to_json().encode(),
    )
    if command in ROOT_COMMANDS:
        return layout.as_root(runner)
    return replace(runner, argv=layout.as_build_user(runner.argv))
