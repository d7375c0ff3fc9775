"""The part debugger on a real debian-12 guest: a copy of ``examples/build/broken-make`` fails at
build; the debugger reads the failure and the step's log, asks the guest for the part's state and
the step's environment, runs commands as the build user in the part's directories (the working
directory kept after a ``cd``), then the copy is fixed on the host and the retry succeeds."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_build_controller import FakeFeedback
from vm_fixtures import build_cache

from workbench.errors import BuildError
from workbench.lifecycle import BuildController, BuildOptions, Step, copy_example
from workbench.lifecycle.debug import PartDebugger

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "build" / "broken-make"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuildController]:
    with build_cache(tmp_path_factory.mktemp("dbg")) as cache:
        project = copy_example(EXAMPLE, workdir=cache.parent / "projects")
        built = BuildController(project, BuildOptions(), stop_after=900)
        try:
            yield built
        finally:
            built.clean(FakeFeedback())
            shutil.rmtree(cache.parent / "projects", ignore_errors=True)


def run(debugger: PartDebugger, command: str) -> tuple[list[str], int, str]:
    feedback = FakeFeedback()
    outcome = debugger.run(command, feedback)
    return feedback.lines, outcome.exit_status, outcome.cwd


def test_a_failed_build_is_debugged_in_place_fixed_on_the_host_and_retried(
    controller: BuildController,
) -> None:
    with pytest.raises(BuildError, match="build"):
        controller.build(Step.BUILD, FakeFeedback())

    debugger = PartDebugger.from_last_failure(controller)
    assert debugger is not None
    assert (debugger.part, debugger.step) == ("hello", Step.BUILD)
    errors = [line.text for line in debugger.log_tail() if line.error]
    assert any("GREETNG" in text and "undeclared" in text for text in errors), errors

    state = debugger.inspect(FakeFeedback())
    assert state.done == ("pull",)
    build_dir = state.directories["build"]
    assert build_dir.endswith("/parts/hello/build")
    assert "CRAFT_PART_BUILD" in state.environment

    lines, status, cwd = run(debugger, "pwd; id -un; echo $CRAFT_STEP_NAME $CRAFT_PART_NAME")
    assert (lines, status, cwd) == ([build_dir, "workbench", "BUILD hello"], 0, build_dir)
    lines, status, _ = run(debugger, "env")
    assert f"CRAFT_PART_INSTALL={state.directories['install']}" in lines
    lines, status, _ = run(debugger, "make")
    assert status != 0
    assert any("GREETNG" in line for line in lines)

    parent = build_dir.rsplit("/", 1)[0]
    assert run(debugger, "cd ..")[2] == parent
    assert run(debugger, "pwd")[0] == [parent]  # the next command starts where the last ended
    debugger.choose("src")
    lines, status, cwd = run(debugger, "ls")
    assert ("hello.c" in lines, status, cwd) == (True, 0, state.directories["src"])

    source = controller.root / "src" / "hello.c"
    source.write_text(source.read_text().replace("GREETNG", "GREETING"))
    result = debugger.retry(FakeFeedback())
    assert result.ok
    assert debugger.failure is None
    assert debugger.inspect(FakeFeedback()).done == ("pull", "build")
    debugger.choose("install")
    assert run(debugger, "usr/bin/hello") == (
        ["Hello from a fixed build!"],
        0,
        cwd.replace("src", "install"),
    )
