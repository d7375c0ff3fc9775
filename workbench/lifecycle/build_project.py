"""The project a build works on: found upward from any directory, exploded, arch-resolved.

:func:`resolve_build` finds the project upward from any directory
(:func:`workbench.project.find_root`, which never changes the working directory), explodes the
project's templates, resolves which architectures the snap claims when built on the build arch (the
``architectures`` keyword, or ``platforms`` on core22+), resolves the parts' advanced grammar for
that build, and reads the ``x-workbench: build-environment`` hints (memory, CPUs). Names that become
file or directory names (the snap's name and version, part and app names) must follow snapcraft's
naming rules, so none can reach outside its directory (``../``, ``/``, NUL) or be longer than a
file name may be.
"""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import dirs
from workbench.architectures import claim, parse, plan_modern
from workbench.errors import ArchitectureError, Location, SourceError, UsageError
from workbench.project import find_root, is_modern, load_project, project_base
from workbench.templates import ExplodeOptions, explode
from workbench.vm.arch import guest_arch
from workbench.yamlpos import Document, key_path

HINTS_KEY = "x-workbench"
MAX_GUI_BYTES = 16 * 2**20
"""The most ``snap/gui/`` may hold: it travels to the guest in the spec, on standard input."""
HINT_KEYS = frozenset({"memory", "cpus"})
NAMING_RULES = {
    "name": (
        re.compile(r"(?=.{1,40}$)(?=.*[a-z])[a-z0-9]+(?:-[a-z0-9]+)*"),
        "1-40 lower-case letters, digits and single inner dashes, with a letter",
    ),
    "version": (
        re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9:.+~-]{0,30}[a-zA-Z0-9+~])?"),
        "1-32 letters, digits and : . + ~ -, starting with a letter or digit",
    ),
    "app name": (
        re.compile(r"(?=.{1,100}$)[a-zA-Z0-9](?:-?[a-zA-Z0-9])*"),
        "letters, digits and single inner dashes, at most 100",
    ),
    "part name": (
        re.compile(r"(?=.{1,100}$)[a-z0-9][a-z0-9+-]*(?:/[a-z0-9][a-z0-9+-]*)?"),
        "lower-case letters, digits, + and -, at most 100 (TEMPLATE/NAME from a template)",
    ),
}
"""snapcraft's naming rules for what becomes a file or directory name: pattern (whole value),
description."""


@dataclass(frozen=True)
class BuildHints:
    """``x-workbench: build-environment:`` values (None: not given)."""

    memory: str | None = None
    cpus: int | None = None


@dataclass(frozen=True)
class BuildProject:
    """A project ready to build on ``build_on`` for ``build_for``, claiming ``architectures``."""

    root: Path
    file: Path
    document: Document = field(repr=False, compare=False)
    data: dict[str, Any] = field(repr=False)
    build_on: str
    build_for: str
    architectures: tuple[str, ...]
    arch_reason: str
    hints: BuildHints = BuildHints()

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def version(self) -> str:
        return str(self.data["version"])

    @property
    def base(self) -> str | None:
        """The project's ``base`` (or ``build-base``) as snapcraft reads it."""
        return project_base(self.document)

    @property
    def parts(self) -> dict[str, Any]:
        parts: dict[str, Any] = self.data.get("parts") or {}
        return parts

    def locate(self, *path: str | int) -> Location:
        return self.document.locate(path)

    def gui_files(self) -> dict[str, str]:
        """The regular files of ``snap/gui/`` (name -> base64), which pack puts in
        ``meta/gui/`` as snapcraft does; at most :data:`MAX_GUI_BYTES` in all."""
        gui = self.root / "snap" / "gui"
        files = sorted(p for p in gui.iterdir() if p.is_file()) if gui.is_dir() else []
        if sum(p.stat().st_size for p in files) > MAX_GUI_BYTES:
            raise UsageError(
                f"{gui} holds more than {MAX_GUI_BYTES // 2**20} MiB",
                hint="keep icons and desktop files there; other assets belong in a part",
            )
        return {p.name: base64.b64encode(p.read_bytes()).decode() for p in files}


def resolve_build(
    start: Path,
    *,
    build_on: str | None = None,
    build_for: str | None = None,
    vm_arch: str = "amd64",
    templates: Sequence[Path] = (),
) -> BuildProject:
    """Find, explode and resolve the project at or above ``start`` for a VM of ``vm_arch``.

    ``templates``: template directories added above the built-ins.
    """
    root = find_root(start)
    document = load_project(root)
    _check_fields(document)
    on = build_on or vm_arch
    servable = guest_arch(vm_arch).serves
    if on not in servable:
        raise UsageError(
            f"a {vm_arch} VM cannot build on {on}",
            hint=f"--build-on one of: {', '.join(servable)}",
        )
    if is_modern(project_base(document)):
        target, claimed, reason = _modern(document, on, build_for)
    else:
        target, claimed, reason = _legacy(document, on, build_for)
    exploded = explode(
        document,
        templates=list(templates),
        options=ExplodeOptions(build_on=on, build_for=target),
    )
    data = exploded.to_plain()
    origins = exploded.origins
    _check_names(data, lambda p: origins[key_path(p)].location if key_path(p) in origins else None)
    return BuildProject(
        root=root,
        file=Path(document.file),
        document=document,
        data=data,
        build_on=on,
        build_for=target,
        architectures=claimed,
        arch_reason=reason,
        hints=_hints(document),
    )


