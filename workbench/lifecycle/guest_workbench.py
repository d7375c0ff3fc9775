"""Which workbench the guest runs: this one, or another release chosen to compare behaviour.

``workbench build --workbench-version SPEC`` (or ``WORKBENCH_GUEST_VERSION=SPEC``) picks it:

- nothing, ``source`` or ``.``: the running workbench's own source tree (the default);
- a ``workbench-*.whl`` file: that wheel, as released;
- a directory holding ``pyproject.toml`` and ``workbench/``: another checkout of the workbench;
- anything else: a git revision (tag, branch, commit) of the running workbench's repository.

Each resolves to a :class:`GuestWorkbench`: its label for the logs, its key (``VERSION-DIGEST``:
what the guest records as installed) and the ``guest`` extra of *that* release (its own
dependencies). Making its wheel is :func:`workbench.lifecycle.wheelhouse.ensure_wheelhouse`'s job.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tomllib
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from email.parser import HeaderParser
from pathlib import Path

from workbench.errors import UsageError, VmError

ENV = "WORKBENCH_GUEST_VERSION"
RUNNING = ("", "source", ".")
"""Specs that mean the running workbench."""
EXTRA = "guest"
_EXTRA_MARKER = re.compile(r";\s*extra\s*==\s*[\"']" + EXTRA + r"[\"']\s*$")
_FLAG = "--workbench-version"


@dataclass(frozen=True)
class GuestWorkbench:
    """One workbench release for the guest: where its wheel comes from, and what it needs."""

    label: str  # e.g. "this source tree", "git v0.2 (1a2b3c4d5e6f)", "wheel workbench-0.1.0-..."
    key: str  # VERSION-DIGEST, unique per content
    requirements: tuple[str, ...]  # its `guest` extra, markers removed
    tree: Path | None = None  # a source tree to build the wheel from
    revision: str | None = None  # or a git commit of `tree`'s repository
    wheel: Path | None = None  # or a ready wheel
    running: bool = False  # the running workbench's own source tree


def source_root() -> Path:
    """The source tree of the running workbench (the directory holding ``pyproject.toml``)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise VmError(
            "cannot inject workbench: it is not running from a source tree",
            hint="install it editable (./dev) so its wheel can be built for the guest",
        )
    return root


def resolve(spec: str | None = None, environ: Mapping[str, str] = os.environ) -> GuestWorkbench:
    """The guest workbench ``spec`` names (``None``: ``$WORKBENCH_GUEST_VERSION``; empty: this
    one)."""
    text = (environ.get(ENV, "") if spec is None else spec).strip()
    if text in RUNNING:
        return replace(from_tree(source_root(), label="this source tree"), running=True)
    if text.startswith("-"):
        raise UsageError(f"{_FLAG} {text!r}: a revision, wheel or directory cannot start with '-'")
    path = Path(text).expanduser()
    if path.suffix == ".whl":
        return from_wheel(path)
    if path.is_dir():
        return from_tree(path.resolve(), label=f"source tree {path.resolve()}")
    return from_revision(source_root(), text)


def from_tree(tree: Path, *, label: str) -> GuestWorkbench:
    """The workbench in the source tree ``tree``; its key digests every source file."""
    project = _pyproject(tree / "pyproject.toml", (tree / "pyproject.toml").read_bytes())
    if not (tree / "workbench").is_dir():
        raise UsageError(f"{tree}: {_FLAG}: not a workbench source tree (no workbench/ package)")
    requirements = guest_requirements(project)
    digest = hashlib.sha256("\n".join(requirements).encode())
    for path in sorted((tree / "workbench").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(tree)).encode())
            digest.update(path.read_bytes())
    digest.update((tree / "pyproject.toml").read_bytes())
    key = f"{_version(project, tree)}-{digest.hexdigest()[:12]}"
    return GuestWorkbench(label, key, requirements, tree=tree)


def from_revision(tree: Path, revision: str) -> GuestWorkbench:
    """The workbench at git ``revision`` of the repository holding ``tree``."""
    commit = _git(tree, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if commit is None:
        raise UsageError(
            f"{_FLAG} {revision!r}: not a .whl file, a source directory or a git revision of "
            f"{tree}",
            hint="give a tag, branch or commit (git log), a workbench wheel or a checkout",
        )
    text = _git(tree, "show", f"{commit}:pyproject.toml")
    if text is None:
        raise UsageError(f"{_FLAG} {revision!r}: commit {commit[:12]} has no pyproject.toml")
    project = _pyproject(Path(f"{revision}:pyproject.toml"), text.encode())
    key = f"{_version(project, tree)}-g{commit[:12]}"
    label = f"git {revision} ({commit[:12]})"
    return GuestWorkbench(label, key, guest_requirements(project), tree=tree, revision=commit)


def from_wheel(wheel: Path) -> GuestWorkbench:
    """The released workbench wheel ``wheel``."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            metadata = HeaderParser().parsestr(archive.read(name).decode())
        data = wheel.read_bytes()
    except (OSError, zipfile.BadZipFile, StopIteration) as exc:
        raise UsageError(f"{wheel}: {_FLAG}: not a readable wheel ({exc})") from exc
    if (metadata["Name"] or "").lower() != "workbench":
        raise UsageError(f"{wheel}: {_FLAG}: a wheel of {metadata['Name']!r}, not of workbench")
    requirements = tuple(
        sorted(
            _EXTRA_MARKER.sub("", req).strip()
            for req in metadata.get_all("Requires-Dist") or []
            if _EXTRA_MARKER.search(req)
        )
    )
    key = f"{metadata['Version']}-w{hashlib.sha256(data).hexdigest()[:12]}"
    return GuestWorkbench(f"wheel {wheel.name}", key, requirements, wheel=wheel.resolve())


def guest_requirements(project: Mapping[str, object]) -> tuple[str, ...]:
    """The ``guest`` extra of a parsed ``pyproject.toml`` (what craft-parts the guest needs)."""
    extras = project.get("optional-dependencies")
    found = extras.get(EXTRA) if isinstance(extras, dict) else None
    if not isinstance(found, list) or not found:
        raise UsageError(f"{_FLAG}: that workbench's pyproject.toml has no '{EXTRA}' extra")
    return tuple(sorted(str(req) for req in found))


def _pyproject(path: Path, data: bytes) -> dict[str, object]:
    try:
        project = tomllib.loads(data.decode()).get("project")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: {_FLAG}: unreadable pyproject.toml ({exc})") from exc
    if not isinstance(project, dict):
        raise UsageError(f"{path}: {_FLAG}: no [project] table")
    return project


def _version(project: Mapping[str, object], tree: Path) -> str:
    version = project.get("version")
    if not isinstance(version, str):
        raise UsageError(f"{tree}: {_FLAG}: pyproject.toml has no static project.version")
    return version


def _git(tree: Path, *args: str) -> str | None:
    """``git -C tree ARGS`` output, or None when git fails (an argv: no shell)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(tree), *args], check=False, capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
