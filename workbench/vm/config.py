"""What a build VM is asked to be: :class:`InstanceConfig` (one frozen value) and its parts.

Everything ``Instance`` used to take as keyword arguments lives here, checked once when the value
is made (memory and disk sizes, CPU count, share mode, share tags and directories), so a bad
setting is a user error before anything starts. :meth:`InstanceConfig.resume` is the reuse rule
of an existing instance: what is asked wins, else what the instance was made with, else the
defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import UsageError
from workbench.vm.qemu import SHARE_MODES

if TYPE_CHECKING:
    from workbench.vm.images import BootImage
    from workbench.vm.state import InstanceState

DEFAULT_IMAGE = "tiny"
DEFAULT_IMAGES = {"amd64": DEFAULT_IMAGE, "arm64": "tiny-arm64"}
"""The image a new VM of each architecture boots unless told otherwise (``vm up``)."""
DEFAULT_MEMORY = "1G"
DEFAULT_CPUS = 2
_MEMORY = re.compile(r"(\d+)\s*([MmGg]?)(?:i?[Bb])?")
_SHARE_TAG = re.compile(r"[a-z][a-z0-9_-]{0,30}")


def parse_memory(text: str | int, *, what: str = "memory size") -> int:
    """MiB from ``1G``, ``512M``, ``2GiB`` or a plain number of MiB (``what``: for the error)."""
    match = _MEMORY.fullmatch(str(text).strip())
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"invalid {what} {text!r}", hint="use e.g. 512M or 2G")
    number, unit = int(match.group(1)), match.group(2).upper()
    return number * 1024 if unit == "G" else number


@dataclass(frozen=True)
class Timeouts:
    """Deadlines in seconds; shutdown ones nest (powerdown, then quit, then kill)."""

    qmp: float = 15
    port: float = 30
    banner: float = 240
    login: float = 30
    ready: float = 600
    mount: float = 30
    powerdown: float = 30
    quit: float = 10

    @property
    def boot(self) -> float:
        """The longest a boot may take: every readiness deadline in turn."""
        return self.qmp + self.port + self.banner + self.login + self.ready + self.mount


@dataclass(frozen=True)
class InstanceConfig:
    """The settings of one build VM.

    ``shares``: extra host directories exported read-only over 9p by mount tag (the guest mounts
    them when it needs them); they are part of every snapshot tag, like the project share.
    ``share_mode``: ``ro`` (default) exports the project read-only, so nothing the guest does can
    create or change a file in it; ``rw`` lets the guest write it (setuid and world-writable
    files included: see docs/security.md). ``stand_in_for``: the Ubuntu release the image stands
    in for (:class:`~workbench.vm.bases.ImageChoice`), recorded in the instance's state.
    """

    image: str | BootImage = DEFAULT_IMAGE
    memory: str | int = DEFAULT_MEMORY
    cpus: int = DEFAULT_CPUS
    disk_size: str | int | None = None
    accel: str | None = None
    ssh_port: int | None = None
    extra_append: str = ""
    qemu_binary: str | None = None
    msize: int = 512000
    share_project: bool = True
    share_mode: str = "ro"
    shares: Mapping[str, Path] = field(default_factory=dict)
    timeouts: Timeouts = Timeouts()
    stand_in_for: str | None = None

    def __post_init__(self) -> None:
        _checked = (self.memory_mib, self.disk_mib)  # a bad size fails here, not at launch
        if self.cpus < 1:
            raise UsageError(f"invalid CPU count {self.cpus}", hint="use 1 or more")
        if self.share_mode not in SHARE_MODES:
            raise UsageError(f"invalid share mode {self.share_mode!r}", hint="use ro or rw")
        object.__setattr__(self, "shares", dict(read_only_shares(self.shares)))

    @property
    def memory_mib(self) -> int:
        return parse_memory(self.memory)

    @property
    def disk_mib(self) -> int | None:
        return None if self.disk_size is None else parse_memory(self.disk_size, what="disk size")

    @property
    def share_list(self) -> tuple[tuple[str, Path], ...]:
        """The extra shares as ``(tag, directory)`` pairs sorted by tag."""
        return tuple(sorted(self.shares.items()))

    @property
    def mount_tags(self) -> list[str]:
        """Every 9p mount tag a qemu launched with this configuration exports, sorted."""
        return sorted([*(["project"] if self.share_project else []), *self.shares])

    @classmethod
    def resume(
        cls,
        recorded: InstanceState | None,
        *,
        image: str | None = None,
        memory: str | None = None,
        cpus: int | None = None,
        arch: str = "amd64",
    ) -> InstanceConfig:
        """The settings to start an instance of ``arch`` with: those asked, else the ones
        ``recorded`` when it was made, else the defaults (the other fields: defaults, to
        ``replace``)."""
        return cls(
            image=image or (recorded.image if recorded else DEFAULT_IMAGES[arch]),
            memory=memory or (f"{recorded.memory_mib}M" if recorded else DEFAULT_MEMORY),
            cpus=cpus or (recorded.cpus if recorded else DEFAULT_CPUS),
        )


def read_only_shares(shares: Mapping[str, Path]) -> tuple[tuple[str, Path], ...]:
    """``shares`` checked (mount tags, existing directories) and sorted by tag."""
    out = []
    for tag, path in sorted(shares.items()):
        if not _SHARE_TAG.fullmatch(tag) or tag == "project":
            raise UsageError(
                f"invalid share tag {tag!r}",
                hint="lower-case letters, digits, '_' and '-', at most 31; not 'project'",
            )
        resolved = Path(path).resolve()
        if not resolved.is_dir():
            raise UsageError(f"share {tag}: {resolved} is not a directory")
        out.append((tag, resolved))
    return tuple(out)
