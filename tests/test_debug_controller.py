"""The part debugger without a VM: the failure and the step's log read from ``events.jsonl``, the
error lines marked, the guest's part state parsed, and commands run by a fake machine that runs
the debugger's real bash script on this host (the step's environment sourced, the directory
kept after a ``cd``, the marker and the directory never shown). The real guest:
tests/test_debug_build.py."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_build_controller import FakeFeedback

from workbench.errors import BuildError, UsageError
from workbench.lifecycle import Step
from workbench.lifecycle.debug import (
    PartDebugger,
    PartState,
    TrailerFilter,
    default_directory,
    last_failure,
    marked,
    step_record,
)
from workbench.lifecycle.events import (
    Event,
    Failure,
    Output,
    SessionStarted,
    StepFinished,
    StepStarted,
)
from workbench.lifecycle.guest import COMMANDS, ROOT_COMMANDS
from workbench.lifecycle.shell import shell_rc
from workbench.lifecycle.wire import BuildLog
from workbench.vm import Completed
from workbench.vm.executor import Command
from workbench.vm.provider import Layout
from workbench.vm.state import InstanceDir
from workbench.widgets.terminal import open_tab_script


def started(name: str = "broken-make") -> Event:
    return Event(
        SessionStarted(
            name=name,
            version="1.0",
            build_on="amd64",
            build_for="amd64",
            architectures=("amd64",),
            arch_reason="",
            project="/p",
            instance="/i",
            snap="x.snap",
        )
    )


FAILED_BUILD = [
    started(),
    Event(StepStarted(part="hello", step="pull", action="run")),
    Event(Output(text="pulled")),
    Event(StepFinished(part="hello", step="pull", action="run", elapsed=0.1)),
    Event(StepStarted(part="hello", step="build", action="run")),
    Event(Output(text="+ make -j2 PREFIX=/usr")),
    Event(Output(text="cc -O2 -o hello hello.c")),
    Event(Output(text="hello.c:7:20: error: 'GREETNG' undeclared (first use in this function)")),
    Event(Output(text="make: *** [Makefile:4: hello] Error 1")),
    Event(
        Failure(
            brief="Failed to run the build script for part 'hello'.",
            part="hello",
            step="build",
            directory="/build/broken-make/parts/hello/build",
        )
    ),
]


def test_the_failure_and_the_steps_output_come_from_the_last_session() -> None:
    failure = last_failure(FAILED_BUILD)
    assert failure is not None
    assert (failure.part, failure.step) == ("hello", "build")
    assert last_failure([*FAILED_BUILD, started()]) is None  # a later session passed
    record = step_record(FAILED_BUILD, "hello", Step.BUILD)
    assert record.failure == failure
    assert record.output[0] == "+ make -j2 PREFIX=/usr"
    assert "pulled" not in record.output
    assert step_record(FAILED_BUILD, "hello", Step.PULL).output == ("pulled",)
    rerun = [*FAILED_BUILD, Event(StepStarted(part="hello", step="build", action="run"))]
    rerun.append(Event(Output(text="all good")))
    assert step_record(rerun, "hello", Step.BUILD) == step_record(rerun, "hello", Step.BUILD)
    assert step_record(rerun, "hello", Step.BUILD).output == ("all good",)
    assert step_record(rerun, "hello", Step.BUILD).failure is None


def test_error_lines_are_marked_and_others_are_not() -> None:
    lines = marked(
        [
            "cc -O2 -o hello hello.c",
            "hello.c:7:20: error: 'GREETNG' undeclared",
            "make: *** [Makefile:4: hello] Error 1",
            "/usr/bin/ld: undefined reference to `greet'",
            "install -D -m 0755 hello /usr/bin/hello",
        ]
    )
    assert [line.error for line in lines] == [False, True, True, True, False]


def test_each_step_starts_in_its_own_directory() -> None:
    assert [default_directory(step) for step in Step if step < Step.PACK] == [
        "src",
        "build",
        "install",
        "install",
    ]


def test_the_guest_runner_has_an_inspect_command_run_as_the_build_user() -> None:
    assert "inspect" in COMMANDS
    assert "inspect" not in ROOT_COMMANDS


def test_the_part_state_is_the_last_json_line_of_inspect() -> None:
    found = {
        "part": "hello",
        "step": "build",
        "done": ["pull"],
        "directories": {"src": "/w/src", "build": "/w/build", "install": "/w/install"},
        "environment": "export A=1\n",
    }
    state = PartState.parse("craft-parts says hi\n" + json.dumps(found) + "\n")
    assert (state.done, state.directories["build"], state.environment) == (
        ("pull",),
        "/w/build",
        "export A=1\n",
    )
    with pytest.raises(BuildError, match="printed no part state"):
        PartState.parse("usage: workbench.lifecycle.guest ... invalid choice: 'inspect'\n")
    with pytest.raises(BuildError, match="not readable"):
        PartState.parse('{"part": "hello"}\n')


def test_the_trailer_filter_hides_the_marker_and_keeps_the_directory() -> None:
    shown: list[str] = []
    trailer = TrailerFilter("@m", shown.append)
    for line in ("one", "no newline at the end@m", "/the/dir"):
        trailer(line)
    assert (shown, trailer.cwd) == (["one", "no newline at the end"], "/the/dir")
    quiet = TrailerFilter("@m", shown.append)
    quiet("exited early")
    assert quiet.cwd is None


def test_the_shell_rc_sources_the_steps_environment_before_the_cd() -> None:
    rc = shell_rc("broken-make:hello", "/w/build", "export CRAFT_STEP_NAME=BUILD\n")
    assert rc.index("export CRAFT_STEP_NAME=BUILD") < rc.index("cd /w/build")
    assert shell_rc("x", "/d") == shell_rc("x", "/d", "")


# -- commands, with the debugger's real bash script run here --------------------------------


@dataclass
class LocalMachine:
    """Runs every command on this host (the build user is this user), answering the guest
    runner's ``inspect`` with ``state``."""

    state: dict[str, Any]
    layout: Layout = field(
        default_factory=lambda: Layout(build_user="me", login_user="me", root="/nonexistent")
    )
    commands: list[Sequence[str]] = field(default_factory=list)

    def exec(
        self,
        command: Command | Sequence[str],
        *,
        timeout: float | None = None,
        check: bool = False,
        on_stdout: Any = None,
        on_stderr: Any = None,
    ) -> Completed:
        command = Command.of(command)
        self.commands.append(list(command.argv))
        if "workbench.lifecycle.guest" in command.argv:
            return Completed(list(command.argv), 0, json.dumps(self.state) + "\n", "")
        env = {"PATH": os.environ["PATH"], **command.env}
        done = subprocess.run(
            list(command.argv), env=env, capture_output=True, text=True, check=False
        )
        if on_stdout is not None:
            on_stdout(done.stdout)
        if on_stderr is not None:
            on_stderr(done.stderr)
        return Completed(list(command.argv), done.returncode, done.stdout, done.stderr)


