"""Packing prime into a ``.snap``: checks and the mksquashfs command (guest side, stdlib only).

The host writes the snap.yaml text (:mod:`workbench.lifecycle.snapyaml`); in the guest
:func:`pack` (run as the build user) puts it in ``prime/meta/``, checks that every app's command
exists in prime and squashes prime with mksquashfs on the VM disk. The host fetches the result
(:mod:`workbench.lifecycle.outputs`).
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class PackError(Exception):
    """Prime cannot be packed as asked (a missing command, a mksquashfs failure)."""


def mksquashfs_argv(prime: Path, snap: Path) -> list[str]:
    """The mksquashfs command snapd's packer uses: xz, no fragments, all files owned by root."""
    return [
        "mksquashfs",
        str(prime),
        str(snap),
        "-noappend",
        "-comp",
        "xz",
        "-no-fragments",
        "-no-progress",
        "-all-root",
        "-no-xattrs",
    ]


def missing_commands(apps: Mapping[str, Any], prime: Path) -> list[str]:
    """``app: command`` for each app whose command is not a file in ``prime``."""
    missing = []
    for name, app in sorted(apps.items()):
        for key in ("command", *(["command-chain"] if app.get("command-chain") else [])):
            values = app.get(key)
            for value in values if isinstance(values, list) else [values]:
                if not value:
                    continue
                first = shlex.split(str(value))[0]
                rel = first.removeprefix("$SNAP/").lstrip("/")
                if not (prime / rel).is_file():
                    missing.append(f"{name}: {key} {first!r}")
    return missing


def pack(prime: Path, *, snap_yaml: str, apps: Mapping[str, Any], snap: Path) -> Path:
    """Write meta/snap.yaml, squash ``prime`` into ``snap``; return ``snap``."""
    missing = missing_commands(apps, prime)
    if missing:
        raise PackError("not found in prime: " + "; ".join(missing))
    meta = prime / "meta"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "snap.yaml").write_text(snap_yaml, encoding="utf-8")
    snap.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(mksquashfs_argv(prime, snap), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PackError(f"mksquashfs failed: {done.stderr.strip() or done.stdout.strip()}")
    return snap
