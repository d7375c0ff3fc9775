"""A Python template: one part per app command (explode with --templates-dir templates).

Every ``*.py`` file in a templates directory is run when the directory is added, and its
``register(registry)`` registers templates; a template is a function of the
:class:`~workbench.templates.TemplateContext` (the base, the apps that use it, the project
exploded so far) returning a snapcraft.yaml-shaped fragment, checked like a YAML template's.

``per-command`` gives each app that uses it a part of its own, ``per-command/APP``, that checks
at prime time that the app's command exists in the snap and is executable (a typo in ``command:``
then fails the build, not the first run), and writes the command's name into
``share/commands/APP``; every other part of the project runs before it.
"""

from __future__ import annotations

import re
from typing import Any

from workbench.errors import TemplateError
from workbench.templates import Registry, TemplateContext

PLAIN_PATH = re.compile(r"[A-Za-z0-9_.+/-]+")


def per_command(context: TemplateContext) -> dict[str, Any]:
    """One ``per-command/APP`` part for each app that uses the template."""
    apps = context.project.get("apps") or {}
    others = [name for name in context.parts if not name.startswith("per-command/")]
    parts: dict[str, Any] = {}
    for app in context.apps:
        command = str(apps[app].get("command", "")).split(" ")[0]
        if not PLAIN_PATH.fullmatch(command):
            raise TemplateError(
                f"per-command: app {app} has no plain command path: {command!r}",
                hint="command: a path inside the snap, e.g. bin/hello",
            )
        parts[f"per-command/{app}"] = {
            "plugin": "nil",
            "after": sorted(others),
            "override-prime": (
                f'test -x "$CRAFT_PRIME/{command}"'
                f" || {{ echo 'app {app}: {command} is not executable'; exit 1; }}\n"
                'mkdir -p "$CRAFT_PRIME/share/commands"\n'
                f'echo {command} > "$CRAFT_PRIME/share/commands/{app}"\n'
            ),
        }
    return {"parts": parts}


def register(registry: Registry) -> None:
    registry.register(
        "per-command",
        per_command,
        {
            "summary": "A part per app command that checks the command is in the snap",
            "bases": ["core22", "core24"],
        },
    )
