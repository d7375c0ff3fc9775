"""Whether the VM's last build is still current: a rebuild that would change nothing is skipped.

Every guest runner start costs seconds in a TCG guest (craft-parts alone imports in 8 s there),
so a rebuild with nothing changed should not start one. After a lifecycle run that succeeded,
the session writes a :func:`fingerprint` of everything the run depended on into the guest's work
directory (:func:`record_path`): the guest spec (parts, target step, options, snap.yaml...), the
workbench release the guest runs, and the project's files as the host sees them (path, size,
mode, modification time of each; the outputs left out), the way make and craft-parts judge local
sources. The next build with the same fingerprint skips the lifecycle without starting craft-parts
in the guest. The record lives on the VM's disk, so a snapshot restore brings back the record of
that moment; a run removes it first, and a clean removes it.

After a pack, the host remembers (``packed.json`` in the instance directory) which fingerprint the
``.snap`` it delivered was packed from, and its sha256: when the lifecycle was skipped and the
project's ``.snap`` is still that file, the pack is skipped too.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from workbench.files import write_atomic
from workbench.lifecycle.guest import IGNORED_SOURCES, GuestSpec
from workbench.vm.provider import Machine

RECORD_NAME = ".workbench-built"
PACKED_NAME = "packed.json"
_READ_LIMIT = 4096


def fingerprint(spec: GuestSpec, workbench_key: str, project: Path) -> str:
    """The digest of what a lifecycle run of ``spec`` depends on (pure but for reading the
    project's file metadata)."""
    digest = hashlib.sha256()
    digest.update(f"{workbench_key}\n{spec.to_json()}\n".encode())
    for line in project_files(project):
        digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def project_files(root: Path) -> list[str]:
    """One line per file, link and directory under ``root`` (path, type and size, mode, mtime in
    ns), sorted; the top-level outputs and work areas (:data:`IGNORED_SOURCES`) left out."""
    lines: list[str] = []
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        top = here == root
        if top:
            dirs[:] = [d for d in dirs if not _ignored(d)]
        for name in [*dirs, *(f for f in files if not (top and _ignored(f)))]:
            path = here / name
            info = path.lstat()
            relative = path.relative_to(root).as_posix()
            lines.append(f"{relative}\0{info.st_mode:o}\0{info.st_size}\0{info.st_mtime_ns}")
    return sorted(lines)


def _ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED_SOURCES)


def record_path(spec: GuestSpec) -> str:
    """Where the guest keeps the fingerprint of its last successful lifecycle run."""
    return f"{spec.work_dir}/{RECORD_NAME}"


def recorded(machine: Machine, spec: GuestSpec) -> str | None:
    """The fingerprint the guest recorded for its last successful run, or None."""
    result = machine.exec(["head", "-c", str(_READ_LIMIT), record_path(spec)])
    return result.stdout.strip() or None if result.exit_status == 0 else None


def record(machine: Machine, spec: GuestSpec, value: str) -> None:
    """Record ``value`` (a hex digest) as the guest's last successful run (the file belongs to
    the work directory's owner, the build user, as everything under it)."""
    script = (
        'printf "%s\\n" "$1" > "$2.new" && chown --reference="$3" "$2.new" && mv -f "$2.new" "$2"'
    )
    machine.exec(["sh", "-c", script, "sh", value, record_path(spec), spec.work_dir], check=True)


def forget(machine: Machine, spec: GuestSpec) -> None:
    """Remove the guest's record (before a run, after a clean)."""
    machine.exec(["rm", "-f", record_path(spec)], check=True)


def remember_pack(instance_dir: Path, value: str, snap: Path) -> None:
    """Remember that ``snap`` (delivered into the project) was packed from fingerprint ``value``
    (one record per snap: the builds of a set that share a VM keep theirs)."""
    packed = _packed(instance_dir)
    packed[str(snap)] = {"fingerprint": value, "sha256": _sha256(snap)}
    write_atomic(instance_dir / PACKED_NAME, json.dumps(packed) + "\n")


def pack_is_current(instance_dir: Path, value: str, snap: Path) -> bool:
    """Whether ``snap`` is the file packed from fingerprint ``value`` and is unchanged since."""
    try:
        packed = _packed(instance_dir)[str(snap)]
        return bool(packed["fingerprint"] == value and packed["sha256"] == _sha256(snap))
    except (OSError, KeyError, TypeError):
        return False


def _packed(instance_dir: Path) -> dict[str, Any]:
    try:
        packed = json.loads((instance_dir / PACKED_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return packed if isinstance(packed, dict) and "fingerprint" not in packed else {}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