@dataclass
class FakeController:
    """What the debugger uses of a :class:`BuildController`, over a :class:`LocalMachine`."""

    root: Path
    machine: LocalMachine
    instances: Path
    calls: list[tuple[str, Step, tuple[str, ...]]] = field(default_factory=list)
    fail_build: bool = False

    @contextmanager
    def guest(self, feedback: Any, step: Step, parts: tuple[str, ...]) -> Iterator[Any]:
        self.calls.append(("guest", step, parts))
        yield SimpleNamespace(
            machine=self.machine,
            spec=lambda target: SimpleNamespace(to_json=lambda: "{}"),
            project=SimpleNamespace(name="broken-make"),
        )

    def clean_part(self, part: str, step: Step, feedback: Any) -> None:
        self.calls.append(("clean", step, (part,)))

    def build(self, step: Step, feedback: Any, parts: tuple[str, ...] = ()) -> Any:
        self.calls.append(("build", step, parts))
        if self.fail_build:
            raise BuildError("build of hello: it failed again")
        return SimpleNamespace(ok=True, elapsed=1.0)


@pytest.fixture
def part_dirs(tmp_path: Path) -> dict[str, str]:
    dirs = {kind: tmp_path / "parts" / "hello" / kind for kind in ("src", "build", "install")}
    for path in dirs.values():
        (path / "sub").mkdir(parents=True)
    return {kind: str(path) for kind, path in dirs.items()}


@pytest.fixture
def fake(tmp_path: Path, part_dirs: dict[str, str]) -> FakeController:
    state = {
        "part": "hello",
        "step": "build",
        "done": ["pull"],
        "directories": part_dirs,
        "environment": f'export CRAFT_STEP_NAME="BUILD"\nexport PATH="{tmp_path}/bin:$PATH"\n',
    }
    events = InstanceDir.for_project(tmp_path, instances=tmp_path / "instances").events_log
    log = BuildLog(events.with_name("build.log"), events)
    for event in FAILED_BUILD:
        log(event)
    return FakeController(tmp_path, LocalMachine(state), tmp_path / "instances")


