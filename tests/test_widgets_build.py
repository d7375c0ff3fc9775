"""The build-VM view (notebook 03) driven through its Python API.

Fast: the pure pieces (following a log file, lifecycle events as spans, the prime/ listing, the
packed snap.yaml read by a real ``unsquashfs``) and the view's refusals without a VM. Slow: every
VM button on a real tiny guest (launch with the serial log, command, the runner-stopping command,
snapshot save/restore with times, browse, stop, clean), and every step button on a real debian-12
guest building ``examples/build/c-make`` (a copy): pull, a build cancelled while the guest
runner works, the same build pressed again, stage, prime, pack, then browse.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest
from vm_fixtures import FAST, GUEST_MEMORY, build_cache

from workbench.errors import BuildError
from workbench.follow import Follower, following
from workbench.lifecycle import BuildController, BuildOptions, Session, Step, copy_example
from workbench.lifecycle.controller import stop_runner_command
from workbench.lifecycle.events import (
    Done,
    Event,
    Failure,
    HostFinished,
    HostSkipped,
    HostStarted,
    Notice,
    Output,
    Payload,
    SessionStarted,
    StepFinished,
    StepSkipped,
    StepStarted,
)
from workbench.lifecycle.prime import PrimePath, packed_snap_yaml, parse_listing
from workbench.widgets import BuildView
from workbench.widgets.prime_browser import render_listing
from workbench.widgets.step_spans import StepSpans
from workbench.widgets.tasks import Cancelled, Reporter

if TYPE_CHECKING:
    from vm_fixtures import VmEnv


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "build" / "c-make"


# -- pure pieces -----------------------------------------------------------------------------


def test_the_follower_starts_after_old_content_and_over_on_a_new_file(tmp_path: Path) -> None:
    log = tmp_path / "serial.log"
    seen: list[str] = []
    missing = Follower(log, seen.append)
    missing.poll()
    log.write_text("created later\n")
    missing.poll()
    assert seen == ["created later"]
    follower = Follower(log, seen.append)  # starts after "created later"
    with log.open("a") as f:
        f.write("caf\u00e9 ")
        f.flush()
        follower.poll()
        assert seen == ["created later"]
        f.write("au lait\n")
    follower.poll()
    assert seen[1:] == ["caf\u00e9 au lait"]
    with log.open("a") as f:
        f.write("last words of the old boot\n")
    log.unlink()
    log.write_text("new boot\n")  # replaced: the old file's end, then the new one from 0
    follower.finish()
    missing.close()
    assert seen[2:] == ["last words of the old boot", "new boot"]


def test_following_emits_the_lines_written_while_the_block_runs(tmp_path: Path) -> None:
    log = tmp_path / "serial.log"
    log.write_text("an old boot\n")
    seen: list[str] = []
    with following(log, seen.append, every=0.02):
        log.unlink()
        with log.open("w") as f:
            f.write("Linux version 6.1\nhalf a ")
            f.flush()
            deadline = time.monotonic() + 5
            while not seen and time.monotonic() < deadline:
                time.sleep(0.02)
            assert seen == ["Linux version 6.1"]
            f.write("line\nthe end without newline")
    assert seen == ["Linux version 6.1", "half a line", "the end without newline"]


def at(when: float, payload: Payload) -> Event:
    return Event(payload, when)


def step_started(step: str, when: float) -> Event:
    return at(when, StepStarted(part="hello", step=step, action="run"))


def test_step_spans_fold_host_actions_and_steps_per_press() -> None:
    spans = StepSpans()
    t = 1000.0
    session = SessionStarted(
        name="hello",
        version="1",
        build_on="amd64",
        build_for="amd64",
        architectures=("amd64",),
        arch_reason="host",
        project="/p",
        instance="/i",
        snap="hello_1_amd64.snap",
    )
    stream = [
        at(t, session),
        at(t + 1, HostStarted(action="boot", reason="warm start")),
        at(t + 4, HostFinished(action="boot", reason="warm start", elapsed=3.0)),
        step_started("pull", t + 5),
        at(t + 5.5, Output(text="cloning")),
        at(t + 6, StepFinished(part="hello", step="pull", action="run", elapsed=1.0)),
        at(t + 7, StepSkipped(part="hello", step="pull", reason="already ran")),
        step_started("build", t + 7),
        at(t + 8, Notice(text="inject: 1.0 was already in the guest")),
        at(t + 9, Failure(brief="make failed", part="hello", step="build")),
    ]
    changed = [span for e in stream for span in spans.add(e, "build")]
    assert [s.name for s in changed] == [
        "boot (build)",
        "boot (build)",
        "pull hello",
        "pull hello",
        "build hello",
        "build hello",
    ]
    final = spans.spans
    assert (final["boot (build)"].start, final["boot (build)"].end) == (1.0, 4.0)
    assert (final["pull hello"].state, final["pull hello"].end) == ("done", 6.0)
    assert (final["build hello"].state, final["build hello"].end) == ("failed", 9.0)
    again = [
        at(t + 10, session),
        at(t + 10, HostSkipped(action="inject", reason="same")),
        at(t + 11, HostStarted(action="lifecycle", reason="run up to build")),
        at(t + 11.5, HostStarted(action="lifecycle", reason="again")),
        step_started("build", t + 12),
        at(t + 14, Done(operation="build", ok=True, elapsed=4.0)),
    ]
    changed = [span for e in again for span in spans.add(e, "build")]
    rows = [(s.name, s.start, s.end, s.state) for s in changed]
    assert rows[:3] == [
        ("inject (build)", 10.0, 10.0, "done"),
        ("lifecycle (build)", 11.0, None, "running"),
        ("build hello", 12.0, None, "running"),
    ]
    assert sorted(rows[3:]) == [  # the session's end ends what still runs
        ("build hello", 12.0, 14.0, "done"),
        ("lifecycle (build)", 11.0, 14.0, "done"),
    ]
    spans.clear()
    assert spans.spans == {}


def test_prime_listing_is_parsed_sorted_and_rendered() -> None:
    text = "f 16 usr/bin/hello\nd 4096 usr\nd 4096 usr/bin\nl 5 lib\nweird line\n"
    entries = parse_listing(text)
    assert entries == [
        PrimePath("lib", "link", 5),
        PrimePath("usr", "dir", 4096),
        PrimePath("usr/bin", "dir", 4096),
        PrimePath("usr/bin/hello", "file", 16),
    ]
    html = render_listing(entries)
    assert "<td>usr/bin/</td><td>dir</td><td></td>" in html
    assert "<td>usr/bin/hello</td><td>file</td><td>16</td>" in html


def test_packed_snap_yaml_is_read_from_a_real_squashfs(tmp_path: Path) -> None:
    prime = tmp_path / "prime"
    (prime / "meta").mkdir(parents=True)
    (prime / "meta" / "snap.yaml").write_text("name: hello-make\nversion: '1.0'\n")
    snap = tmp_path / "hello.snap"
    subprocess.run(
        ["mksquashfs", str(prime), str(snap), "-noappend", "-quiet"], check=True, timeout=60
    )
    assert packed_snap_yaml(snap) == "name: hello-make\nversion: '1.0'\n"
    (tmp_path / "not.snap").write_text("not squashfs")
    with pytest.raises(BuildError, match=r"cannot read meta/snap\.yaml from .*not\.snap"):
        packed_snap_yaml(tmp_path / "not.snap")


# -- the view without a VM -------------------------------------------------------------------


@pytest.fixture
def tiny_view(tmp_path: Path) -> BuildView:
    project = copy_example(EXAMPLE, workdir=tmp_path / "projects")
    tiny = BuildOptions(image="tiny")
    return BuildView(BuildController(project, tiny, instances=tmp_path / "instances"))


def test_a_new_view_shows_an_absent_vm_and_on_tiny_refuses_steps(tiny_view: BuildView) -> None:
    assert tiny_view.vm_status == "absent"
    assert tiny_view.controller.refusal is not None
    assert all(b.disabled for b in tiny_view.step_buttons.values())
    assert "has no python3" in tiny_view.step_note.value
    tiny_view.step_buttons["pull"].disabled = False  # a click reaching it anyway is refused
    tiny_view.step_buttons["pull"].click()
    assert not tiny_view.runner.running
    assert tiny_view.summary() == (
        "vm: absent\npull: refused: error: the tiny image has no python3, so craft-parts cannot"
        " run in it (steps need debian-12)"
    )
    tiny_view.step("deploy")
    assert tiny_view.status_text == (
        "deploy: refused: error: unknown step 'deploy' (use one of pull, build, stage, prime, pack)"
    )


def test_debian_views_enable_the_step_buttons(tmp_path: Path) -> None:
    view = BuildView(BuildController(copy_example(EXAMPLE, workdir=tmp_path), instances=tmp_path))
    assert (view.controller.options.image, view.controller.refusal) == (None, None)
    assert not any(b.disabled for b in view.step_buttons.values())


def test_each_part_has_a_clean_menu_that_runs_the_real_clean(tmp_path: Path) -> None:
    project = copy_example(EXAMPLE, workdir=tmp_path)
    view = BuildView(BuildController(project, instances=tmp_path / "i"))
    assert list(view.clean_menus) == ["hello"]
    assert view.keepalive_text == ""  # no VM: no deadline to show
    assert view.summary() == "vm: absent"
    menu = view.clean_menus["hello"]
    menu.value = "build"  # choosing from the menu starts the clean, and the menu resets
    assert menu.value == ""
    view.runner.wait(60)
    assert view.runner.state == "failed"
    assert view.status_text == (
        f"clean hello: failed: error: no build VM for {project}: nothing to clean"
        " (`workbench build` makes it)"
    )
    view.clean_part("nope")
    view.runner.wait(60)
    assert view.status_text == (
        f"clean nope: failed: {project / 'snapcraft.yaml'}:15:1: error: no part 'nope' in"
        " hello-make (its parts: hello)"
    )
    view.clean_part("hello", "pack")
    assert view.status_text == (
        "clean hello: refused: error: unknown step 'pack' (use one of pull, build, stage, prime)"
    )


def test_the_clean_menu_cleans_that_part_from_that_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[tuple[str, ...], str, bool]] = []

    def clean_parts(session: Session, step: Step) -> SimpleNamespace:
        asked.append((session.options.parts, step.label, session.options.keep))
        return SimpleNamespace(elapsed=1.25)

    monkeypatch.setattr(Session, "clean_parts", clean_parts)
    project = copy_example(EXAMPLE, workdir=tmp_path)
    view = BuildView(BuildController(project, instances=tmp_path / "i"))
    view.clean_menus["hello"].value = "stage"
    view.runner.wait(60)
    assert asked == [(("hello",), "stage", False)]
    assert view.status_text == (
        "clean hello: done: cleaned stage and the steps after it of hello in 1.2 s"
    )


def test_tiny_views_refuse_to_clean_a_part(tiny_view: BuildView) -> None:
    tiny_view.clean_part("hello", "build")
    assert not tiny_view.runner.running
    assert tiny_view.status_text.startswith(
        "clean hello: refused: error: the tiny image has no python3"
    )


def test_command_box_errors_without_a_vm(tiny_view: BuildView) -> None:
    tiny_view.run_command("echo 'unbalanced")
    assert tiny_view.status_text == "command: No closing quotation"
    tiny_view.run_command("   ")
    assert tiny_view.status_text == "command: nothing to run"
    tiny_view.command.value = "uname -a"
    tiny_view.run_button.click()
    tiny_view.runner.wait(30)
    assert tiny_view.runner.state == "failed"
    assert tiny_view.status_text.startswith("command: failed: error: no instance for")
    assert tiny_view.command_output.lines == ["$ uname -a"]


def test_a_second_task_is_refused_while_one_runs(tiny_view: BuildView) -> None:
    release = threading.Event()
    tiny_view.runner.start("long", lambda _r: release.wait(10))
    tiny_view.launch_button.click()
    assert tiny_view.status_text == "long is still running: wait or cancel it first"
    release.set()
    tiny_view.runner.wait(10)


def test_build_events_fill_the_log_and_the_timeline(tiny_view: BuildView) -> None:
    def job(reporter: Reporter) -> str:
        reporter.item(step_started("pull", 1.0))
        reporter.item(at(1.5, Output(text="fetching")))
        reporter.item(at(2.0, StepFinished(part="hello", step="pull", action="run", elapsed=1.0)))
        return "ok"

    tiny_view.runner.start("pull", job)
    tiny_view.runner.wait(10)
    assert tiny_view.build_log.lines == ["pull hello: run", "fetching", "pull hello: run (1.0 s)"]
    assert list(tiny_view.timeline.spans) == ["pull hello"]
    assert 'data-state="done"' in tiny_view.timeline.value


def test_a_task_ending_without_its_session_end_fails_the_running_spans(
    tiny_view: BuildView,
) -> None:
    def job(reporter: Reporter) -> None:
        reporter.item(step_started("build", time.time()))
        raise Cancelled

    tiny_view.runner.start("build", job)
    tiny_view.runner.wait(10)
    assert tiny_view.runner.state == "cancelled"
    assert tiny_view.timeline.spans["build hello"].state == "failed"
    assert 'data-state="failed"' in tiny_view.timeline.value


# -- every VM button on a real tiny guest ----------------------------------------------------


@pytest.fixture(scope="module")
def tiny_vm(vm_env: VmEnv) -> Iterator[BuildView]:
    project = copy_example(EXAMPLE, workdir=vm_env.cache.parent / "projects")
    tiny = BuildOptions(image="tiny", memory=GUEST_MEMORY, cpus=1)
    view = BuildView(BuildController(project, tiny, timeouts=FAST))
    try:
        yield view
    finally:
        view.runner.wait(300)


@pytest.mark.slow
def launched(view: BuildView) -> BuildView:
    """``view`` with its VM running (launched when an earlier test left it stopped or absent)."""
    if view.vm_status != "running":
        view.launch_button.click()
        view.runner.wait(600)
        assert view.vm_status == "running", view.status_text
    return view


def test_launch_shows_progress_and_the_serial_console(tiny_vm: BuildView) -> None:
    if tiny_vm.vm_status == "running":  # a cold boot prints the kernel's lines
        tiny_vm.stop_button.click()
        tiny_vm.runner.wait(120)
    tiny_vm.launch_button.click()
    tiny_vm.runner.wait(600)
    assert tiny_vm.runner.state == "done", tiny_vm.status_text
    assert tiny_vm.vm_status == "running"
    assert tiny_vm.status_text.startswith("launch: done: up on 127.0.0.1:")
    assert any("Linux version" in line for line in tiny_vm.boot_log.lines)
    assert "boot" in tiny_vm.progress.label.value
    assert tiny_vm.progress.bar.bar_style == "success"


@pytest.mark.slow
def test_the_command_box_runs_in_the_vm(tiny_vm: BuildView) -> None:
    launched(tiny_vm)
    tiny_vm.command.value = "sh -c 'echo out; echo err >&2; exit 3'"
    tiny_vm.run_button.click()
    tiny_vm.runner.wait(120)
    assert tiny_vm.command_output.lines[0] == "$ sh -c 'echo out; echo err >&2; exit 3'"
    assert sorted(tiny_vm.command_output.lines[1:3]) == ["err", "out"]
    assert tiny_vm.command_output.lines[3] == "exit status 3"
    assert tiny_vm.status_text == "command: done: exit status 3"


SLEEPERS = "sh -c \"cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\\\0' '\\\\n' | grep -c '^300$'\""
"""Counts the guest's ``sleep 300`` processes (the lines that are exactly the argument 300)."""


