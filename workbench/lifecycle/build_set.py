"""A whole build set, run locally: every build of the project's plan, each in a VM of its build-on
architecture.

:func:`set_entries` reads the plan (:func:`workbench.architectures.plan_project`: the
``architectures`` entries, or the ``platforms`` builds) as :class:`SetEntry` values.
:func:`run_build_set` runs them: one VM per build-on architecture (emulated when it is not the
host's), the entries that share it one after the other, the VMs side by side as long as their
memory fits the budget. An entry no VM can build on, or one the plan dropped, is skipped with the
reason; an entry with ``build-error: ignore`` may fail without failing the set. The outcome
(:class:`SetOutcome`) is a table, a JSON document (written next to the snaps) and, in a notebook,
a widget beside the plan.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

from workbench.architectures import BuildSet, plan_project
from workbench.errors import UsageError, WorkbenchError, format_error
from workbench.files import write_atomic
from workbench.lifecycle import guest_workbench, wheelhouse
from workbench.lifecycle.build_project import resolve_build
from workbench.lifecycle.events import Event, Failure, Listener
from workbench.lifecycle.options import DEFAULT_MEMORY, BuildOptions
from workbench.lifecycle.session import Session
from workbench.project import find_root, load_project, project_base
from workbench.vm.arch import ARCHS, vm_arch_for
from workbench.vm.bases import choose_image
from workbench.vm.config import parse_memory

Status = Literal["passed", "failed", "skipped"]
RESULT_SUFFIX = "_build-set.json"
HOST_MEMORY_SHARE = 0.75
"""The default memory budget: this share of the host's available memory."""


@dataclass(frozen=True)
class SetEntry:
    """One build of the plan: ``label`` (``entry 2``, ``platform arm64``), where it builds, what
    it runs on, and whether its failure fails the set (``build-error: ignore`` makes it not)."""

    label: str
    build_on: str
    run_on: tuple[str, ...]
    required: bool = True
    skip_reason: str | None = None  # the plan dropped it: it does not run

    @property
    def build_for(self) -> str | None:
        """The one architecture it builds for; None when it claims several."""
        return self.run_on[0] if len(self.run_on) == 1 else None

    @property
    def vm_arch(self) -> str | None:
        """The architecture of the VM that builds it; None when no VM can."""
        try:
            return vm_arch_for(self.build_on)
        except UsageError:
            return None

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.label,
            "build_on": self.build_on,
            "run_on": list(self.run_on),
            "required": self.required,
        }


@dataclass(frozen=True)
class EntryOutcome:
    """How one entry ended: passed, failed (at ``step``) or skipped, with ``reason``."""

    entry: SetEntry
    status: Status
    seconds: float = 0.0
    image: str = ""
    step: str | None = None
    reason: str = ""
    log: Path | None = None
    snap: Path | None = None

    @property
    def fails_set(self) -> bool:
        """Whether this outcome fails the set: a required entry that did not pass."""
        return self.entry.required and self.status != "passed"

    def to_json(self) -> dict[str, Any]:
        return {
            **self.entry.to_json(),
            "status": self.status,
            "step": self.step,
            "reason": self.reason,
            "image": self.image,
            "seconds": round(self.seconds, 1),
            "log": str(self.log) if self.log else None,
            "snap": str(self.snap) if self.snap else None,
        }


