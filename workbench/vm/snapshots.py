"""Snapshot tags: what a saved VM state depends on, and whether it may be loaded now.

A qemu VM state only loads into the same virtual hardware and the same disk lineage. Every saved
state is recorded with a :class:`SnapshotTag` (base image sha256, memory, CPUs, machine type, qemu
version, the 9p mount tags: a state saved with one set of 9p devices does not load into
another); :func:`mismatches` lists what differs, and a state with any difference is never loaded.
The guest-side steps around savevm/loadvm are data here too: 9p must be unmounted before
``savevm`` (qemu blocks migration while it is mounted) and the clock reset after ``loadvm``.
The operations (:func:`save`, :func:`load`, :func:`delete`, :func:`listing`) go through the
instance's QMP socket, or ``qemu-img`` on the overlay when qemu is not running.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from workbench.errors import UsageError, VmError
from workbench.vm import qemu
from workbench.vm.executor import Executor
from workbench.vm.qmp import Qmp, SnapshotEntry, parse_snapshots
from workbench.vm.state import InstanceDir, InstanceState

WARM = "warm"  # the state `down --save` stores and the next `up` starts from

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")

BEFORE_SAVE: tuple[tuple[str, ...], ...] = (("sh", "-c", "umount -a -t 9p 2>/dev/null; sync"),)


def after_load(now: float) -> tuple[tuple[str, ...], ...]:
    """The guest commands run after a saved state is loaded: the guest's clock, stopped when the
    state was saved, is set to the host's ``now`` (``date -s @SECONDS``: one quick command,
    where ``hwclock --hctosys`` waits for the RTC's next second)."""
    return (("date", "-u", "-s", f"@{int(now)}"),)


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


@dataclass(frozen=True)
class SnapshotInfo:
    """A saved VM state with its tag and whether this instance may load it."""

    name: str
    entry: SnapshotEntry | None
    tag: SnapshotTag | None
    problems: list[str] = field(default_factory=list)

    @property
    def loadable(self) -> bool:
        return not self.problems


def tag_now(
    base_sha256: str, state: InstanceState, binary: str, machine: str, shares: list[str]
) -> SnapshotTag:
    """The tag a state saved now, with ``state``'s settings, the emulator ``binary`` running the
    machine type ``machine`` and these 9p mount tags, gets."""
    return SnapshotTag(
        base_sha256,
        state.memory_mib,
        state.cpus,
        machine,
        qemu.qemu_version(binary),
        ",".join(shares),
        state.disk_mib,
    )


def running_tag(state: InstanceState) -> SnapshotTag:
    """The tag of a state saved from the qemu that ``state`` records as launched."""
    if not state.argv:
        raise VmError(f"instance of {state.project} was never launched", hint="run `vm up`")
    return tag_now(
        state.base_sha256,
        state,
        state.argv[0],
        qemu.machine_of(state.argv),
        qemu.share_tags(state.argv),
    )


def save(d: InstanceDir, ssh: Executor, name: str, state: InstanceState) -> InstanceState:
    """Save the running VM of ``d`` as ``name`` (9p unmounted first); the state recording it."""
    for argv in BEFORE_SAVE:
        ssh.run(argv, timeout=120, check=True)
    with Qmp(d.qmp_socket, timeout=600).connect() as qmp:
        try:
            qmp.savevm(name)
        except VmError as err:
            raise d.diagnosed(err) from err
    state = replace(state, snapshots={**state.snapshots, name: running_tag(state).to_json()})
    d.save_state(state)
    return state


def load(d: InstanceDir, name: str, state: InstanceState) -> None:
    """Bring the running VM of ``d`` back to ``name`` (refused when its tag differs); the guest
    must be quiesced (:data:`BEFORE_SAVE`) and its connections closed first."""
    problems = mismatches(SnapshotTag.from_json(state.snapshots.get(name, {})), running_tag(state))
    if problems:
        raise d.diagnosed(
            VmError(f"snapshot {name} does not match this instance: {'; '.join(problems)}")
        )
    with Qmp(d.qmp_socket, timeout=600).connect() as qmp:
        try:
            qmp.loadvm(name)
        except VmError as err:
            raise d.diagnosed(err) from err


def delete(d: InstanceDir, name: str, state: InstanceState) -> None:
    with Qmp(d.qmp_socket, timeout=120).connect() as qmp:
        qmp.delvm(name)
    d.save_state(replace(state, snapshots={k: v for k, v in state.snapshots.items() if k != name}))


def listing(d: InstanceDir, state: InstanceState, *, running: bool) -> list[SnapshotInfo]:
    """The saved states in the overlay of ``d``, with their tags and loadability."""
    if running:
        with Qmp(d.qmp_socket, timeout=60).connect() as qmp:
            entries = qmp.snapshots()
    else:
        entries = _offline(d.overlay)
    if not entries:
        return []
    current = running_tag(state)
    out = []
    for entry in entries:
        tag = SnapshotTag.from_json(state.snapshots.get(entry.tag, {}))
        out.append(SnapshotInfo(entry.tag, entry, tag, mismatches(tag, current)))
    return out


def _offline(overlay: Path) -> list[SnapshotEntry]:
    try:
        out = subprocess.run(
            ["qemu-img", "snapshot", "-l", "-U", str(overlay)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise VmError(f"cannot list the snapshots of {overlay}: {exc}") from exc
    return parse_snapshots(out)