def guest_output(view: BuildView, command: str) -> list[str]:
    """The output lines of ``command`` run from the command box (without the echo and status)."""
    view.run_command(command)
    view.runner.wait(120)
    assert view.runner.state == "done", view.status_text
    echoed = len(f"$ {shlex.join(shlex.split(command))}".splitlines())
    return view.command_output.lines[echoed:-1]


@pytest.mark.slow
def test_the_runner_stopping_command_kills_a_runner_and_its_children(tiny_vm: BuildView) -> None:
    launched(tiny_vm)
    fake = "(sleep 300; : workbench.lifecycle.guest) >/dev/null 2>&1 &"
    guest_output(tiny_vm, f"sh -c '{fake}'")
    assert guest_output(tiny_vm, SLEEPERS) == ["1"]
    stop = shlex.join(stop_runner_command())
    killed = guest_output(tiny_vm, stop)
    assert len(killed) == 1
    assert killed[0].isdigit()
    assert guest_output(tiny_vm, SLEEPERS) == ["0"]  # its child went with it
    assert guest_output(tiny_vm, stop) == [""]  # none left
    assert guest_output(tiny_vm, "echo still connected") == ["still connected"]


@pytest.mark.slow
def test_snapshot_save_and_restore_show_their_times(tiny_vm: BuildView) -> None:
    launched(tiny_vm)
    tiny_vm.times.clear()
    tiny_vm.run_command("sh -c 'echo before > /root/mark'")
    tiny_vm.runner.wait(60)
    tiny_vm.snapshot_name.value = "widget"
    tiny_vm.save_button.click()
    tiny_vm.runner.wait(300)
    assert tiny_vm.runner.state == "done", tiny_vm.status_text
    tiny_vm.run_command("sh -c 'echo after > /root/mark'")
    tiny_vm.runner.wait(60)
    tiny_vm.restore_button.click()
    tiny_vm.runner.wait(300)
    assert tiny_vm.runner.state == "done", tiny_vm.status_text
    tiny_vm.run_command("cat /root/mark")
    tiny_vm.runner.wait(60)
    assert tiny_vm.command_output.lines[1] == "before"
    assert [(t.action, t.name) for t in tiny_vm.times] == [
        ("save", "widget"),
        ("restore", "widget"),
    ]
    assert all(0 < t.seconds < 300 for t in tiny_vm.times)
    assert tiny_vm.times_view.value.count(" s</td>") == 2


