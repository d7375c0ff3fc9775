"""The build user's shell in the guest (``--shell``, ``--shell-after``, ``--debug``): a login
shell that starts in a part's directory with a prompt naming the snap and the directory."""

from __future__ import annotations

import os
import shlex

from workbench.lifecycle.steps import ShellMode
from workbench.vm.provider import Layout

SHELL_RC = "/run/workbench/shell.sh"
BUILD_USER = Layout().build_user
"""The guest user that runs the lifecycle and the shells (passwordless sudo, made by the seed)."""


def shell_rc(name: str, directory: str, environment: str = "") -> str:
    """The guest script the build user's login shell sources: the ``environment`` script (a
    step's, from craft-parts), cd into ``directory``, name the prompt."""
    prompt = f"{name}:\\w\\$ "
    cd = f"cd {shlex.quote(directory)} 2>/dev/null\nPS1={shlex.quote(prompt)}\n"
    return f"{environment.rstrip()}\n{cd}" if environment.strip() else cd


def shell_hook_command(name: str, directory: str, environment: str = "") -> list[str]:
    """The guest command (run as root) that installs :func:`shell_rc` for the build user's next
    shell."""
    rc = shell_rc(name, directory, environment)
    hook = f"[ -r {SHELL_RC} ] && . {SHELL_RC}"
    bashrc = f"/home/{BUILD_USER}/.bashrc"
    script = (
        f"mkdir -p {os.path.dirname(SHELL_RC)} && printf %s {shlex.quote(rc)} > {SHELL_RC}"
        f" && {{ grep -qsF {shlex.quote(hook)} {bashrc}"
        f" || echo {shlex.quote(hook)} >> {bashrc}; }}"
    )
    return ["sh", "-c", script]


def wants_shell(mode: ShellMode, ok: bool) -> bool:
    """Whether a session in shell ``mode`` opens a shell after a step that passed (``ok``) or
    failed."""
    return mode in (ShellMode.INSTEAD, ShellMode.AFTER) or (mode is ShellMode.ON_FAILURE and not ok)
