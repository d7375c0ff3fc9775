"""A VM's start to its first command, cold boot against warm start, and sequential reads of the
9p project share by msize, measured on a real guest.

A round, on a new instance: ``up()`` of the new instance (keys, seed, overlay made; not counted),
``down()`` and ``up()`` again (the cold boot of an existing instance), ``down(save=True)`` and
``up()`` (the warm start: loadvm), each timed to the end of the first command (``true``) over SSH;
then, in the warm guest, a file on the share read with each msize in turn (timed by the guest).
``bench/vm.py`` builds more rows on the same rounds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workbench.perf.feedback import Feedback
from workbench.progress import Progress
from workbench.vm.config import InstanceConfig
from workbench.vm.images import BootImage
from workbench.vm.local import Instance
from workbench.vm.state import InstanceDir
from workbench.vm.teardown import destroy

IMAGE = "tiny"
MEMORY = "384M"
CPUS = 1
MSIZES = (512000, 8192)
"""The tuned msize the workbench mounts the share with, and a small one."""
NOW = "sed -n 's/^now at \\([0-9]*\\) nsecs$/\\1/p' /proc/timer_list"  # ns, busybox-proof
READ = (
    "umount /project; mount -t 9p -o trans=virtio,version=9p2000.L,msize={msize} project /project"
    f" && {NOW} && dd if=/project/big.bin of=/dev/null bs=1M 2>/dev/null && {NOW}"
)
BIG_FILE = "big.bin"


@dataclass(frozen=True)
class Guest:
    """What a measurement boots: the image, its RAM and CPUs; ``notify`` gets the VM's notices."""

    image: BootImage
    memory: str
    cpus: int
    notify: Callable[[str], None] = print

    def instance(self, project: Path, instances: Path) -> Instance:
        config = InstanceConfig(image=self.image, memory=self.memory, cpus=self.cpus)
        return Instance(project, config, instances=instances, notify=self.notify)

    @property
    def label(self) -> str:
        """``tiny, 384M, 1 CPU`` (pure)."""
        return f"{self.image.name}, {self.memory}, {self.cpus} CPU{'s' if self.cpus > 1 else ''}"


def to_first_command(
    project: Path, guest: Guest, instances: Path, *, warm: bool
) -> tuple[float, Instance]:
    """Seconds from ``up()`` to the end of the first command (``true``); the instance stays up."""
    vm = guest.instance(project, instances)
    start = time.monotonic()
    vm.up()
    vm.exec(["true"], check=True)
    elapsed = time.monotonic() - start
    state = vm.dir.load_state()
    assert state is not None
    assert ("-loadvm" in state.argv) == warm
    return elapsed, vm


def workbench_round(
    project: Path, guest: Guest, instances: Path
) -> tuple[float, float, float, Instance]:
    """Seconds to the first command: a new instance's cold boot, an existing instance's cold
    boot, a warm start; the warm instance stays up."""
    new, vm = to_first_command(project, guest, instances, warm=False)
    vm.down()
    cold, vm = to_first_command(project, guest, instances, warm=False)
    vm.down(save=True)
    warm, vm = to_first_command(project, guest, instances, warm=True)
    return new, cold, warm, vm


def read_mb_per_s(vm: Instance, msize: int, size_mib: int) -> float:
    """MB/s of a sequential read of the share remounted with ``msize`` (timed by the guest)."""
    out = vm.exec(["sh", "-c", READ.format(msize=msize)], check=True).stdout
    start, end = (int(word) for word in out.split())
    return size_mib * 2**20 / 1e6 / ((end - start) / 1e9)


def accelerator(vm: Instance) -> str:
    """The accelerator the running ``vm`` was started with (``kvm`` or ``tcg``)."""
    state = vm.dir.load_state()
    return (state.accel if state is not None else None) or "?"


def share_project(workdir: Path, size_mib: int) -> Path:
    """A project directory under ``workdir`` holding a random file of ``size_mib`` MiB to read."""
    project = workdir / "project"
    project.mkdir(parents=True, exist_ok=True)
    (project / BIG_FILE).write_bytes(os.urandom(size_mib * 2**20))
    return project


@dataclass
class StartTimes:
    """Per round: seconds to the first command, cold and warm; MB/s read per msize."""

    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    reads: dict[int, list[float]] = field(default_factory=lambda: {m: [] for m in MSIZES})
    accel: str = "?"


def measure_start(
    guest: Guest, workdir: Path, *, rounds: int, size_mib: int, feedback: Feedback
) -> StartTimes:
    """``rounds`` rounds of cold boot vs warm start, each followed by a read of ``size_mib`` MiB
    per msize in the warm guest; every instance (under ``workdir``) is removed at the end."""
    times = StartTimes()
    project = share_project(workdir, size_mib)
    instances = workdir / "instances"
    task = f"VM start and 9p reads ({guest.image.name})"
    try:
        for done in range(rounds):
            feedback.check()
            feedback.progress(Progress(task, done, rounds, f"round {done + 1}", "round"))
            _, cold, warm, vm = workbench_round(project, guest, instances)
            times.cold.append(cold)
            times.warm.append(warm)
            for msize, values in times.reads.items():
                values.append(read_mb_per_s(vm, msize, size_mib))
            times.accel = accelerator(vm)
            vm.clean()
        feedback.progress(Progress(task, rounds, rounds, "done", "round", finished=True))
    finally:  # never leave a qemu behind, even when a round fails or is cancelled
        for path in instances.glob("*"):
            destroy(InstanceDir(path))
    return times
