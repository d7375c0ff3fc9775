"""The build controller without a VM and without ipywidgets: its decisions and its actions, with
a fake feedback and the instance's VM calls faked (the real ones: tests/test_widgets_build.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import BuildError, UsageError
from workbench.lifecycle import (
    BuildController,
    BuildOptions,
    BuildResult,
    Event,
    Session,
    Step,
    copy_example,
)
from workbench.lifecycle.controller import STOP_RUNNER, PrimeContents, craft_parts_refusal
from workbench.lifecycle.events import StepStarted
from workbench.lifecycle.keepalive import Policy
from workbench.progress import Progress
from workbench.vm import Completed, Instance, Status, StatusReport

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "build" / "c-make"


class Stopped(Exception):
    """What the fake feedback raises once cancelled (a task runner raises its own)."""


@dataclass
class FakeFeedback:
    lines: list[str] = field(default_factory=list)
    progressed: list[Progress] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def check(self) -> None:
        if self.cancelled:
            raise Stopped

    def log(self, line: str) -> None:
        self.lines.append(line)

    def progress(self, event: Progress) -> None:
        self.progressed.append(event)

    def item(self, value: Event) -> None:
        self.events.append(value)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_example(EXAMPLE, workdir=tmp_path / "projects")


def controller(project: Path, image: str = "debian-12", **kwargs: Any) -> BuildController:
    instances = project.parent.parent / "instances"
    return BuildController(project, BuildOptions(image=image), instances=instances, **kwargs)


def running(instance: Instance) -> StatusReport:
    return StatusReport("c-make", str(instance.project), Status.RUNNING, "", "tiny", port=2222)


def test_copy_example_copies_and_never_touches_the_example(tmp_path: Path) -> None:
    project = copy_example(EXAMPLE, workdir=tmp_path)
    assert project == tmp_path / "c-make"
    assert (project / "snapcraft.yaml").read_text() == (EXAMPLE / "snapcraft.yaml").read_text()
    (project / "built.snap").write_text("kept")
    copy_example(EXAMPLE, workdir=tmp_path)
    assert (project / "built.snap").read_text() == "kept"
    with pytest.raises(UsageError, match="no such example project"):
        copy_example(tmp_path / "missing")


def test_only_images_with_python_run_craft_parts() -> None:
    assert craft_parts_refusal("debian-12") is None
    refusal = craft_parts_refusal("tiny")
    assert refusal is not None
    assert str(refusal) == (
        "error: the tiny image has no python3, so craft-parts cannot run in it"
        " (steps need debian-12)"
    )


def test_steps_and_cleans_are_checked_before_anything_runs(project: Path) -> None:
    debian = controller(project)
    assert debian.build_step("pack") is Step.PACK
    assert debian.clean_step("stage") is Step.STAGE
    with pytest.raises(UsageError, match=r"unknown step 'pack' .*use one of pull, build, stage"):
        debian.clean_step("pack")
    with pytest.raises(UsageError, match="unknown step 'bake'"):
        debian.build_step("bake")
    tiny = controller(project, "tiny")
    refused: list[Callable[[], object]] = [
        lambda: tiny.build_step("pull"),
        lambda: tiny.clean_step("pull"),
        tiny.session,
        lambda: tiny.build(Step.PULL, FakeFeedback()),
        lambda: tiny.clean_part("hello", Step.PULL, FakeFeedback()),
    ]
    for call in refused:
        with pytest.raises(UsageError, match="tiny image has no python3"):
            call()


def test_the_project_its_parts_and_an_absent_vm(project: Path) -> None:
    inside = BuildController(project / "src", instances=project.parent.parent / "instances")
    assert inside.root == project
    assert inside.part_names() == ["hello"]
    assert inside.state().status is Status.ABSENT
    assert inside.state().stops is None
    (project / "snapcraft.yaml").write_text("name: [broken\n")
    assert inside.part_names() == []


def test_a_step_press_is_one_build_up_to_it_with_the_idle_stop(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[BuildOptions] = []

    def run(session: Session) -> BuildResult:
        seen.append(session.options)
        session.emit(Event(StepStarted(step="build", part="hello", action="run")))
        return BuildResult(True, session.project, project, 1.5)

    monkeypatch.setattr(Session, "run", run)
    feedback = FakeFeedback()
    result = controller(project, stop_after=90).build(Step.BUILD, feedback)
    assert result.elapsed == 1.5
    assert [(o.step, o.parts, o.image, o.policy) for o in seen] == [
        (Step.BUILD, (), "debian-12", Policy.uniform(90))
    ]
    assert [e.line() for e in feedback.events] == ["build hello: run"]


def test_a_cancelled_step_stops_the_guest_runner_and_is_reported_as_cancelled(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[list[str]] = []

    def run(session: Session) -> BuildResult:
        feedback.cancel.set()
        if not killed.wait(10):
            pytest.fail("the guest runner was never stopped")
        raise BuildError("the guest runner exited with status 143")

    def exec_(instance: Instance, argv: list[str], **_kwargs: Any) -> Completed:
        commands.append(argv)
        killed.set()
        return Completed(argv, 0, "4242\n", "")

    killed = threading.Event()
    feedback = FakeFeedback()
    monkeypatch.setattr(Session, "run", run)
    monkeypatch.setattr(Instance, "status", running)
    monkeypatch.setattr(Instance, "exec", exec_)
    with pytest.raises(Stopped):
        controller(project).build(Step.BUILD, feedback)
    assert commands == [["sh", "-c", STOP_RUNNER]]
    assert feedback.lines == ["cancel: stopped the guest runner 4242"]


def test_a_failed_step_that_was_not_cancelled_stays_a_failure(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(_session: Session) -> BuildResult:
        raise BuildError("make failed")

    monkeypatch.setattr(Session, "run", run)
    with pytest.raises(BuildError, match="make failed"):
        controller(project).build(Step.BUILD, FakeFeedback())


def test_a_part_clean_cleans_that_part_from_that_step(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[tuple[str, ...], Step]] = []

    def clean_parts(session: Session, step: Step) -> BuildResult:
        asked.append((session.options.parts, step))
        return BuildResult(True, session.project, project, 0.5)

    monkeypatch.setattr(Session, "clean_parts", clean_parts)
    controller(project).clean_part("hello", Step.STAGE, FakeFeedback())
    assert asked == [(("hello",), Step.STAGE)]


def fake_exec(
    answer: Callable[[list[str]], Completed],
) -> Callable[..., Completed]:
    def exec_(_instance: Instance, argv: list[str], **kwargs: Any) -> Completed:
        done = answer(argv)
        for sink in ("on_stdout", "on_stderr"):
            if kwargs.get(sink) is not None:
                kwargs[sink](getattr(done, sink[3:]))
        return done

    return exec_


def test_a_command_streams_its_lines_and_returns_its_status(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[Path] = []
    monkeypatch.setattr(Instance, "exec", fake_exec(lambda argv: Completed(argv, 3, "a\nb", "")))
    monkeypatch.setattr(Instance, "close", lambda instance: closed.append(instance.project))
    feedback = FakeFeedback()
    done = controller(project).run(["uname", "-a"], feedback)
    assert (done.argv, done.exit_status) == (["uname", "-a"], 3)
    assert feedback.lines == ["a", "b"]
    assert closed == [project]  # no SSH client left to hold the VM up


def test_browse_lists_prime_where_the_session_builds_and_says_what_is_missing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed: list[list[str]] = []

    def answer(argv: list[str]) -> Completed:
        listed.append(argv)
        return Completed(argv, 0, "d 4096 usr\nf 16 usr/hello\n", "")

    monkeypatch.setattr(Instance, "exec", fake_exec(answer))
    found = controller(project).browse(FakeFeedback())
    assert listed[0][:2] == ["find", "/build/hello-make/prime"]
    assert [e.path for e in found.entries] == ["usr", "usr/hello"]
    assert found.snap == project / "hello-make_1.0_amd64.snap"
    assert found.missing == "no hello-make_1.0_amd64.snap yet (run pack)"
    empty = PrimeContents("/build/x/prime", (), project / "x.snap", "")
    assert empty.missing == "no /build/x/prime in the VM yet (run prime); no x.snap yet (run pack)"


def test_a_cancelled_launch_stops_the_vm_once_it_is_up(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def up(_instance: Instance, *, stop_after: float, source: str) -> None:
        calls.append(f"up {stop_after:g} {source}")
        feedback.cancel.set()

    def down(_instance: Instance) -> str:
        calls.append("down")
        return "powerdown"

    feedback = FakeFeedback()
    monkeypatch.setattr(Instance, "up", up)
    monkeypatch.setattr(Instance, "down", down)
    monkeypatch.setattr(Instance, "status", running)
    launched = controller(project, stop_after=120)
    assert launched.launch(FakeFeedback()).port == 2222
    with pytest.raises(Stopped):
        launched.launch(feedback)
    assert calls == ["up 120 notebook", "up 120 notebook", "down"]


def test_snapshots_are_timed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done: list[str] = []
    monkeypatch.setattr(Instance, "snapshot", lambda _i, name: done.append(f"save {name}"))
    monkeypatch.setattr(Instance, "load_snapshot", lambda _i, name: done.append(f"load {name}"))
    vm = controller(project)
    saved = vm.snapshot("before", FakeFeedback())
    restored = vm.restore("before", FakeFeedback())
    assert done == ["save before", "load before"]
    assert [(t.action, t.name) for t in (saved, restored)] == [
        ("save", "before"),
        ("restore", "before"),
    ]
    assert saved.seconds >= 0
