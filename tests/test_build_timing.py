"""The per-phase timing summary: gathered from a session's events, shown, sent, never guessed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench.cli.build import terminal_view
from workbench.lifecycle.controller import BuildController
from workbench.lifecycle.events import (
    Done,
    Event,
    HostFinished,
    HostSkipped,
    HostStarted,
    Phase,
    StepFinished,
    Timing,
)
from workbench.lifecycle.options import BuildOptions
from workbench.lifecycle.timing import OTHER, PhaseClock
from workbench.lifecycle.wire import decode, encode
from workbench.widgets.build_view import BuildView

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "build"


def events() -> list[Event]:
    """A warm rebuild's host actions and guest steps, as a session emits them."""
    return [
        Event(HostSkipped(action="base", reason="the VM exists")),
        Event(HostStarted(action="boot", reason="warm start")),
        Event(HostFinished(action="boot", reason="warm start", elapsed=4.0)),
        Event(HostStarted(action="lifecycle", reason="up to pack")),
        Event(StepFinished(step="prepare", action="run", elapsed=1.0)),
        Event(StepFinished(step="build", part="hello", action="run", elapsed=6.5)),
        Event(HostFinished(action="lifecycle", reason="up to pack", elapsed=10.0)),
        Event(HostStarted(action="pack", reason="asked")),
        Event(StepFinished(step="pack", action="mksquashfs", elapsed=2.0)),
        Event(HostFinished(action="pack", reason="asked", elapsed=2.5)),
    ]


def clocked() -> Timing:
    clock = PhaseClock()
    for event in events():
        clock(event)
    return clock.timing(17.0)


def test_each_host_action_is_a_phase_and_its_steps_are_its_parts() -> None:
    timing = clocked()
    assert [(p.name, p.within) for p in timing.phases] == [
        ("boot", None),
        ("lifecycle", None),
        ("prepare", "lifecycle"),
        ("build hello", "lifecycle"),
        (OTHER, "lifecycle"),
        ("pack", None),
        ("pack", "pack"),
        (OTHER, "pack"),
    ]
    assert timing.seconds(OTHER, within="lifecycle") == pytest.approx(2.5)
    assert timing.seconds(OTHER, within="pack") == pytest.approx(0.5)
    assert timing.seconds("boot") == 4.0
    assert timing.phases[0].detail == "warm start"
    assert timing.total == 17.0


def test_a_missing_phase_is_an_error_naming_it_never_zero() -> None:
    timing = clocked()
    with pytest.raises(KeyError, match=r"no phase 'inject'.*boot, lifecycle, pack"):
        timing.seconds("inject")  # planned but skipped: not a phase
    with pytest.raises(KeyError, match="within boot"):
        timing.seconds("prepare", within="boot")


def test_steps_before_a_host_action_started_are_not_counted_twice() -> None:
    clock = PhaseClock()
    clock(Event(StepFinished(step="pull", part="a", action="run", elapsed=1.0)))
    clock(Event(HostStarted(action="boot", reason="cold")))
    clock(Event(HostFinished(action="boot", reason="cold", elapsed=3.0)))
    assert [p.name for p in clock.timing(3.0).phases] == ["boot"]


def test_the_summary_reads_as_a_table_and_one_line() -> None:
    timing = clocked()
    table = timing.table()
    assert table[0] == "timing (total 17.0 s):"
    assert table[1].startswith("  boot ")
    assert table[1].endswith("4.0 s  warm start")
    assert table[3].startswith("    prepare ")
    assert timing.line() == "timing: boot 4.0 s, lifecycle 10.0 s, pack 2.5 s (total 17.0 s)"


def test_a_session_where_nothing_ran_says_so() -> None:
    assert Timing(phases=(), total=1.5).table() == [
        "timing (total 1.5 s):",
        "  nothing ran: every action was done already",
    ]


def test_the_summary_travels_on_the_wire_unchanged() -> None:
    event = Event(clocked(), time=1.5)
    back = decode(encode(event))
    assert back.payload == event.payload
    assert '"kind": "timing"' in encode(event)


def test_the_terminal_shows_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    listen = terminal_view()
    listen(Event(clocked()))
    listen(Event(Done(operation="build", ok=True, elapsed=17.0)))
    err = capsys.readouterr().err
    assert "timing (total 17.0 s):" in err
    assert "build hello" in err
    assert "build succeeded (17.0 s)" in err


def test_a_phase_name_from_the_guest_is_data() -> None:
    hostile = Phase(name="pull \x1b[2Jx", seconds=1.0)
    assert "\x1b" not in Timing(phases=(hostile,), total=1.0).table()[1]


def test_the_build_view_shows_the_phases_under_its_timeline(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES / "c-make", project)
    controller = BuildController(project, BuildOptions(image="tiny"), instances=tmp_path / "vms")
    view = BuildView(controller)
    view._show_build_event(Event(clocked()))
    assert view.timing == clocked()
    shown = view.timing_view.value
    assert "build hello" in shown
    assert "6.5 s" in shown
    assert "17.0 s" in shown
    view._forget(None)
    assert view.timing_view.value == ""
