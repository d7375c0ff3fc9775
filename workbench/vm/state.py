"""The instance directory and its recorded state: the only module that knows its file names.

One instance per project, under :func:`workbench.dirs.instances_dir`, named after the project's
resolved path (a readable name plus a short hash). The directory is the whole truth about the
instance, as in lima: ``instance.json`` records what was asked and launched, the lock file names the
owning process, and :meth:`InstanceDir.status` combines them with the liveness of that process, so
every process (CLI, notebook, a crashed run) sees the same answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from workbench import dirs
from workbench.errors import VmError, WorkbenchError
from workbench.files import write_atomic
from workbench.vm import diagnose
from workbench.vm.arch import DEFAULT_ARCH
from workbench.vm.lock import InstanceLock, ProcessRef

# AF_UNIX socket paths are limited to 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH = 107


class Status(StrEnum):
    """What an instance is doing, derived from its files and the liveness of its qemu."""

    ABSENT = "absent"  # never launched (no instance.json)
    STARTING = "starting"  # qemu alive, readiness checks running
    RUNNING = "running"  # qemu alive, guest ready
    FAILED = "failed"  # qemu alive, a readiness step failed (kept up for debugging)
    STOPPED = "stopped"  # qemu not running, cold boot next
    SAVED = "saved"  # qemu not running, warm start from the saved state next
    CRASHED = "crashed"  # qemu died while the instance was starting or running
    BROKEN = "broken"  # files missing (overlay)
    REMOTE = "remote"  # an existing SSH host: the workbench neither starts nor stops it


class Phase(StrEnum):
    """The last intent recorded in ``instance.json`` (what the launcher or ``down`` did)."""

    STARTING = "starting"  # qemu started, readiness checks running
    RUNNING = "running"  # the guest passed its readiness checks
    FAILED = "failed"  # a readiness check failed; qemu kept up for debugging
    STOPPED = "stopped"  # stopped: cold boot next
    SAVED = "saved"  # stopped with a saved state: warm start next


@dataclass(frozen=True)
class InstanceState:
    """The contents of ``instance.json``: settings, the last launch and the snapshot tags."""

    project: str
    image: str
    base_sha256: str
    memory_mib: int
    cpus: int
    disk_mib: int | None = None  # the overlay's virtual size (None: made before it was recorded)
    state: Phase = Phase.STOPPED
    pid: int | None = None
    pid_start: int | None = None
    port: int | None = None
    accel: str | None = None
    argv: list[str] = field(default_factory=list)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    stand_in_for: str | None = None  # the Ubuntu release ``image`` stands in for, if any

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", Phase(self.state))  # JSON holds the plain string

    @property
    def qemu(self) -> ProcessRef | None:
        if self.pid is None or self.pid_start is None:
            return None
        return ProcessRef(self.pid, self.pid_start)

    def launched(self, qemu: ProcessRef | None, **changes: Any) -> InstanceState:
        """A copy recording ``qemu`` as the instance's process, plus other field changes."""
        return replace(
            self,
            pid=qemu.pid if qemu else None,
            pid_start=qemu.start_time if qemu else None,
            **changes,
        )


@dataclass(frozen=True)
class StatusReport:
    """What ``vm status`` shows."""

    name: str
    project: str
    status: Status
    directory: str
    image: str | None = None
    pid: int | None = None
    port: int | None = None
    accel: str | None = None
    memory_mib: int | None = None
    cpus: int | None = None
    disk_mib: int | None = None
    snapshots: list[str] = field(default_factory=list)
    stand_in_for: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Status) else v for k, v in self.__dict__.items()}

    @property
    def image_label(self) -> str | None:
        """``debian-12 (stand-in for Ubuntu 22.04)`` or the image's name."""
        if self.image is None or self.stand_in_for is None:
            return self.image
        return f"{self.image} (stand-in for {self.stand_in_for})"


def derive_status(state: InstanceState | None, *, qemu_alive: bool, overlay: bool) -> Status:
    """The status from the recorded state, qemu's liveness and the overlay's presence (pure)."""
    if state is None:
        return Status.ABSENT
    if qemu_alive:
        return {
            Phase.STARTING: Status.STARTING,
            Phase.FAILED: Status.FAILED,
        }.get(state.state, Status.RUNNING)
    if not overlay:
        return Status.BROKEN
    if state.state in (Phase.STARTING, Phase.RUNNING):
        return Status.CRASHED
    if state.state is Phase.SAVED:
        return Status.SAVED
    return Status.STOPPED


def instance_name(project: Path, arch: str = DEFAULT_ARCH) -> str:
    """``NAME-HASH``: the project's directory name (sanitised) and a hash of its resolved path;
    ``NAME-HASH-ARCH`` for a VM of another architecture than :data:`DEFAULT_ARCH` (a project has
    one VM per build-on architecture)."""
    resolved = project.resolve()
    digest = hashlib.sha256(str(resolved).encode("utf-8", "surrogateescape")).hexdigest()[:10]
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", resolved.name).strip("-.")[:40] or "root"
    return f"{readable}-{digest}" + ("" if arch == DEFAULT_ARCH else f"-{arch}")


