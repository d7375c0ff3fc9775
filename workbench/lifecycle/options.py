"""What a build is asked (:class:`BuildOptions`: the CLI's flags, the API's keywords) and how it
ended (:class:`BuildResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from workbench.lifecycle import keepalive
from workbench.lifecycle.build_project import BuildProject
from workbench.lifecycle.events import Failure
from workbench.lifecycle.steps import ShellMode, Step
from workbench.vm.pins import HostTarget

DEFAULT_IMAGE = "debian-12"
DEFAULT_MEMORY = "2G"
DEFAULT_CPUS = 2


@dataclass(frozen=True)
class BuildOptions:
    """What ``workbench build`` was asked (CLI flags or API keywords)."""

    step: Step = Step.PACK
    parts: tuple[str, ...] = ()
    shell: ShellMode = ShellMode.NEVER
    image: str | None = None  # None: the image of the project's base on the VM's architecture
    build_on: str | None = None
    build_for: str | None = None
    keep: bool = False
    memory: str | None = None
    cpus: int | None = None
    disk_size: str | None = None  # e.g. 16G: the VM's disk, grown when bigger (never shrunk)
    export_prime: bool = False
    templates: tuple[Path, ...] = ()
    from_base: bool = True  # a new instance starts from the image's saved base instance
    share_mode: str = "ro"  # how the guest mounts the project: ro, or rw (--share-mode rw)
    work_on_share: bool = False  # parts/ stage/ prime/ on 9p (needs rw): to measure its cost
    policy: keepalive.Policy = field(default_factory=keepalive.Policy)
    workbench_version: str | None = None  # the guest's workbench (guest_workbench.resolve)
    host: HostTarget | None = None  # --host: build on this SSH host instead of a qemu VM


@dataclass(frozen=True)
class BuildResult:
    """How a session ended: the snap it left, or the failure, and where the shell went."""

    ok: bool
    project: BuildProject
    instance_dir: Path
    elapsed: float
    snap: Path | None = None
    error: Failure | None = None
    shell_dir: str | None = None
    shell_status: int | None = None
