"""A build's ``prime/`` in the VM and the packed snap's ``meta/snap.yaml``, as data.

:func:`listing_command` is the guest command listing prime/ and :func:`parse_listing` reads its
output; :func:`packed_snap_yaml` reads ``meta/snap.yaml`` out of a ``.snap`` on the host with
``unsquashfs -cat``.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import BuildError

KINDS = {"f": "file", "d": "dir", "l": "link"}
SNAP_YAML = "meta/snap.yaml"


@dataclass(frozen=True)
class PrimePath:
    """One path under prime/: its kind (file, dir, link, other) and size in bytes."""

    path: str
    kind: str
    size: int


def listing_command(prime: str) -> list[str]:
    """The guest command printing ``TYPE SIZE PATH`` for everything under ``prime`` (GNU find)."""
    return ["find", prime, "-mindepth", "1", "-printf", "%y %s %P\\n"]


def parse_listing(text: str) -> list[PrimePath]:
    """The entries of :func:`listing_command`'s output, sorted by path."""
    entries = []
    for line in text.splitlines():
        kind, size, path = [*line.split(" ", 2), "", ""][:3]
        if path and size.isdigit():
            entries.append(PrimePath(path, KINDS.get(kind, "other"), int(size)))
    return sorted(entries, key=lambda e: e.path)


def packed_snap_yaml(snap: Path) -> str:
    """The ``meta/snap.yaml`` inside the packed ``snap`` (host ``unsquashfs``)."""
    try:
        proc = subprocess.run(
            ["unsquashfs", "-cat", str(snap), SNAP_YAML],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f"cannot read {SNAP_YAML} from {snap}: {exc}") from exc
    if proc.returncode != 0:
        raise BuildError(
            f"cannot read {SNAP_YAML} from {snap}", details=(proc.stderr or proc.stdout).strip()
        )
    return proc.stdout