@dataclass(frozen=True)
class InstanceDir:
    """Paths of one instance directory and reading/writing its state."""

    root: Path

    @classmethod
    def for_project(
        cls, project: Path, *, instances: Path | None = None, arch: str = DEFAULT_ARCH
    ) -> InstanceDir:
        """The directory of ``project``'s VM of architecture ``arch``."""
        return cls((instances or dirs.instances_dir()) / instance_name(project, arch))

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def overlay(self) -> Path:
        return self.root / "overlay.qcow2"

    @property
    def seed_iso(self) -> Path:
        return self.root / "seed.iso"

    @property
    def ssh_key(self) -> Path:
        return self.root / "ssh_key"

    @property
    def host_key(self) -> Path:
        return self.root / "host_key"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def qmp_dir(self) -> Path:
        return self.root / "qmp"

    @property
    def qmp_socket(self) -> Path:
        return self.qmp_dir / "sock"  # short: a unix socket path has at most 107 bytes

    @property
    def serial_log(self) -> Path:
        return self.root / "serial.log"

    @property
    def qemu_log(self) -> Path:
        return self.root / "qemu.log"

    @property
    def workbench_log(self) -> Path:
        return self.root / "workbench.log"

    @property
    def state_file(self) -> Path:
        return self.root / "instance.json"

    @property
    def build_log(self) -> Path:
        """The readable log of the builds run in this instance."""
        return self.root / "build.log"

    @property
    def events_log(self) -> Path:
        """The builds' events as JSON lines."""
        return self.root / "events.jsonl"

    @property
    def keepalive_file(self) -> Path:
        """When the watchdog stops this instance, and why."""
        return self.root / "keepalive.json"

    @property
    def injected_marker(self) -> Path:
        """The version of the workbench wheelhouse installed in the guest."""
        return self.root / "injected"

    @property
    def rekey_marker(self) -> Path:
        """Present while the instance still has the keys of the base it was copied from."""
        return self.root / "rekey"

    @property
    def lock(self) -> InstanceLock:
        return InstanceLock(self.root / "lock")

    def report(self, project: Path, state: InstanceState | None, *, alive: bool) -> StatusReport:
        """What ``vm status`` shows of this instance (``alive``: its qemu runs)."""
        return StatusReport(
            name=self.name,
            project=str(project),
            status=self.status(),
            directory=str(self.root),
            image=state.image if state else None,
            pid=state.pid if state and alive else None,
            port=state.port if state else None,
            accel=state.accel if state else None,
            memory_mib=state.memory_mib if state else None,
            cpus=state.cpus if state else None,
            disk_mib=state.disk_mib if state else None,
            snapshots=sorted(state.snapshots) if state else [],
            stand_in_for=state.stand_in_for if state else None,
        )

    def diagnosed(self, err: WorkbenchError, cls: type[WorkbenchError] = VmError) -> WorkbenchError:
        """``err`` with the diagnosis from this instance's logs (:func:`diagnose.with_logs`)."""
        return diagnose.with_logs(err, qemu_log=self.qemu_log, serial_log=self.serial_log, cls=cls)

    def explain(self, text: str) -> diagnose.Diagnosis | None:
        """The known failure behind ``text`` (e.g. a failed command's stderr), if any."""
        return diagnose.explain(text, qemu_log=self.qemu_log, serial_log=self.serial_log)

    def logs(self) -> dict[str, Path]:
        """The log files by role."""
        return {
            "serial": self.serial_log,
            "qemu": self.qemu_log,
            "workbench": self.workbench_log,
            "build": self.build_log,
        }

    def create(self) -> None:
        """Make the directory (0700) and the private QMP socket directory (0700)."""
        if len(str(self.qmp_socket)) > _MAX_SOCKET_PATH:
            raise VmError(
                f"instance directory path too long for a unix socket: {self.qmp_socket}",
                hint="set WORKBENCH_CACHE_DIR to a shorter path",
            )
        for path in (self.root, self.qmp_dir):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path, 0o700)

    def load_state(self) -> InstanceState | None:
        """The recorded state, or None before the first launch."""
        try:
            raw = json.loads(self.state_file.read_text(encoding="utf-8"))
            return InstanceState(**raw)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:  # ValueError: also an unknown phase
            raise VmError(
                f"unreadable instance state {self.state_file}: {exc}",
                hint="run `vm clean` to start this instance afresh",
            ) from exc

    def save_state(self, state: InstanceState) -> None:
        """Write ``instance.json`` atomically."""
        write_atomic(self.state_file, json.dumps(asdict(state), indent=2) + "\n")

    def qemu_alive(self, state: InstanceState | None) -> bool:
        """True when the recorded qemu process is running."""
        ref = state.qemu if state else None
        return ref is not None and ref.alive()

    def status(self) -> Status:
        state = self.load_state()
        return derive_status(
            state, qemu_alive=self.qemu_alive(state), overlay=self.overlay.exists()
        )
