"""What to build: the choices ``workbench build`` flags and the build widget's chooser both make.

:class:`BuildChoices` holds the project directory (any directory inside a project), the parts
(none: every part), the last step, the build-on/build-for pair (one of :func:`build_targets`: the
project's own build plan, as the CI would build it, that a VM can serve), the extra templates
directories and ``--export-prime``; :meth:`BuildChoices.options` maps them onto
:class:`~workbench.lifecycle.options.BuildOptions`, the one mapping the CLI and the widget use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from workbench.architectures import plan_project
from workbench.errors import WorkbenchError
from workbench.lifecycle.options import BuildOptions
from workbench.lifecycle.steps import Step
from workbench.project import find_root, load_project
from workbench.templates.registry import env_template_dirs
from workbench.vm.arch import ARCHS


@dataclass(frozen=True)
class BuildTarget:
    """One build of the project's plan: on ``build_on`` for ``build_for`` (None: what the
    project claims when built there)."""

    build_on: str
    build_for: str | None

    @property
    def label(self) -> str:
        return f"on {self.build_on} for {self.build_for or 'what it claims'}"


def build_targets(start: Path) -> tuple[BuildTarget, ...]:
    """The builds of the project at or above ``start`` (its ``architectures`` or ``platforms``
    plan) that a build VM can run (natively or emulated), in plan order; none when the project
    does not load."""
    servable = {served for arch in ARCHS.values() for served in arch.serves}
    try:
        builds = plan_project(load_project(find_root(start))).builds
    except WorkbenchError:
        return ()
    found: list[BuildTarget] = []
    for build in builds:
        target = BuildTarget(build.build_on, build.build_for)
        if build.build_on in servable and target not in found:
            found.append(target)
    return tuple(found)


@dataclass(frozen=True)
class BuildChoices:
    """What to build: the project, its parts (none: all), the last step, the build-on/build-for
    pair (None: the VM's architecture, and what the project claims there), extra templates
    directories and whether prime/ is copied into the project."""

    project: Path
    parts: tuple[str, ...] = ()
    step: Step = Step.PACK
    build_on: str | None = None
    build_for: str | None = None
    templates: tuple[Path, ...] = ()
    export_prime: bool = False

    def options(
        self, base: BuildOptions | None = None, environ: Mapping[str, str] = os.environ
    ) -> BuildOptions:
        """``base`` (the settings not chosen here: image, memory, shell...) with these choices;
        the templates directories of ``WORKBENCH_TEMPLATES_PATH`` come before the chosen ones."""
        return replace(
            base or BuildOptions(),
            step=self.step,
            parts=self.parts,
            build_on=self.build_on,
            build_for=self.build_for,
            templates=(*env_template_dirs(environ), *self.templates),
            export_prime=self.export_prime,
        )