@pytest.mark.slow
def test_browse_says_what_is_missing_on_a_vm_without_a_build(tiny_vm: BuildView) -> None:
    launched(tiny_vm)
    tiny_vm.browse_button.click()
    tiny_vm.runner.wait(120)
    assert tiny_vm.runner.state == "done", tiny_vm.status_text
    assert "no /build/hello-make/prime in the VM yet (run prime)" in tiny_vm.browser.listing.value
    assert "no hello-make_1.0_amd64.snap yet (run pack)" in tiny_vm.browser.yaml_view.value


@pytest.mark.slow
def test_stop_then_clean(tiny_vm: BuildView) -> None:
    launched(tiny_vm)
    tiny_vm.stop_button.click()
    tiny_vm.runner.wait(120)
    assert tiny_vm.vm_status == "stopped"
    assert tiny_vm.status_text.startswith("stop: done: stopped (")
    tiny_vm.clean_button.click()
    tiny_vm.runner.wait(120)
    assert tiny_vm.vm_status == "absent"
    assert tiny_vm.times == []
    assert tiny_vm.timeline.spans == {}


# -- every step button on a real debian-12 guest ---------------------------------------------


@pytest.fixture(scope="module")
def debian_view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuildView]:
    with build_cache(tmp_path_factory.mktemp("bv")) as cache:
        view = BuildView.from_example(EXAMPLE, workdir=cache.parent / "projects")
        try:
            yield view
        finally:
            view.runner.wait(1800)
            view.clean()
            view.runner.wait(300)
            shutil.rmtree(cache.parent / "projects", ignore_errors=True)


