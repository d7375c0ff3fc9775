"""``workbench build`` and ``workbench clean``: the lifecycle in the project's build VM.

``build [PATH] [--step pull|build|stage|prime|pack] [--part NAME]... [--shell | --shell-after |
--debug] [--image debian-12] [--build-on ARCH --build-for ARCH] [--keep | --stop-after DURATION]``
plus ``--memory``, ``--cpus``, ``--disk-size``, ``--export-prime``, ``--templates-dir``,
``--host user@address[:port] [--identity KEY] [--accept-host-key SHA256:...]`` (build on that
SSH host instead of a VM: :mod:`workbench.vm.remote`), ``--plan`` (print the host plan, run
nothing) and ``--json`` (the event stream as JSON lines on
stdout). ``clean [PATH]`` destroys the project's VM; ``clean [PATH] PART... [--step STEP]``
undoes STEP (default: every step) and the steps after it for those parts (every part with only
``--step``) in the VM. PATH is any directory inside the project (default: the current one); a
first word that is not an existing directory is a part name.

Both make their session through :class:`~workbench.lifecycle.controller.BuildController`, as the
notebook's build view does. Whatever reaches the terminal here goes through
:func:`~workbench.lifecycle.safetext.printable` (JSON lines are ASCII): the guest writes the events
and the output, and they are data. Notices (events too) go to stderr in both modes, as
``workbench: TEXT``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from workbench.cli.host import host_arguments, host_target
from workbench.errors import UsageError
from workbench.lifecycle.build_set import EntryOutcome, SetEntry, SetWatch, run_build_set
from workbench.lifecycle.choices import BuildChoices
from workbench.lifecycle.controller import BuildController
from workbench.lifecycle.events import (
    Done,
    Event,
    Failure,
    HostFinished,
    HostSkipped,
    HostStarted,
    LifecyclePlan,
    Listener,
    Notice,
    SessionStarted,
    StepFinished,
    StepSkipped,
    Timing,
)
from workbench.lifecycle.keepalive import Policy
from workbench.lifecycle.options import BuildOptions
from workbench.lifecycle.safetext import printable
from workbench.lifecycle.session import clean
from workbench.lifecycle.steps import CLEAN_STEP_NAMES, STEP_NAMES, ShellMode, Step
from workbench.lifecycle.wire import encode
from workbench.vm.config import parse_memory
from workbench.vm.qemu import SHARE_MODES
from workbench.vm.watchdog import parse_duration


def register(subparsers: Any) -> None:
    """Add the ``build`` and ``clean`` subcommands."""
    build = subparsers.add_parser(
        "build",
        help="run the lifecycle in the project's build VM and pack a .snap",
        description="Explode the project, resolve its architectures, then run pull, build, "
        "stage, prime and pack in the project's VM; the .snap lands in the project directory.",
    )
    build.add_argument("path", nargs="?", default=".", type=Path, help="inside the project")
    build.add_argument(
        "--step", choices=STEP_NAMES, default="pack", help="last step (default: pack)"
    )
    build.add_argument("--part", action="append", default=[], metavar="NAME", help="only NAME")
    shell = build.add_mutually_exclusive_group()
    shell.add_argument("--shell", action="store_true", help="a VM shell instead of the step")
    shell.add_argument(
        "--shell-after", action="store_true", help="a VM shell after the step, pass or fail"
    )
    shell.add_argument("--debug", action="store_true", help="a VM shell if the step fails")
    build.add_argument(
        "--image",
        help="the VM's image (default: the image of the project's base for the build-on"
        " architecture; a Debian stand-in, named so, when that cannot be had)",
    )
    build.add_argument(
        "--all",
        action="store_true",
        help="build every entry of the project's plan, each in a VM of its build-on"
        " architecture; print the set's outcome and write it as NAME_VERSION_build-set.json",
    )
    build.add_argument(
        "--memory-budget",
        metavar="SIZE",
        help="with --all: the most memory the VMs running side by side may take"
        " (default: 3/4 of the host's available memory)",
    )
    build.add_argument(
        "--build-on",
        metavar="ARCH",
        help="build on ARCH (default: the VM's: amd64, or the --image's architecture)",
    )
    build.add_argument("--build-for", metavar="ARCH", help="target ARCH (with --build-on)")
    build.add_argument("--keep", action="store_true", help="keep the VM up regardless")
    build.add_argument(
        "--stop-after",
        metavar="DURATION",
        help="stop the VM (state saved) this long after the build, e.g. 30m, 2h"
        " (default: 10m after a success, 24h after a failure)",
    )
    build.add_argument("--memory", help="VM memory, e.g. 2G (default: project hint, else 2G)")
    build.add_argument("--cpus", type=int, help="VM CPUs (default: project hint, else 2)")
    build.add_argument(
        "--disk-size", help="VM disk, e.g. 16G (set when created, grown later, never shrunk)"
    )
    build.add_argument(
        "--export-prime", action="store_true", help="copy prime/ into the project directory"
    )
    build.add_argument(
        "--templates-dir", action="append", default=[], type=Path, help="extra templates"
    )
    build.add_argument(
        "--share-mode",
        choices=SHARE_MODES,
        default="ro",
        help="how the guest mounts the project: ro (default) or rw (the guest can write it)",
    )
    build.add_argument(
        "--workbench-version",
        metavar="SPEC",
        help="the workbench the guest runs: a git revision of this source tree (tag, commit), a"
        " workbench .whl or a source directory (default: $WORKBENCH_GUEST_VERSION, else this one)",
    )
    host_arguments(build)
    build.add_argument("--plan", action="store_true", help="print the host plan; run nothing")
    build.add_argument("--json", action="store_true", help="events as JSON lines on stdout")
    build.set_defaults(handler=run_build)
    clean = subparsers.add_parser(
        "clean",
        help="destroy the project's build VM, or undo parts or steps in it",
        description="Without PART or --step: destroy the project's build VM. With them: undo "
        "STEP (default: every step) and the steps after it for each PART (default: every part) "
        "in the VM, leaving the VM and the other parts alone; the next build redoes only that. "
        "The first word is PATH when it is an existing directory, else a part name (PATH is "
        "then the current directory): to clean a part named like a directory, give PATH first.",
    )
    clean.add_argument("words", nargs="*", metavar="[PATH] PART", help="project dir, parts")
    clean.add_argument(
        "--step",
        choices=CLEAN_STEP_NAMES,
        help="clean this step and the ones after it (default: all)",
    )
    clean.add_argument(
        "--templates-dir", action="append", default=[], type=Path, help="extra templates"
    )
    clean.set_defaults(handler=run_clean)


def run_build(args: argparse.Namespace) -> int:
    shell = (
        ShellMode.INSTEAD
        if args.shell
        else ShellMode.AFTER
        if args.shell_after
        else ShellMode.ON_FAILURE
        if args.debug
        else ShellMode.NEVER
    )
    choices = BuildChoices(
        project=args.path,
        parts=tuple(args.part),
        step=Step.parse(args.step),
        build_on=args.build_on,
        build_for=args.build_for,
        templates=tuple(args.templates_dir),
        export_prime=args.export_prime,
    )
    options = choices.options(
        BuildOptions(
            shell=shell,
            image=args.image,
            keep=args.keep,
            memory=args.memory,
            cpus=args.cpus,
            disk_size=args.disk_size,
            share_mode=args.share_mode,
            workbench_version=args.workbench_version,
            policy=Policy.from_env(os.environ)
            if args.stop_after is None
            else Policy.uniform(parse_duration(args.stop_after, what="--stop-after")),
            host=host_target(args),
        )
    )
    if args.all:
        return _run_set(args, options)
    session = BuildController(args.path, options).session(listeners=(_notices,))
    if args.plan:
        for action in session.plan():
            print(json.dumps(action.to_json()))
        return 0
    session.on_event(_json_listener() if args.json else terminal_view())
    result = session.run()
    if result.snap is not None and not args.json:
        print(result.snap)
    return 0 if result.shell_status in (None, 0) else result.shell_status


SET_EXCLUSIVE = ("build_on", "build_for", "shell", "shell_after", "debug", "plan", "host", "image")


def _run_set(args: argparse.Namespace, options: BuildOptions) -> int:
    """``build --all``: every entry of the plan; the outcome as a table (or JSON) and a file."""
    given = [name for name in SET_EXCLUSIVE if getattr(args, name)]
    if given:
        flag = "--" + given[0].replace("_", "-")
        raise UsageError(
            f"--all builds each entry where the plan says: {flag} does not apply",
            hint=f"drop {flag}, or build one entry without --all",
        )
    budget = (
        parse_memory(args.memory_budget, what="--memory-budget") if args.memory_budget else None
    )

    def on_event(entry: SetEntry, event: Event) -> None:
        if args.json:
            return
        payload = event.payload
        if isinstance(payload, HostStarted):
            said = f"{event.line()} ..."
        elif isinstance(payload, HostFinished | StepFinished | Failure | Notice | SessionStarted):
            said = event.line()
        else:
            return
        tqdm.write(printable(f"[{entry.label} on {entry.build_on}] {said}"), file=sys.stderr)

    def on_outcome(outcome: EntryOutcome) -> None:
        if not args.json:
            said = outcome.reason or (outcome.snap.name if outcome.snap else "")
            line = f"[{outcome.entry.label} on {outcome.entry.build_on}] {outcome.status}: {said}"
            tqdm.write(printable(line), file=sys.stderr)

    result = run_build_set(
        args.path, options, memory_budget=budget, watch=SetWatch(on_event, on_outcome)
    )
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        for line in result.table():
            print(printable(line))
    return 0 if result.ok else 1


def run_clean(args: argparse.Namespace) -> int:
    parts = list(args.words)
    path = Path(parts.pop(0)) if parts and Path(parts[0]).is_dir() else Path(".")
    if not parts and args.step is None:
        print(clean(path))
        return 0
    step = Step.parse(args.step or "pull")
    choices = BuildChoices(path, parts=tuple(parts), templates=tuple(args.templates_dir))
    options = choices.options(BuildOptions(policy=Policy.from_env(os.environ)))
    session = BuildController(path, options).session(listeners=(_notices,))
    session.on_event(terminal_view())
    session.clean_parts(step)
    which = ", ".join(parts) or "every part"
    print(f"cleaned {step.label} and the steps after it of {which}")
    return 0


def _notices(event: Event) -> None:
    if isinstance(event.payload, Notice):
        print(printable(event.line()), file=sys.stderr)


def _json_listener() -> Listener:
    def listen(event: Event) -> None:
        print(encode(event), flush=True)

    return listen


def terminal_view() -> Listener:
    """One line per host action and per part step with elapsed time, and a progress bar."""
    bar: list[Any] = []

    def write(text: str) -> None:
        tqdm.write(printable(text), file=sys.stderr)

    def listen(event: Event) -> None:
        payload = event.payload
        if isinstance(payload, LifecyclePlan):
            total = sum(1 for action in payload.actions if not action.skipped)
            if total:
                # disable=None: no bar where stderr is not a terminal (a log, CI, a pipe)
                bar.append(
                    tqdm(total=total, desc="lifecycle", unit="step", leave=False, disable=None)
                )
        elif isinstance(payload, StepFinished | StepSkipped):
            label = f"{payload.step:<6} {payload.part or '':<24}"
            elapsed = payload.elapsed if isinstance(payload, StepFinished) else 0.0
            write(f"  {label} {payload.summary:<10} {elapsed:7.1f} s")
            if bar and payload.part and isinstance(payload, StepFinished):
                bar[-1].update(1)
        elif isinstance(payload, HostFinished | HostSkipped | SessionStarted):
            write(event.line())
        elif isinstance(payload, Timing):
            for line in payload.table():
                write(line)
        elif isinstance(payload, Failure | Done):
            for open_bar in bar:
                open_bar.close()
            bar.clear()
            if isinstance(payload, Done):
                write(event.line())

    return listen
