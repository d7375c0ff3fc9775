"""Where a user waits every day, on debian-12: a new project's first start, a workbench change
reaching the guest, a rebuild.

Three rows, each side by side in one run (the real cache: the image's saved base instance as it
is, made first if missing):

1. a new project's VM from the saved base (the copy, its warm start, its own keys) to the first
   command, against a warm start of that same instance afterwards (``down --save``, ``up``);
2. a change to the workbench's source reaching a running guest: the new wheel written and
   installed alone, against the same with the guest's dependencies reinstalled too (the whole
   wheelhouse: what every change cost before the two were keyed apart);
3. a rebuild of ``examples/build/two-sources`` with the VM running: one source file of part
   ``hello`` touched (only that part's steps run again; a failure if the other part ran) against
   nothing changed (a failure if any step ran). Each build's per-phase timing is printed.

    .venv/bin/python -m bench.daily [--quick] [--json FILE]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Row, main, row
from workbench.lifecycle import base_instance, wheelhouse
from workbench.lifecycle.events import Event, StepFinished
from workbench.lifecycle.guest_workbench import from_tree, source_root
from workbench.lifecycle.options import DEFAULT_CPUS, DEFAULT_IMAGE, DEFAULT_MEMORY, BuildOptions
from workbench.lifecycle.session import Session
from workbench.perf.builds import timed_session
from workbench.vm.config import InstanceConfig, parse_memory
from workbench.vm.local import Instance

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "build"


def new_project_round(tmp: Path, n: int) -> tuple[float, float, Instance]:
    """Seconds to the first command of a new project's VM made from the saved base, then of its
    warm start; the instance stays up."""
    project = tmp / f"new-{n}"
    shutil.copytree(EXAMPLES / "c-make", project)
    memory, cpus = parse_memory(DEFAULT_MEMORY), DEFAULT_CPUS
    house = wheelhouse.ensure_wheelhouse(notify=print)
    base = base_instance.ensure_base(
        DEFAULT_IMAGE, memory_mib=memory, cpus=cpus, house=house, notify=print
    )
    config = InstanceConfig(
        image=DEFAULT_IMAGE, memory=memory, cpus=cpus, shares=wheelhouse.share()
    )
    vm = Instance(project, config, notify=print)
    start = time.monotonic()
    base_instance.seed_instance(base, vm.dir, project)
    vm.up()
    vm.exec(["true"], check=True)
    new = time.monotonic() - start
    vm.down(save=True)
    start = time.monotonic()
    vm.up()
    vm.exec(["true"], check=True)
    return new, time.monotonic() - start, vm


def changed_workbench(tmp: Path, n: int) -> Path:
    """A copy of this workbench's source tree with one changed module (a new key each time)."""
    tree = tmp / f"workbench-{n}"
    tree.mkdir()
    shutil.copy2(source_root() / "pyproject.toml", tree)
    shutil.copytree(
        source_root() / "workbench",
        tree / "workbench",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    with (tree / "workbench" / "__init__.py").open("a") as init:
        init.write(f"# bench change {n} {time.time()}\n")
    return tree


def reach_guest(vm: Instance, tree: Path, *, with_deps: bool) -> float:
    """Seconds from a changed source tree to that workbench installed in the running guest."""
    if with_deps:  # as before the dependencies were keyed apart: the venv made again
        vm.exec(["rm", "-f", vm.layout.deps_marker], check=True)
    start = time.monotonic()
    house = wheelhouse.ensure_wheelhouse(from_tree(tree, label="a changed tree"))
    installed = wheelhouse.inject(vm, house)
    elapsed = time.monotonic() - start
    if not installed or wheelhouse.installed_key(vm) != house.key:
        raise RuntimeError(f"the guest did not get workbench {house.key}")
    return elapsed


def rebuild(project: Path, label: str) -> tuple[float, list[str]]:
    """Seconds of ``workbench build`` (the VM running), and the part steps it ran; prints the
    build's timing summary."""
    events: list[Event] = []
    elapsed, timing, _ = timed_session(project, BuildOptions(), (events.append,))
    print(f"{label}:", *timing.table(), sep="\n  ")
    ran = [e.payload.where for e in events if isinstance(e.payload, StepFinished)]
    return elapsed, [step for step in ran if " " in step]  # part steps: "build hello"


def rows(quick: bool) -> list[Row]:
    rounds = 1 if quick else 3
    new: list[float] = []
    warm: list[float] = []
    alone: list[float] = []
    with_deps: list[float] = []
    touched: list[float] = []
    unchanged: list[float] = []
    with tempfile.TemporaryDirectory(prefix="wb-bench-daily-") as name:
        tmp = Path(name)
        vms: list[Instance] = []
        try:
            for n in range(rounds):
                a, b, vm = new_project_round(tmp, n)
                vms.append(vm)
                new.append(a)
                warm.append(b)
            vm = vms[-1]
            for n in range(rounds):
                alone.append(reach_guest(vm, changed_workbench(tmp, 2 * n), with_deps=False))
                with_deps.append(reach_guest(vm, changed_workbench(tmp, 2 * n + 1), with_deps=True))
            project = tmp / "two-sources"
            shutil.copytree(EXAMPLES / "two-sources", project)
            rebuild(project, "first build")
            source = project / "src" / "hello.c"
            for _ in range(rounds):
                source.write_text(source.read_text() + "\n")
                seconds, ran = rebuild(project, "one file of part hello touched")
                if not ran or any(not step.endswith(" hello") for step in ran):
                    raise RuntimeError(f"touching hello.c ran {ran}: only part hello should run")
                touched.append(seconds)
                seconds, ran = rebuild(project, "nothing changed")
                if ran:
                    raise RuntimeError(f"nothing changed, yet the rebuild ran {ran}")
                unchanged.append(seconds)
            vms.append(Session(project).instance)
        finally:
            for vm in vms:
                vm.clean()
    return [
        row(
            "New project from the saved base (debian-12): first command vs warm start",
            ("new project", new),
            ("warm start", warm),
            "s",
            "goal: new project <= 5 s",
        ),
        row(
            "A workbench source change reaching the guest: wheel alone vs with its dependencies",
            ("wheel alone", alone),
            ("with deps", with_deps),
            "s",
            "goal: wheel alone <= 10 s",
        ),
        row(
            "Rebuild, VM running (two parts): one file touched vs nothing changed",
            ("one file", touched),
            ("nothing", unchanged),
            "s",
            "goal: nothing changed <= 5 s",
        ),
    ]


if __name__ == "__main__":
    sys.exit(main({"daily": rows}, None, prog="bench.daily", doc=__doc__ or ""))
