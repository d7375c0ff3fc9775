"""The workbench's errors: one small hierarchy, structured fields, formatted once at the edge.

Every error carries a ``brief`` (what went wrong), an optional ``hint`` (what to do), optional
``details`` (log tails, command output) and an optional ``location`` (file, line, column, key path).
Only :func:`format_error` turns them into text, so the CLI and the widgets render the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where in a source file something is: 1-based line and column, and the key path."""

    file: str | None = None
    line: int | None = None
    col: int | None = None
    path: str | None = None

    def __str__(self) -> str:
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)


class WorkbenchError(Exception):
    """Base of every error the workbench raises on purpose.

    ``exit_code`` is 2 for user errors (bad input, bad usage) and 1 for failures of the
    environment (a VM that does not boot, a build that fails).
    """

    exit_code = 2

    def __init__(
        self,
        brief: str,
        *,
        hint: str | None = None,
        details: str | None = None,
        location: Location | None = None,
    ) -> None:
        super().__init__(brief)
        self.brief = brief
        self.hint = hint
        self.details = details
        self.location = location

    def __str__(self) -> str:
        return format_error(self)


class SourceError(WorkbenchError):
    """Bad input in a YAML file: syntax, types, unknown keys, limits."""


class TemplateError(SourceError):
    """A template that cannot be found, loaded or applied."""


class ArchitectureError(SourceError):
    """An ``architectures`` (or ``platforms``) stanza that is invalid or cannot be planned."""


class UsageError(WorkbenchError):
    """A command line or API call that cannot be served as given."""


class VmError(WorkbenchError):
    """A build VM that cannot be created, started, reached or stopped."""

    exit_code = 1


class BuildError(WorkbenchError):
    """A lifecycle step that failed inside the VM."""

    exit_code = 1


def format_error(err: WorkbenchError) -> str:
    """One line: ``FILE:LINE:COL: error: MESSAGE [at KEY.PATH] (hint)``; no location, no prefix."""
    message = err.brief
    loc = err.location
    if loc is not None and loc.path and loc.line is None:
        message = f"{message} at {loc.path}"
    if err.hint:
        message = f"{message} ({err.hint})"
    if loc is None:
        return f"error: {message}"
    return f"{loc}: error: {message}"