def debugger_of(fake: FakeController) -> PartDebugger:
    found = PartDebugger.from_last_failure(fake)  # type: ignore[arg-type]
    assert found is not None
    return found


def run(debugger: PartDebugger, command: str) -> tuple[list[str], int, str]:
    feedback = FakeFeedback()
    outcome = debugger.run(command, feedback)
    return feedback.lines, outcome.exit_status, outcome.cwd


def test_the_debugger_starts_from_the_recorded_failure_and_its_log(fake: FakeController) -> None:
    debugger = debugger_of(fake)
    assert (debugger.part, debugger.step, debugger.directory) == ("hello", Step.BUILD, "build")
    tail = debugger.log_tail()
    errors = [line.text for line in tail if line.error]
    assert errors[0] == "hello.c:7:20: error: 'GREETNG' undeclared (first use in this function)"
    assert tail[-1].text == "error: build hello: Failed to run the build script for part 'hello'."
    assert tail[0].text == "+ make -j2 PREFIX=/usr"


def test_commands_run_in_the_step_environment_and_keep_their_directory(
    fake: FakeController, part_dirs: dict[str, str]
) -> None:
    debugger = debugger_of(fake)
    lines, status, cwd = run(debugger, "pwd; echo $CRAFT_STEP_NAME")
    assert (lines, status, cwd) == ([part_dirs["build"], "BUILD"], 0, part_dirs["build"])
    assert fake.calls[0] == ("guest", Step.BUILD, ("hello",))  # inspect first, for the part
    assert run(debugger, "cd sub")[2] == part_dirs["build"] + "/sub"
    assert run(debugger, "pwd")[0] == [part_dirs["build"] + "/sub"]
    lines, status, cwd = run(debugger, "printf 'no newline'; exit 3")
    assert (lines, status, cwd) == (["no newline"], 3, part_dirs["build"] + "/sub")
    lines, status, _ = run(debugger, "printf 'no newline'")
    assert (lines, status) == (["no newline"], 0)
    lines, status, _ = run(debugger, "echo oops >&2; false")
    assert (lines, status) == (["oops"], 1)
    assert debugger.choose("install") == part_dirs["install"]
    assert run(debugger, "pwd")[0] == [part_dirs["install"]]
    with pytest.raises(UsageError, match="unknown directory 'lib'"):
        debugger.choose("lib")
    with pytest.raises(UsageError, match="nothing to run"):
        debugger.run("  ", FakeFeedback())


def test_retry_pulls_the_part_again_then_runs_it_up_to_the_step(fake: FakeController) -> None:
    debugger = debugger_of(fake)
    assert debugger.retry(FakeFeedback()).ok
    assert fake.calls == [("clean", Step.PULL, ("hello",)), ("build", Step.BUILD, ("hello",))]
    assert debugger.failure is None
    fake.fail_build = True
    with pytest.raises(BuildError, match="failed again"):
        debugger.retry(FakeFeedback())
    assert debugger.failure is not None  # read again from the record


def test_the_terminal_command_is_the_workbench_shell_as_the_build_user(
    fake: FakeController, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", "/c")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("WORKBENCH_CONFIG_DIR", raising=False)
    debugger = debugger_of(fake)
    argv = debugger.terminal_argv()
    assert argv[:2] == ["env", "WORKBENCH_CACHE_DIR=/c"]
    assert argv[-6:] == ["vm", "--project", str(fake.root), "shell", "--user", "workbench"]
    cwd = debugger.prepare_terminal(FakeFeedback())
    assert debugger.state is not None
    assert cwd == debugger.state.directories["build"]
    hook = fake.machine.commands[-1]
    assert hook[:2] == ["sh", "-c"]
    assert "CRAFT_STEP_NAME" in hook[2]


def test_pack_has_no_part_to_debug(fake: FakeController) -> None:
    with pytest.raises(UsageError, match="pack belongs to no part"):
        PartDebugger(fake, "hello", Step.PACK)  # type: ignore[arg-type]


def test_the_tab_opening_script_names_the_terminal_as_data_and_acts_once() -> None:
    script = open_tab_script('1"); alert("x', "t0")
    assert 'commands.execute(\'terminal:open\', {name: "1\\"); alert(\\"x"})' in script
    assert ' if (!done.has("t0")) { done.add("t0");' in script  # once per click and page