def copy_example(example: str | Path, *, workdir: Path | None = None) -> Path:
    """A copy of the project ``example`` to build in (``cache_dir()/projects/NAME`` by default;
    the example's files are refreshed, build results kept), so nothing is built in the repo."""
    source = Path(example).resolve()
    if not source.is_dir():
        raise UsageError(f"{source}: no such example project")
    target = (workdir or dirs.cache_dir() / "projects") / source.name
    shutil.copytree(source, target, dirs_exist_ok=True)
    return target


def _check_fields(document: Document) -> None:
    data = document.data
    for key in ("name", "version"):
        if not isinstance(data.get(key), str | int | float) or isinstance(data.get(key), bool):
            where = document.locate((key,)) if key in data else document.locate(())
            raise SourceError(
                f"'{key}' must be given as a string",
                hint="add e.g. name: my-snap" if key == "name" else "add e.g. version: '1.0'",
                location=where,
            )
    if "adopt-info" in data:
        raise SourceError(
            "adopt-info is not supported by the workbench build",
            hint="set 'version' in snapcraft.yaml",
            location=document.locate(("adopt-info",)),
        )
    if not isinstance(data.get("parts"), Mapping) or not data["parts"]:
        raise SourceError(
            "a project needs at least one part",
            hint="add parts: {NAME: {plugin: nil}}",
            location=document.locate(("parts",)) if "parts" in data else document.locate(()),
        )


def _check_names(
    data: Mapping[str, Any], locate: Callable[[tuple[str, ...]], Location | None]
) -> None:
    """Refuse a name, version, app or part name outside :data:`NAMING_RULES`."""
    named: list[tuple[str, Any, tuple[str, ...]]] = [
        ("name", data["name"], ("name",)),
        ("version", data["version"], ("version",)),
    ]
    named += [("app name", name, ("apps", name)) for name in data.get("apps") or {}]
    named += [("part name", name, ("parts", name)) for name in data.get("parts") or {}]
    for label, value, path in named:
        pattern, rule = NAMING_RULES[label]
        if not pattern.fullmatch(str(value)):
            raise SourceError(
                f"invalid {label} {str(value)[:60]!r}", hint=f"use {rule}", location=locate(path)
            )


def _legacy(document: Document, on: str, build_for: str | None) -> tuple[str, tuple[str, ...], str]:
    got = claim(parse(document), on)
    concrete = [arch for arch in got.architectures if arch != "all"]
    if build_for is not None and concrete and build_for not in concrete:
        raise ArchitectureError(
            f"the entry that builds on {on} runs on {', '.join(concrete)}, not {build_for}",
            hint=f"pass --build-for one of: {', '.join(concrete)}, or none",
            location=document.locate(("architectures",)),
        )
    target = build_for or (concrete[0] if len(concrete) == 1 else on)
    return target, tuple(got.architectures), got.reason


def _modern(document: Document, on: str, build_for: str | None) -> tuple[str, tuple[str, ...], str]:
    builds = [
        build
        for build in plan_modern(document).builds
        if build.build_on == on and build_for in (None, build.build_for)
    ]
    if not builds:
        wanted = f" for {build_for}" if build_for else ""
        raise ArchitectureError(
            f"no platform builds on {on}{wanted}",
            hint="add a platform whose build-on includes it, or pass --build-on/--build-for",
            location=document.locate(("platforms",))
            if "platforms" in document.data
            else document.locate(("base",)),
        )
    chosen = builds[0]
    target = chosen.build_for
    reason = f"platform {chosen.platform} builds on {on} for {target}"
    return ("amd64" if target == "all" else target), (target,), reason


def _hints(document: Document) -> BuildHints:
    section = document.data.get(HINTS_KEY)
    if section is None:
        return BuildHints()
    env = section.get("build-environment") if isinstance(section, Mapping) else None
    path: tuple[str, ...] = (HINTS_KEY, "build-environment")
    if not isinstance(env, Mapping) or set(env) - HINT_KEYS:
        raise SourceError(
            f"{HINTS_KEY}.build-environment must map {' and '.join(sorted(HINT_KEYS))}",
            hint="e.g. x-workbench: {build-environment: {memory: 2G, cpus: 2}}",
            location=document.locate(path if isinstance(section, Mapping) else (HINTS_KEY,)),
        )
    cpus = env.get("cpus")
    if cpus is not None and (not isinstance(cpus, int) or isinstance(cpus, bool) or cpus < 1):
        raise SourceError(
            "cpus must be a positive whole number",
            hint="e.g. cpus: 2",
            location=document.locate((*path, "cpus")),
        )
    memory = env.get("memory")
    return BuildHints(memory=None if memory is None else str(memory), cpus=cpus)
