"""Debugging one part in place: its state, its step's log, commands where its step ran, a retry.

A :class:`PartDebugger` works on one part and one step of a :class:`BuildController`'s project,
after that step failed (:meth:`PartDebugger.from_last_failure` reads the failure and the step's
output from the instance's ``events.jsonl``) or passed (inspect what it produced):

- :meth:`~PartDebugger.inspect` asks the guest runner (``inspect``) which of the part's steps are
  done, where its src/build/install directories are, and the environment script craft-parts
  generates for the step (craft-parts' own step environment);
- :meth:`~PartDebugger.run` runs a command line in the chosen directory as the build user, the
  step's environment sourced first, like craft-parts' own step scripts; the working directory
  the command ends in (after a ``cd``) is where the next one starts;
- :meth:`~PartDebugger.retry` pulls the part again from the project (edited on the host: the
  guest sees it live) and runs it up to the step;
- :meth:`~PartDebugger.prepare_terminal` makes the build user's next login shell start in the
  current directory with the step's environment, and :meth:`~PartDebugger.terminal_argv` is the
  host command that opens that shell (``workbench vm shell --user``, the pinned SSH key).

The guest's output is data: it reaches the feedback as :func:`printable` lines.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import BuildError, UsageError
from workbench.lifecycle.events import (
    Event,
    Failure,
    Output,
    SessionStarted,
    StepFinished,
    StepSkipped,
    StepStarted,
    Unparsed,
)
from workbench.lifecycle.runner import GUEST_ENV, GUEST_PATH, runner_command
from workbench.lifecycle.safetext import LineSplitter, printable
from workbench.lifecycle.shell import BUILD_USER, shell_hook_command
from workbench.lifecycle.steps import Step
from workbench.lifecycle.wire import read_events
from workbench.vm.executor import Command
from workbench.vm.state import InstanceDir

if TYPE_CHECKING:
    from collections.abc import Callable

    from workbench.lifecycle.controller import BuildController, Feedback
    from workbench.lifecycle.options import BuildResult

DIRECTORY_KINDS = ("src", "build", "install")
"""The part directories a command can start in."""
TAIL_LINES = 40
COMMAND_TIMEOUT = 600.0
ERROR_LINE = re.compile(
    r"(\berror\b|\bfatal\b|\*\*\*|undefined reference|no such file|not found|failed)",
    re.IGNORECASE,
)
"""A line of build output that says what went wrong (compiler, make, linker, shell)."""
PRELUDE = """\
eval "$1"
cd -- "$2" || exit 125
eval "$3"
status=$?
printf '%s\\n' "$4"
pwd
exit $status
"""
"""The build user's bash script around a command: the step's environment, the directory, the
command, then a marker line and the directory the command ended in (on stdout)."""


def default_directory(step: Step) -> str:
    """The part directory where ``step`` works (``src`` for pull, ``build``, else ``install``)."""
    return {Step.PULL: "src", Step.BUILD: "build"}.get(step, "install")


@dataclass(frozen=True)
class LogLine:
    """A line of a step's output, and whether it reads as an error."""

    text: str
    error: bool


def marked(lines: list[str]) -> tuple[LogLine, ...]:
    """``lines`` with the ones that read as errors marked (see :data:`ERROR_LINE`)."""
    return tuple(LogLine(line, bool(ERROR_LINE.search(line))) for line in lines)


@dataclass(frozen=True)
class StepRecord:
    """What the record holds of a part's step's last run: its failure (None when it passed or
    did not run) and its output."""

    failure: Failure | None
    output: tuple[str, ...]


def last_session(events: list[Event]) -> list[Event]:
    """The events of the last session in ``events`` (everything when none started)."""
    starts = [i for i, event in enumerate(events) if isinstance(event.payload, SessionStarted)]
    return events[starts[-1] :] if starts else events


def last_failure(events: list[Event]) -> Failure | None:
    """The last session's first failure that names a part and a step."""
    for event in last_session(events):
        payload = event.payload
        if isinstance(payload, Failure) and payload.part and payload.step:
            return payload
    return None


