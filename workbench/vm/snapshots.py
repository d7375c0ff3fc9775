"""Snapshot tags: what a saved VM state depends on, and whether it may be loaded now.

A qemu VM state only loads into the same virtual hardware and the same disk lineage. Every saved
state is recorded with a :class:`SnapshotTag` (base image sha256, memory, CPUs, machine type, qemu
version, the 9p mount tags: a state saved with one set of 9p devices does not load into
another); :func:`mismatches` lists what differs, and a state with any difference is never loaded.
The guest-side steps around savevm/loadvm are data here too: 9p must be unmounted before
``savevm`` (qemu blocks migration while it is mounted) and the clock reset after ``loadvm``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from workbench.errors import UsageError

WARM = "warm"  # the state `down --save` stores and the next `up` starts from

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")

BEFORE_SAVE: tuple[tuple[str, ...], ...] = (("sh", "-c", "umount -a -t 9p 2>/dev/null; sync"),)
AFTER_LOAD: tuple[tuple[str, ...], ...] = (("hwclock", "--hctosys"),)


@dataclass(frozen=True)
class SnapshotTag:
    """The identity a saved VM state must share with the instance that loads it."""

    base_sha256: str
    memory_mib: int
    cpus: int
    machine: str
    qemu_version: str
    shares: str = "project"  # the 9p mount tags, comma-separated and sorted
    disk_mib: int | None = None  # loadvm also restores the disk's virtual size of that time

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SnapshotTag | None:
        """The tag recorded in ``raw``, or None when it is incomplete."""
        try:
            return cls(**{f.name: raw[f.name] for f in fields(cls)})
        except (KeyError, TypeError):
            return None


def mismatches(saved: SnapshotTag | None, current: SnapshotTag) -> list[str]:
    """What differs between a saved state's tag and the instance now, in words (pure)."""
    if saved is None:
        return ["no tag was recorded for it"]
    out = []
    for f in fields(SnapshotTag):
        was, now = getattr(saved, f.name), getattr(current, f.name)
        if was != now:
            if f.name == "base_sha256":
                was, now = str(was)[:12], str(now)[:12]
            out.append(f"{f.name.replace('_', ' ')} {was} != {now}")
    return out


def check_name(name: str) -> str:
    """``name`` when it is a valid snapshot name, else a UsageError."""
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"invalid snapshot name {name!r}",
            hint="start with a letter; letters, digits, '_', '.', '-' only; at most 64 characters",
        )
    return name
