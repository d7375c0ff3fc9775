"""A failed build as the user sees it: the failing part and step, the guest's hint, how to get
into the VM, a known cause from the diagnosis table, and the tail of the output."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from workbench.errors import BuildError, SourceError
from workbench.lifecycle.build_project import BuildProject
from workbench.lifecycle.events import Failure
from workbench.lifecycle.steps import Step
from workbench.vm.provider import Machine


def spec_error(error: Failure | None, project: BuildProject) -> SourceError:
    """The guest refused the build spec (exit status 2): a positioned error on the project."""
    brief = error.brief if error else "the guest refused the build spec"
    part = error.part if error else None
    known = part is not None and part in project.parts
    where: tuple[str, ...] = ("parts", part) if part and known else ("parts",)
    hint = error.hint if error else None
    return SourceError(brief, hint=hint, location=project.locate(*where))


def build_error(
    error: Failure | None, project: BuildProject, step: Step, tail: Sequence[str], machine: Machine
) -> BuildError:
    """The error of a failed step: what failed, the guest's hint, how to get in, the output."""
    error = error or Failure(brief="the build failed")
    where = error.where
    directory = error.directory
    root = shlex.quote(str(project.root))
    enter = f"workbench build {root} --step {error.step or step.label} --shell"
    hint = f"the VM stays up; get in with `{enter}` or `workbench vm shell --project {root}`"
    if directory:
        hint += f" and cd {directory}"
    if error.hint:
        hint = f"{error.hint}; {hint}"
    details = [error.details or "", *tail]
    known = machine.explain("\n".join([error.brief, *details]))
    if known is not None:  # e.g. the guest disk is full: say so, with the fix
        hint = f"{known.failure.cause}; fix: {known.failure.fix}; {hint}"
    details.append(f"build log: {machine.dir.build_log}")
    return BuildError(
        f"{where + ': ' if where else ''}{error.brief}",
        hint=hint,
        details="\n".join(line for line in details if line),
    )