def step_record(events: list[Event], part: str, step: Step) -> StepRecord:
    """The output of ``part``'s ``step`` in its last run in ``events``, and its failure."""
    output: list[str] = []
    failure: Failure | None = None
    collecting = False
    for event in events:
        payload = event.payload
        if isinstance(payload, StepStarted | StepFinished | StepSkipped):
            ours = (payload.part, payload.step) == (part, step.label)
            collecting = isinstance(payload, StepStarted) and ours and payload.action != "clean"
            if collecting:
                output, failure = [], None
        elif isinstance(payload, Output | Unparsed) and collecting:
            output.append(payload.text)
        elif isinstance(payload, Failure) and (payload.part, payload.step) == (part, step.label):
            failure, collecting = payload, False
    return StepRecord(failure, tuple(output))


@dataclass(frozen=True)
class PartState:
    """What the guest runner's ``inspect`` says of a part: the steps done, its directories, and
    the environment script craft-parts generates for the step."""

    part: str
    step: str
    done: tuple[str, ...]
    directories: dict[str, str]
    environment: str

    @classmethod
    def parse(cls, stdout: str) -> PartState:
        """The state printed by ``inspect`` (its last JSON line); :class:`BuildError` when none."""
        for line in reversed(stdout.splitlines()):
            if line.startswith("{"):
                try:
                    found = json.loads(line)
                    return cls(
                        part=str(found["part"]),
                        step=str(found["step"]),
                        done=tuple(str(step) for step in found["done"]),
                        directories={k: str(found["directories"][k]) for k in DIRECTORY_KINDS},
                        environment=str(found["environment"]),
                    )
                except (ValueError, KeyError, TypeError) as err:
                    raise BuildError(f"the guest's part state is not readable: {err}") from err
        raise BuildError(
            "the guest runner printed no part state",
            hint="the VM's workbench may be older: run a step to install this one",
            details=printable(stdout[-2000:], multiline=True),
        )


@dataclass(frozen=True)
class CommandOutcome:
    """A command's exit status and the directory it ended in."""

    command: str
    exit_status: int
    cwd: str


class TrailerFilter:
    """Passes output lines on until the marker line; keeps the line after it (the directory)."""

    def __init__(self, marker: str, on_line: Callable[[str], None]) -> None:
        self.marker = marker
        self.on_line = on_line
        self.trailer: list[str] = []
        self._seen = False

    def __call__(self, line: str) -> None:
        if self._seen:
            self.trailer.append(line)
        elif line.endswith(self.marker):  # the output's last line may lack its newline
            self._seen = True
            if line != self.marker:
                self.on_line(line.removesuffix(self.marker))
        else:
            self.on_line(line)

    @property
    def cwd(self) -> str | None:
        """The directory the command ended in (None when it exited before saying)."""
        return self.trailer[0] if self._seen and self.trailer else None


