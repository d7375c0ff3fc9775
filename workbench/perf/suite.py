"""Which comparisons a run makes, in what order and how many rounds: the notebook's and a
script's entry point.

A :class:`Plan` names them: a VM's cold boot vs warm start and 9p reads by msize (the ``tiny``
image: seconds a round), a new project's first build from the saved base vs from scratch, and a
build's parts on the VM disk vs on the 9p share (debian-12, where craft-parts runs: minutes).
:func:`run_plan` measures them one after the other and hands each
:class:`~workbench.perf.compare.Comparison` to the feedback as soon as it is measured.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from workbench.errors import UsageError
from workbench.lifecycle.build_project import copy_example
from workbench.lifecycle.options import DEFAULT_CPUS, DEFAULT_IMAGE, DEFAULT_MEMORY
from workbench.lifecycle.session import clean
from workbench.perf.builds import first_build_seconds, work_dir_times
from workbench.perf.compare import Comparison, Side
from workbench.perf.feedback import Feedback
from workbench.perf.vm_start import CPUS, IMAGE, MEMORY, Guest, accelerator, measure_start
from workbench.vm.images import ensure_image
from workbench.vm.local import Instance

Tell = Callable[[Comparison], None]
BUILT = f"{DEFAULT_IMAGE}, {DEFAULT_MEMORY}, {DEFAULT_CPUS} CPUs"


class WorkDir(StrEnum):
    """Where the measured builds put parts/, stage/ and prime/: both in turns, or one."""

    BOTH = "9p share vs the VM disk"
    DISK = "VM disk only"
    SHARE = "9p share only"

    @property
    def places(self) -> tuple[bool, ...]:
        """``work_on_share`` of each side, in the order measured (pure)."""
        return {WorkDir.BOTH: (False, True), WorkDir.DISK: (False,), WorkDir.SHARE: (True,)}[self]


@dataclass(frozen=True)
class Plan:
    """What a run measures. ``example``: the project the builds build (copied, never written);
    ``rounds``: of the VM start and 9p reads; ``build_rounds``: of the builds."""

    example: Path
    rounds: int = 3
    build_rounds: int = 1
    read_mib: int = 64
    start: bool = True  # cold boot vs warm start, 9p msize (tiny)
    first_build: bool = True  # a new project from the saved base vs from scratch (debian-12)
    work_dir: WorkDir | None = WorkDir.BOTH  # parts on the VM disk vs on 9p (debian-12)

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.build_rounds < 1:
            raise UsageError("a run takes at least one round", hint="set rounds to 1 or more")

    @property
    def builds(self) -> bool:
        return self.first_build or self.work_dir is not None


def run_plan(plan: Plan, feedback: Feedback) -> list[Comparison]:
    """Measure what ``plan`` asks, in a temporary directory; each comparison goes to
    ``feedback.item`` when measured; every VM made is removed at the end."""
    made: list[Comparison] = []

    def tell(comparison: Comparison) -> None:
        made.append(comparison)
        feedback.item(comparison)

    with tempfile.TemporaryDirectory(prefix="wb-perf-") as tmp:  # short: VM socket paths
        if plan.start:
            start_comparisons(plan, Path(tmp, "start"), feedback, tell)
        if plan.builds:
            build_comparisons(plan, Path(tmp, "builds"), feedback, tell)
    return made


def start_comparisons(plan: Plan, workdir: Path, feedback: Feedback, tell: Tell) -> None:
    """Cold boot vs warm start, then 9p reads by msize, on the tiny image."""
    guest = Guest(ensure_image(IMAGE), MEMORY, CPUS, notify=feedback.log)
    times = measure_start(
        guest, workdir, rounds=plan.rounds, size_mib=plan.read_mib, feedback=feedback
    )
    cores = os.cpu_count() or 1
    cold, warm = (
        Side("cold boot", "s", tuple(times.cold)),
        Side("warm start", "s", tuple(times.warm)),
    )
    title = f"VM start to the first command: cold boot vs warm start ({guest.label})"
    tell(Comparison(title, (cold, warm), times.accel, cores))
    reads = tuple(Side(f"msize {m}", "MB/s", tuple(v)) for m, v in times.reads.items())
    msizes = " vs ".join(str(m) for m in times.reads)
    title = f"9p read of a {plan.read_mib} MiB file on the project share: msize {msizes}"
    tell(Comparison(f"{title} ({guest.label})", reads, times.accel, cores))


def build_comparisons(plan: Plan, workdir: Path, feedback: Feedback, tell: Tell) -> None:
    """A new project's first build from scratch vs from the saved base (``build_rounds`` new
    projects each), then the work dir on the VM disk vs on 9p in the last one's VM."""
    name = plan.example.name
    cores = os.cpu_count() or 1
    scratch: list[float] = []
    based: list[float] = []
    accel = "?"
    project: Path | None = None
    try:
        for done in range(plan.build_rounds if plan.first_build else 0):
            feedback.check()
            fresh = copy_example(plan.example, workdir=workdir / f"scratch-{done}")
            try:
                scratch.append(first_build_seconds(fresh, from_base=False, feedback=feedback))
            finally:
                clean(fresh)
            if project is not None:
                clean(project)
            project = copy_example(plan.example, workdir=workdir / f"base-{done}")
            based.append(first_build_seconds(project, from_base=True, feedback=feedback))
            accel = accelerator(Instance(project))
        if plan.first_build:
            title = f"A new project's first build of {name} up to prime: from scratch vs from"
            sides = (
                Side("from scratch", "s", tuple(scratch)),
                Side("saved base", "s", tuple(based)),
            )
            tell(Comparison(f"{title} the saved base ({BUILT})", sides, accel, cores))
        if plan.work_dir is None:
            return
        feedback.check()
        if project is None:
            project = copy_example(plan.example, workdir=workdir / "work-dir")
        times = work_dir_times(
            project, rounds=plan.build_rounds, places=plan.work_dir.places, feedback=feedback
        )
        accel = accelerator(Instance(project))
        labels = {True: "9p share", False: "VM disk"}
        places = tuple(Side(labels[p], "s", tuple(times[p])) for p in sorted(times, reverse=True))
        title = f"{name} lifecycle (pull..prime): parts on the {plan.work_dir}"
        tell(Comparison(f"{title} ({BUILT})", places, accel, cores))
    finally:
        if project is not None:
            clean(project)