@dataclass(frozen=True)
class SetOutcome:
    """Every entry's outcome, in plan order, and the set's verdict."""

    project: Path
    outcomes: tuple[EntryOutcome, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        """Every required entry passed (an ignored entry may fail, a skipped required one not)."""
        return not any(outcome.fails_set for outcome in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        return {
            "project": str(self.project),
            "ok": self.ok,
            "seconds": round(self.seconds, 1),
            "entries": [outcome.to_json() for outcome in self.outcomes],
        }

    def rows(self) -> list[tuple[str, ...]]:
        """One row per entry: entry, build-on, run-on, result, step, seconds, snap or log."""
        rows: list[tuple[str, ...]] = []
        for o in self.outcomes:
            result = o.status if o.entry.required else f"{o.status} (ignored)"
            where = o.snap.name if o.snap else (str(o.log) if o.log else o.reason)
            seconds = f"{o.seconds:.1f} s" if o.status != "skipped" else "-"
            rows.append(
                (
                    o.entry.label,
                    o.entry.build_on,
                    ", ".join(o.entry.run_on),
                    result,
                    o.step or "-",
                    seconds,
                    where,
                )
            )
        return rows

    def table(self) -> list[str]:
        """:meth:`rows` as aligned text lines under a header, and the verdict."""
        header = ("entry", "build-on", "run-on", "result", "step", "time", "snap / log")
        rows = [header, *self.rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  "
            + row[-1]
            for row in rows
        ]
        verdict = "passed" if self.ok else "failed"
        lines.append(f"build set {verdict} in {self.seconds:.1f} s")
        return lines


def set_entries(start: Path) -> tuple[SetEntry, ...]:
    """The builds of the project at or above ``start``'s plan, in plan order, with the entries
    the plan dropped (skipped)."""
    planned = plan_project(load_project(find_root(start)))
    if not isinstance(planned, BuildSet):
        return tuple(
            SetEntry(f"platform {b.platform}", b.build_on, (b.build_for,)) for b in planned.builds
        )
    entries = [
        SetEntry(
            "build" if b.entry is None else f"entry {b.entry}",
            b.build_on,
            b.run_on,
            b.required,
        )
        for b in planned.builds
    ]
    entries += [
        SetEntry(f"entry {d.entry}", ", ".join(d.build_on), (), d.required, f"dropped: {d.reason}")
        for d in planned.dropped
    ]
    return tuple(entries)


def memory_budget_mib() -> int:
    """The default budget: :data:`HOST_MEMORY_SHARE` of the host's available memory."""
    for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
        if line.startswith("MemAvailable:"):
            return int(int(line.split()[1]) / 1024 * HOST_MEMORY_SHARE)
    return parse_memory(DEFAULT_MEMORY)


@dataclass(frozen=True)
class SetWatch:
    """Who hears a running set: each entry's events, and each outcome as it ends."""

    on_event: Callable[[SetEntry, Event], None] = lambda _entry, _event: None
    on_outcome: Callable[[EntryOutcome], None] = lambda _outcome: None


def run_build_set(
    start: Path,
    options: BuildOptions | None = None,
    *,
    entries: Sequence[SetEntry] | None = None,
    memory_budget: int | None = None,
    watch: SetWatch | None = None,
) -> SetOutcome:
    """Run every entry of the plan (``entries``: these instead) with ``options`` (their
    build-on and build-for are the entry's); ``watch`` hears each entry's events and outcome.
    ``memory_budget`` (MiB; default :func:`memory_budget_mib`) bounds the memory of the VMs
    running side by side: one runs whatever its size. The outcome is also written to
    ``NAME_VERSION_build-set.json`` in the project directory."""
    options = options or BuildOptions()
    watch = watch or SetWatch()
    root = find_root(start)
    started = time.monotonic()
    todo = list(entries if entries is not None else set_entries(root))
    outcomes: dict[int, EntryOutcome] = {}
    groups: dict[str, list[int]] = {}
    for index, entry in enumerate(todo):
        skipped = _skipped(entry)
        if skipped is not None:
            outcomes[index] = skipped
            watch.on_outcome(skipped)
        else:
            groups.setdefault(str(entry.vm_arch), []).append(index)
    guest = guest_workbench.resolve(options.workbench_version)
    base = project_base(load_project(root))
    for arch in groups:  # before the threads: each architecture's wheelhouse made once
        image = choose_image(base, arch, override=options.image, min_python=wheelhouse.MIN_PYTHON)
        wheelhouse.ensure_wheelhouse(guest, arch=arch, python=image.python)
    budget = memory_budget or memory_budget_mib()
    lock = threading.Lock()

    def run_group(indexes: list[int]) -> None:
        for index in indexes:
            outcome = _run_entry(root, todo[index], options, watch)
            with lock:
                outcomes[index] = outcome
            watch.on_outcome(outcome)

    memory = _memory_mib(root, options)
    _side_by_side([(group, memory) for group in groups.values()], run_group, budget)
    result = SetOutcome(
        root, tuple(outcomes[i] for i in range(len(todo))), time.monotonic() - started
    )
    write_result(result)
    return result


def result_path(start: Path) -> Path:
    """Where the set's result goes: ``NAME_VERSION_build-set.json`` next to the snaps."""
    root = find_root(start)
    document = load_project(root)
    return root / f"{document.data.get('name')}_{document.data.get('version')}{RESULT_SUFFIX}"


def write_result(result: SetOutcome) -> Path:
    """Write ``result`` as JSON to :func:`result_path`."""
    path = result_path(result.project)
    write_atomic(path, json.dumps(result.to_json(), indent=2) + "\n")
    return path


def _skipped(entry: SetEntry) -> EntryOutcome | None:
    if entry.skip_reason is not None:
        return EntryOutcome(entry, "skipped", reason=entry.skip_reason)
    if entry.vm_arch is None:
        served = ", ".join(a for arch in ARCHS.values() for a in arch.serves)
        return EntryOutcome(
            entry,
            "skipped",
            reason=f"no build VM builds on {entry.build_on} (they build on {served})",
        )
    return None


def _memory_mib(root: Path, options: BuildOptions) -> int:
    hints = resolve_build(root).hints
    return parse_memory(options.memory or hints.memory or DEFAULT_MEMORY)


def _side_by_side(
    groups: list[tuple[list[int], int]], run: Callable[[list[int]], None], budget: int
) -> None:
    """Run each group on its own thread, starting the next while the running groups' memory
    and its own fit ``budget`` (the first always starts)."""
    free = threading.Condition()
    used = [0]

    def one(indexes: list[int], memory: int) -> None:
        try:
            run(indexes)
        finally:
            with free:
                used[0] -= memory
                free.notify_all()

    threads = []
    for indexes, memory in groups:
        with free:
            free.wait_for(partial(_fits, used, memory, budget))
            used[0] += memory
        thread = threading.Thread(target=one, args=(indexes, memory), name="workbench-set")
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()


def _fits(used: list[int], memory: int, budget: int) -> bool:
    return used[0] == 0 or used[0] + memory <= budget


def _run_entry(
    root: Path,
    entry: SetEntry,
    options: BuildOptions,
    watch: SetWatch,
) -> EntryOutcome:
    """Build ``entry`` in its VM; its outcome (a failure is caught: the set goes on)."""
    failure: list[Failure] = []

    def listen(event: Event) -> None:
        if isinstance(event.payload, Failure) and not failure:
            failure.append(event.payload)
        watch.on_event(entry, event)

    began = time.monotonic()
    entry_options = replace(options, build_on=entry.build_on, build_for=entry.build_for)
    session: Session | None = None
    listeners: tuple[Listener, ...] = (listen,)
    try:
        session = Session(root, entry_options, listeners=listeners)
        result = session.run()
    except WorkbenchError as err:
        seen = failure[0] if failure else None
        return EntryOutcome(
            entry,
            "failed",
            time.monotonic() - began,
            image=session.image.label if session else "",
            step=seen.step if seen else None,
            reason=format_error(err).splitlines()[0],
            log=session.machine.dir.build_log if session else None,
        )
    return EntryOutcome(
        entry,
        "passed",
        result.elapsed,
        image=session.image.label,
        log=session.machine.dir.build_log,
        snap=result.snap,
    )