class PartDebugger:
    """``part``'s ``step`` in ``controller``'s VM; ``failure``: how it failed (None: it passed
    or you just want to look)."""

    def __init__(
        self,
        controller: BuildController,
        part: str,
        step: Step,
        failure: Failure | None = None,
    ) -> None:
        if step is Step.PACK:
            raise UsageError("pack belongs to no part", hint="debug pull, build, stage or prime")
        self.controller = controller
        self.part = part
        self.step = step
        self.failure = failure
        self.directory = default_directory(step)
        self.state: PartState | None = None
        self.cwd: str | None = None
        self._marker = f"@workbench-cwd-{secrets.token_hex(8)}"

    @classmethod
    def from_last_failure(cls, controller: BuildController) -> PartDebugger | None:
        """The debugger of the part whose step failed in the project's last session (None when
        no part failed there)."""
        failure = last_failure(read_events(cls._events_path(controller)))
        if failure is None or failure.part is None or failure.step is None:
            return None
        return cls(controller, failure.part, Step.parse(failure.step), failure)

    @staticmethod
    def _events_path(controller: BuildController) -> Path:
        directory = InstanceDir.for_project(controller.root, instances=controller.instances)
        return directory.events_log

    def log_tail(self, lines: int = TAIL_LINES) -> tuple[LogLine, ...]:
        """The last ``lines`` lines the step printed in its last run, errors marked; the
        failure's own lines (its message and details) last."""
        record = step_record(read_events(self._events_path(self.controller)), self.part, self.step)
        failure = record.failure or self.failure
        text = list(record.output[-lines:])
        if failure is not None:
            text += [failure.line(), *(failure.details or "").splitlines()[-lines:]]
        return marked(text)

    # -- in the VM (worker thread) -----------------------------------------------------------

    def inspect(self, feedback: Feedback) -> PartState:
        """The part's state from the guest; the command directory starts at the chosen one."""
        with self.controller.guest(feedback, self.step, (self.part,)) as session:
            command = runner_command(session.machine.layout, "inspect", session.spec(self.step))
            result = session.machine.exec(command, timeout=COMMAND_TIMEOUT)
        if result.exit_status != 0:
            raise BuildError(
                f"inspecting {self.part} failed (exit status {result.exit_status})",
                hint="the VM's workbench may be older: run a step to install this one",
                details=printable(result.stdout[-2000:] + result.stderr[-2000:], multiline=True),
            )
        self.state = PartState.parse(result.stdout)
        self.choose(self.directory)
        return self.state

    def choose(self, kind: str) -> str:
        """Start the next command in the part's ``kind`` directory (src, build or install)."""
        if kind not in DIRECTORY_KINDS:
            hint = f"use {', '.join(DIRECTORY_KINDS)}"
            raise UsageError(f"unknown directory {kind!r}", hint=hint)
        self.directory = kind
        if self.state is not None:
            self.cwd = self.state.directories[kind]
        return self.cwd or kind

    def run(self, command: str, feedback: Feedback) -> CommandOutcome:
        """Run the bash command line ``command`` as the build user in the current directory with
        the step's environment, its output lines to ``feedback.log``; the directory it ends in
        is where the next command starts. A cancel stops the waiting."""
        if not command.strip():
            raise UsageError("nothing to run", hint="type a command, e.g. `make` or `ls -la`")
        state = self.state or self.inspect(feedback)
        cwd = self.cwd or state.directories[self.directory]

        def line(text: str) -> None:
            feedback.log(printable(text))
            feedback.check()

        trailer = TrailerFilter(self._marker, line)
        out, err = LineSplitter(trailer), LineSplitter(line)
        with self.controller.guest(feedback, self.step, (self.part,)) as session:
            layout = session.machine.layout
            script = ["bash", "-c", PRELUDE, "workbench-debug", state.environment, cwd, command]
            script.append(self._marker)
            argv = layout.as_build_user(script)
            env = {**GUEST_ENV, "PATH": f"{layout.venv}/bin:{GUEST_PATH}"}
            result = session.machine.exec(
                Command(argv, env=env), timeout=COMMAND_TIMEOUT, on_stdout=out, on_stderr=err
            )
        out.flush()
        err.flush()
        self.cwd = trailer.cwd or cwd
        return CommandOutcome(command, result.exit_status, self.cwd)

    def retry(self, feedback: Feedback) -> BuildResult:
        """Pull the part again from the project (as edited on the host), then run it up to the
        step; :class:`BuildError` when it fails again (the record then has the new failure).

        The part's pull is cleaned first: craft-parts' own check of a local source compares
        modification times of host files with the guest's clock, which may be off."""
        self.controller.clean_part(self.part, Step.PULL, feedback)
        try:
            result = self.controller.build(self.step, feedback, (self.part,))
        except BuildError:
            self.failure = last_failure(read_events(self._events_path(self.controller)))
            raise
        self.failure = None
        return result

    def prepare_terminal(self, feedback: Feedback) -> str:
        """Make the build user's next login shell start in the current directory with the step's
        environment; the directory."""
        state = self.state or self.inspect(feedback)
        cwd = self.cwd or state.directories[self.directory]
        with self.controller.guest(feedback, self.step, (self.part,)) as session:
            name = f"{session.project.name}:{self.part}"
            hook = shell_hook_command(name, cwd, state.environment)
            session.machine.exec(hook, timeout=COMMAND_TIMEOUT, check=True)
        return cwd

    def terminal_argv(self) -> list[str]:
        """The host command that opens the build user's shell in the VM (after
        :meth:`prepare_terminal`): this Python's ``workbench vm shell --user``, over the VM's
        pinned SSH key, with the cache directories this process uses."""
        cache = [f"{key}={os.environ[key]}" for key in CACHE_VARIABLES if key in os.environ]
        shell = [sys.executable, "-m", "workbench", "vm", "--project", str(self.controller.root)]
        return [*(["env", *cache] if cache else []), *shell, "shell", "--user", BUILD_USER]


CACHE_VARIABLES = ("WORKBENCH_CACHE_DIR", "XDG_CACHE_HOME", "WORKBENCH_CONFIG_DIR")
"""Where the workbench finds its instances and keys: a terminal must see the same."""
