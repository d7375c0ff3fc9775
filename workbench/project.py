"""The snap project: where its snapcraft.yaml lives, loading it, and its base.

The one place that knows where the project file may be (:func:`project_file`, :func:`find_root`),
the one loader (:func:`load_project`) and the one fact every view needs (:func:`project_base`).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

from workbench.errors import Location, SourceError, UsageError
from workbench.yamlpos import Document, load_file

PROJECT_FILES: tuple[str, ...] = (
    "snapcraft.yaml",
    "snap/snapcraft.yaml",
    "build-aux/snap/snapcraft.yaml",
    ".snapcraft.yaml",
)
"""Where snapcraft looks for the project file inside a project directory."""

_CORE = re.compile(r"^core(?P<version>\d\d)?$")
MODERN_FROM = 22
"""``coreNN`` bases from this version on plan ``build-for`` / ``platforms`` (craft-platforms)."""

_DEEPEST_FIRST = sorted(PROJECT_FILES, key=lambda name: -len(Path(name).parts))


def project_file(path: str | os.PathLike[str]) -> Path:
    """``path`` itself if it is not a directory, else the one project file inside it."""
    path = Path(path)
    if not path.is_dir():
        return path
    found = [path / name for name in PROJECT_FILES if (path / name).is_file()]
    if not found:
        raise SourceError(
            "no snapcraft.yaml in this directory",
            hint=f"looked for {', '.join(PROJECT_FILES)}; or name the file itself",
            location=Location(file=str(path)),
        )
    if len(found) > 1:
        raise SourceError(
            "more than one project file",
            hint=f"keep only one of: {', '.join(str(f) for f in found)}",
            location=Location(file=str(path)),
        )
    return found[0]


def _search_dirs(start: Path) -> list[Path]:
    """``start`` and the directories above it where a project may be found: the walk stops at
    the user's home directory and at a filesystem boundary (a mount point is the last one)."""
    home = Path.home().resolve()
    found = [start]
    for directory in start.parents:
        below = found[-1]
        if below == home or os.path.ismount(below):
            break
        found.append(directory)
    return found


def _refuse_shared_root(root: Path) -> None:
    """A UsageError when others could have planted the project file: the directory is world-
    writable, or owned by another user (neither the caller nor root)."""
    info = root.stat()
    if info.st_mode & stat.S_IWOTH:
        why = "is writable by every user"
    elif info.st_uid not in (os.geteuid(), 0):
        why = f"belongs to another user (uid {info.st_uid})"
    else:
        return
    project = next(root / name for name in PROJECT_FILES if (root / name).is_file())
    raise UsageError(
        f"{project}: refusing a project whose directory {root} {why}",
        hint="move the project into a directory of your own",
    )


def find_root(start: str | Path) -> Path:
    """The project directory at or above ``start`` (``snap/`` itself counts as inside it).

    The search stops at the user's home and at filesystem boundaries, and a directory that
    other users can write (e.g. ``/tmp``) is refused as a root: a snapcraft.yaml planted there
    must not make it the project that the build VM gets.
    """
    start = Path(start).resolve()
    if start.is_file():
        start = start.parent
    searched = _search_dirs(start)
    for directory in searched:
        for name in _DEEPEST_FIRST:  # inside snap/ or build-aux/snap/: the root is above
            prefix = Path(name).parent.parts
            if prefix and directory.parts[-len(prefix) :] == prefix:
                root = directory.parents[len(prefix) - 1]
                if (root / name).is_file():
                    _refuse_shared_root(root)
                    return root
        if any((directory / name).is_file() for name in PROJECT_FILES):
            _refuse_shared_root(directory)
            return directory
    raise UsageError(
        f"no snapcraft.yaml in {start} or any directory above it up to {searched[-1]}",
        hint=f"run inside a project, or name it; looked for {', '.join(PROJECT_FILES)}",
    )


def load_project(path: str | os.PathLike[str]) -> Document:
    """Load the project file at (or in) ``path``; its top level must be a mapping."""
    document = load_file(project_file(path))
    if not isinstance(document.data, Mapping):
        raise SourceError(
            "a snapcraft.yaml must be a mapping of keys",
            hint="start with 'name: ...' and 'base: ...'",
            location=document.locate(()),
        )
    return document


def project_base(document: Document) -> str | None:
    """The effective base, as snapcraft counts it: ``base`` when it is a ``coreNN`` base, else
    ``build-base`` (``base: bare``, or a ``type: base`` snap without ``base``), else ``base``."""
    data = document.data
    if not isinstance(data, Mapping):
        return None
    for key in ("base", "build-base"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise SourceError(
                f"'{key}' must be a string",
                hint="e.g. base: core20",
                location=document.locate((key,)),
            )
    return effective_base(data.get("base"), data.get("build-base"))


def effective_base(base: str | None, build_base: str | None) -> str | None:
    """``base`` when it is a ``coreNN`` base, else ``build_base`` when given, else ``base``."""
    if base is not None and _CORE.match(base):
        return base
    return build_base if isinstance(build_base, str) else base


def is_modern(base: str | None) -> bool:
    """True for ``core22`` and later, whose architectures come from craft-platforms."""
    match = _CORE.match(base or "")
    version = match.group("version") if match else None
    return version is not None and int(version) >= MODERN_FROM