def press(view: BuildView, step: str, timeout: float = 1800) -> None:
    view.step_buttons[step].click()
    view.runner.wait(timeout)


def wait_for_event(view: BuildView, step: str, timeout: float) -> None:
    """Drain the view's events here until ``step`` of a part has started in the guest."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        view.runner.drain()
        if any(line.startswith(f"{step} hello: run") for line in view.build_log.lines):
            return
        if not view.runner.running:
            pytest.fail(f"{view.status_text}\n" + "\n".join(view.build_log.lines[-20:]))
        time.sleep(0.05)
    pytest.fail(f"{step} never started")


@pytest.mark.slow
def test_pull_starts_the_vm_and_fills_the_timeline(debian_view: BuildView) -> None:
    if debian_view.vm_status == "running":  # an earlier test built: undo it, pull runs again
        debian_view.clean_part("hello")
        debian_view.runner.wait(600)
    press(debian_view, "pull")
    assert debian_view.runner.state == "done", debian_view.status_text
    assert debian_view.status_text.startswith("pull: done: pull done in ")
    assert debian_view.vm_status == "running"
    assert "pull hello" in debian_view.timeline.spans
    spans = debian_view.timeline.spans
    assert spans["pull hello"].state == "done"
    built = spans.get("build hello")  # from an earlier press, if any: this one only pulled
    assert built is None or (built.end or 0) <= spans["pull hello"].start


@pytest.mark.slow
def test_cancelling_a_build_stops_the_guest_runner_and_the_vm_stays_usable(
    debian_view: BuildView,
) -> None:
    if debian_view.vm_status == "running":  # an earlier test built: build runs again
        debian_view.clean_part("hello", "build")
        debian_view.runner.wait(600)
    debian_view.step("build")
    wait_for_event(debian_view, "build", 900)
    debian_view.cancel_button.click()
    debian_view.runner.wait(300)
    assert debian_view.runner.state == "cancelled", debian_view.status_text
    assert "not recorded; the VM stays usable" in debian_view.status_text
    assert debian_view.timeline.spans["build hello"].state == "failed"
    assert guest_output(debian_view, shlex.join(stop_runner_command())) == [""]  # none left
    press(debian_view, "build")
    assert debian_view.runner.state == "done", debian_view.status_text
    assert any(line.startswith("build hello: run") for line in debian_view.build_log.lines)
    assert debian_view.timeline.spans["build hello"].state == "done"


@pytest.mark.slow
def test_stage_prime_pack_then_browse_prime_and_the_snap_yaml(debian_view: BuildView) -> None:
    for step in ("stage", "prime", "pack"):
        press(debian_view, step)
        assert debian_view.runner.state == "done", debian_view.status_text
    assert debian_view.status_text.endswith(": hello-make_1.0_amd64.snap")
    assert {"stage hello", "prime hello", "pack"} <= set(debian_view.timeline.spans)
    assert (debian_view.controller.root / "hello-make_1.0_amd64.snap").is_file()
    assert not (EXAMPLE / "hello-make_1.0_amd64.snap").exists()
    debian_view.browse_button.click()
    debian_view.runner.wait(300)
    assert debian_view.runner.state == "done", debian_view.status_text
    paths = {e.path: e.kind for e in debian_view.browser.entries}
    assert paths["usr/bin/hello"] == "file"
    assert paths["meta/snap.yaml"] == "file"
    assert "name: hello-make" in debian_view.browser.snap_yaml
    assert "usr/bin/hello" in debian_view.browser.listing.value
