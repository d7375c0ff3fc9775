"""What the build view builds: the project, parts, last step, build-on/build-for, templates and
``--export-prime``, chosen with controls and mapped as ``workbench build`` maps its flags.

:class:`BuildChooser` reads the project (any directory inside one) for its parts and for the
builds of its plan that the VM can run (:func:`~workbench.lifecycle.choices.build_targets`), and
gives a :class:`~workbench.lifecycle.choices.BuildChoices` (:meth:`BuildChooser.choices`) to its
``on_use`` callback when **Use** (or **Build**) is pressed: the build view then drives a
controller of those choices.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import ipywidgets as w

from workbench.errors import WorkbenchError, format_error
from workbench.lifecycle.build_project import resolve_build
from workbench.lifecycle.choices import BuildChoices, BuildTarget, build_targets
from workbench.lifecycle.steps import STEP_NAMES, Step
from workbench.widgets.style import esc, verdict_badge

DEFAULT_TARGET = ("the VM's architecture (what the project claims there)", None)


class BuildChooser(w.VBox):  # type: ignore[misc]
    """Controls for :class:`BuildChoices`, starting at ``choices``; ``on_use(choices, build)``
    is called by **Use** (``build`` False) and **Build** (True)."""

    def __init__(
        self,
        choices: BuildChoices,
        on_use: Callable[[BuildChoices, bool], None] | None = None,
    ) -> None:
        self.on_use = on_use
        self.project = w.Text(str(choices.project), description="project", continuous_update=False)
        self.project.add_class("wb-choose-project")
        self.parts = w.SelectMultiple(options=(), description="parts", rows=4)
        self.step = w.Dropdown(options=STEP_NAMES, value=choices.step.label, description="up to")
        self.target = w.Dropdown(options=[DEFAULT_TARGET], value=None, description="build")
        self.templates = w.Text(
            os.pathsep.join(str(path) for path in choices.templates),
            description="templates",
            placeholder="a templates directory (optional)",
            continuous_update=False,
        )
        self.export_prime = w.Checkbox(choices.export_prime, description="--export-prime")
        self.use_button = w.Button(description="Use", icon="check")
        self.build_button = w.Button(description="Build", icon="play", button_style="primary")
        self.message = w.HTML()
        self.message.add_class("wb-choose-message")
        super().__init__(
            [
                self.project,
                w.HBox([self.parts, w.VBox([self.step, self.target])]),
                w.HBox([self.templates, self.export_prime]),
                w.HBox([self.use_button, self.build_button]),
                self.message,
            ]
        )
        self.project.observe(lambda _change: self.load(), "value")
        self.templates.observe(lambda _change: self.load(), "value")
        self.use_button.on_click(lambda _b: self.use(build=False))
        self.build_button.on_click(lambda _b: self.use(build=True))
        self.load()
        self.parts.value = tuple(p for p in choices.parts if p in self.parts.options)
        wanted = BuildTarget(choices.build_on, choices.build_for) if choices.build_on else None
        if wanted in [value for _label, value in self.target.options]:
            self.target.value = wanted

    def _template_dirs(self) -> tuple[Path, ...]:
        return tuple(Path(p) for p in self.templates.value.split(os.pathsep) if p.strip())

    def load(self) -> bool:
        """Read the project's parts and its plan's builds; say what is wrong (False) if it does
        not load."""
        start = Path(self.project.value).expanduser()
        try:
            project = resolve_build(start, templates=self._template_dirs())
        except WorkbenchError as err:
            self.parts.options = ()
            self.target.options = [DEFAULT_TARGET]
            self.message.value = verdict_badge(False, format_error(err))
            return False
        self.parts.options = tuple(project.parts)
        targets = [(target.label, target) for target in build_targets(project.root)]
        self.target.options = [DEFAULT_TARGET, *targets]
        self.message.value = esc(f"{project.name} {project.version} in {project.root}")
        return True

    def choices(self) -> BuildChoices:
        """What the controls say."""
        target: BuildTarget | None = self.target.value
        return BuildChoices(
            project=Path(self.project.value).expanduser(),
            parts=tuple(self.parts.value),
            step=Step.parse(self.step.value),
            build_on=target.build_on if target else None,
            build_for=target.build_for if target else None,
            templates=self._template_dirs(),
            export_prime=self.export_prime.value,
        )

    def use(self, *, build: bool = False) -> None:
        """Hand the choices to ``on_use`` (and build up to the last step when ``build``)."""
        if not self.load():
            return
        if self.on_use is not None:
            self.on_use(self.choices(), build)
