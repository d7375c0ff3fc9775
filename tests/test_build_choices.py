"""What to build: BuildChoices mapped onto BuildOptions (the one mapping `workbench build` and the
build widget's chooser use), the plan's build-on/build-for pairs a VM can serve, and the chooser
and the debug panel of the build view, without a VM."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
from test_debug_controller import FAILED_BUILD

from workbench.cli import build as build_cli
from workbench.lifecycle import BuildController, BuildOptions, Step, copy_example
from workbench.lifecycle.choices import BuildChoices, BuildTarget, build_targets
from workbench.lifecycle.debug import LogLine, PartDebugger
from workbench.lifecycle.wire import BuildLog
from workbench.vm.state import InstanceDir
from workbench.widgets import BuildView
from workbench.widgets.debug_view import render_tail
from workbench.widgets.terminal import JupyterServer, pick_server

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_choices_map_onto_the_options_keeping_the_other_settings(tmp_path: Path) -> None:
    choices = BuildChoices(
        tmp_path,
        parts=("hello",),
        step=Step.BUILD,
        build_on="i386",
        build_for="i386",
        templates=(tmp_path / "mine",),
        export_prime=True,
    )
    base = BuildOptions(image="tiny", memory="3G", keep=True)
    options = choices.options(base, {"WORKBENCH_TEMPLATES_PATH": "/env/a"})
    assert (options.step, options.parts, options.build_on, options.build_for) == (
        Step.BUILD,
        ("hello",),
        "i386",
        "i386",
    )
    assert options.templates == (Path("/env/a"), tmp_path / "mine")
    assert options.export_prime
    assert (options.image, options.memory, options.keep) == ("tiny", "3G", True)
    assert BuildChoices(tmp_path).options(environ={}) == BuildOptions()


def test_the_cli_builds_what_the_same_choices_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[tuple[Path, BuildOptions]] = []

    class Stop(Exception):
        pass

    class Recording:
        def __init__(self, start: Path, options: BuildOptions) -> None:
            made.append((start, options))
            raise Stop

    monkeypatch.setattr(build_cli, "BuildController", Recording)
    monkeypatch.setenv("WORKBENCH_TEMPLATES_PATH", "/env/a")
    parser = argparse.ArgumentParser()
    build_cli.register(parser.add_subparsers())
    argv = ["build", str(tmp_path), "--step", "stage", "--part", "hello", "--build-on", "i386"]
    argv += ["--build-for", "i386", "--templates-dir", "t", "--export-prime", "--image", "tiny"]
    args = parser.parse_args(argv)
    with pytest.raises(Stop):
        args.handler(args)
    choices = BuildChoices(tmp_path, ("hello",), Step.STAGE, "i386", "i386", (Path("t"),), True)
    start, options = made[0]
    assert start == tmp_path
    assert options == choices.options(
        BuildOptions(image="tiny", policy=options.policy, host=None),
        {"WORKBENCH_TEMPLATES_PATH": "/env/a"},
    )


def test_the_build_targets_are_the_plans_builds_a_vm_can_serve() -> None:
    # core22 without platforms: one build per architecture; VMs build on amd64 (i386) and arm64
    assert build_targets(EXAMPLES / "build" / "c-make") == (
        BuildTarget("amd64", "amd64"),
        BuildTarget("arm64", "arm64"),
    )
    assert build_targets(EXAMPLES / "build" / "arch-example-1") == (BuildTarget("i386", None),)
    assert BuildTarget("i386", None).label == "on i386 for what it claims"
    assert build_targets(Path("/nonexistent")) == ()


# -- the build view's chooser and debug panel ------------------------------------------------


@pytest.fixture
def view(tmp_path: Path) -> BuildView:
    project = copy_example(EXAMPLES / "build" / "c-make", workdir=tmp_path / "projects")
    controller = BuildController(project, BuildOptions(), instances=tmp_path / "instances")
    return BuildView(controller)


def test_the_chooser_switches_the_view_to_another_project_and_its_parts(
    view: BuildView, tmp_path: Path
) -> None:
    chooser = view.chooser
    assert chooser.parts.options == ("hello",)
    assert chooser.message.value.startswith("hello-make 1.0 in ")
    two = copy_example(EXAMPLES / "build" / "two-parts", workdir=tmp_path / "projects")
    chooser.project.value = str(two)
    assert chooser.parts.options == ("one", "two")
    chooser.parts.value = ("two",)
    chooser.step.value = "build"
    chooser.target.value = BuildTarget("amd64", "amd64")
    chooser.export_prime.value = True
    chooser.use_button.click()
    options = view.controller.options
    assert view.controller.root == two
    assert (options.parts, options.step, options.build_on, options.export_prime) == (
        ("two",),
        Step.BUILD,
        "amd64",
        True,
    )
    assert view.controller.instances == tmp_path / "instances"  # the view's other settings
    assert list(view.clean_menus) == ["one", "two"]
    assert view.debug_part_menu.options == ("one", "two")
    assert view.debug_part_menu.value == "one"
    chooser.project.value = str(tmp_path / "nowhere")
    assert "no snapcraft.yaml" in chooser.message.value
    chooser.use_button.click()
    assert view.controller.root == two  # a project that does not load is not used


def test_a_recorded_failure_opens_the_debug_panel_with_the_error_marked(
    view: BuildView, tmp_path: Path
) -> None:
    events = InstanceDir.for_project(view.controller.root, instances=tmp_path / "instances")
    log = BuildLog(events.build_log, events.events_log)
    for event in FAILED_BUILD:
        log(event)
    view._debug_last_failure()
    panel = view.debug
    assert panel.debugger is not None
    assert panel.debugger.part == "hello"
    assert "build of hello failed: Failed to run the build script" in panel.heading.value
    assert 'data-error="1">hello.c:7:20: error: &#x27;GREETNG&#x27;' in panel.tail.value
    assert panel.directory.value == "build"
    assert panel.summary().startswith("debug: build of hello failed")


def test_debugging_a_part_on_demand_shows_what_its_step_did(view: BuildView) -> None:
    view.debug_part("hello", "stage")
    debugger = view.debug.debugger
    assert debugger is not None
    assert (debugger.step, debugger.failure) == (Step.STAGE, None)
    assert "stage of hello: inspect what it produced" in view.debug.heading.value
    assert view.debug.directory.value == "install"
    view.debug_part("hello", "pack")
    assert view.status_text.startswith("debug: refused: error: unknown step 'pack'")


def test_the_tail_escapes_guest_text_and_marks_errors() -> None:
    html = render_tail((LogLine("<b>ok</b>", False), LogLine("error: \x07boom", True)))
    assert "&lt;b&gt;ok&lt;/b&gt;" in html
    assert 'class="wb-line wb-err" data-error="1">error: \\x07boom' in html


def test_without_a_jupyter_server_the_terminal_button_says_so(
    view: BuildView, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("workbench.widgets.debug_view.running_server", lambda: None)
    view.debug_part("hello", "build")
    view.debug.terminal_button.click()
    assert "no Jupyter server runs this kernel" in view.debug.note.value
    assert "shell --user workbench" in view.debug.note.value
    assert not view.runner.running


def test_the_kernels_server_is_its_parent_else_the_only_one() -> None:
    a: dict[str, Any] = {"url": "http://127.0.0.1:8888/", "token": "t", "pid": 10}
    b: dict[str, Any] = {"url": "https://h:9/base", "token": "u", "pid": 20}
    assert pick_server([a, b], 20) == JupyterServer("https://h:9/base/", "u")
    assert pick_server([a], 99) == JupyterServer("http://127.0.0.1:8888/", "t")
    assert pick_server([a, b], 99) is None
    assert pick_server([], 1) is None
    assert JupyterServer("https://h:9/base/", "u").websocket("terminals/websocket/1") == (
        "wss://h:9/base/terminals/websocket/1?token=u"
    )


def test_a_debugger_from_a_project_without_failures_is_none(view: BuildView) -> None:
    assert PartDebugger.from_last_failure(view.controller) is None
