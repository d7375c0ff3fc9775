"""Live template authoring without a browser: the debouncer on a fake clock, the live preview
driven through its Python API (keystrokes are value changes, the pause is the clock firing)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from workbench.templates import explode
from workbench.widgets import LiveAuthoringView
from workbench.widgets.debounce import Debouncer
from workbench.widgets.live_preview import PROJECT, TEMPLATE, changed_lines, render_changes


@dataclass
class FakeCall:
    delay: float
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A ``Schedule`` whose calls happen only when :meth:`pause` says the typing paused."""

    def __init__(self) -> None:
        self.calls: list[FakeCall] = []

    def schedule(self, delay: float, callback: Callable[[], None]) -> FakeCall:
        call = FakeCall(delay, callback)
        self.calls.append(call)
        return call

    def pause(self) -> None:
        due, self.calls = [c for c in self.calls if not c.cancelled], []
        for call in due:
            call.callback()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def live(clock: FakeClock) -> LiveAuthoringView:
    return LiveAuthoringView(schedule=clock.schedule)


def type_into(editor_value: str, typed: str) -> list[str]:
    """The successive values of an editor while ``typed`` is typed at its end."""
    return [editor_value + typed[:n] for n in range(1, len(typed) + 1)]


def test_a_burst_of_triggers_runs_the_action_once_after_the_pause(clock: FakeClock) -> None:
    ran: list[int] = []
    debouncer = Debouncer(lambda: ran.append(1), 0.25, schedule=clock.schedule)
    for _ in range(5):
        debouncer.trigger()
    assert debouncer.pending
    assert ran == []
    assert [c.cancelled for c in clock.calls] == [True, True, True, True, False]
    assert {c.delay for c in clock.calls} == {0.25}
    clock.pause()
    assert (ran, debouncer.runs, debouncer.pending) == ([1], 1, False)


def test_flush_runs_a_pending_action_now_and_only_once(clock: FakeClock) -> None:
    ran: list[int] = []
    debouncer = Debouncer(lambda: ran.append(1), schedule=clock.schedule)
    assert debouncer.flush() is False
    debouncer.trigger()
    assert debouncer.flush() is True
    assert ran == [1]
    clock.pause()  # the scheduled call was called off
    assert ran == [1]
    assert not debouncer.pending


def test_cancel_forgets_the_pending_action(clock: FakeClock) -> None:
    ran: list[int] = []
    debouncer = Debouncer(lambda: ran.append(1), schedule=clock.schedule)
    debouncer.trigger()
    debouncer.cancel()
    clock.pause()
    assert (ran, debouncer.runs, debouncer.pending) == ([], 0, False)


def test_without_an_event_loop_the_action_runs_at_once() -> None:
    ran: list[int] = []
    debouncer = Debouncer(lambda: ran.append(1))
    debouncer.trigger()
    debouncer.trigger()
    assert (ran, debouncer.runs, debouncer.pending) == ([1, 1], 2, False)


def test_on_a_running_loop_the_burst_runs_once_when_the_loop_is_free() -> None:
    async def burst() -> int:
        done = asyncio.Event()
        debouncer = Debouncer(done.set, 0.01)
        for _ in range(4):
            debouncer.trigger()  # no await in between: one burst
        assert debouncer.pending
        await done.wait()
        return debouncer.runs

    assert asyncio.run(burst()) == 1


def test_the_preview_waits_for_the_typing_to_pause(
    live: LiveAuthoringView, clock: FakeClock
) -> None:
    before = live.preview.value
    assert "environment" not in before
    for value in type_into(live.template.value, "    environment:\n      LANG: C.UTF-8\n"):
        live.template.value = value
    assert live.debouncer.runs == 0  # the first render was not a keystroke's
    assert live.preview.value == before
    clock.pause()
    assert live.debouncer.runs == 1
    assert 'data-path="apps.fetcher.environment.LANG"' in live.preview.value
    assert 'data-origin="template net-tools"' in live.preview.value
    assert live.changes == [
        "+     environment:  [template net-tools]",
        "+       LANG: C.UTF-8  [template net-tools]",
    ]
    assert "LANG: C.UTF-8" in live.changes_view.value


def test_the_starting_project_declines_a_plug_shown_struck(live: LiveAuthoringView) -> None:
    assert live.summary() == "exploded: 4 values from net-tools, 1 declined, 0 overrides"
    assert 'class="wb-line wb-struck wb-declined"' in live.preview.value
    assert "apps.fetcher.plugs: network-bind</s>" in live.preview.value
    assert "declined by the project (snapcraft.yaml:12:19)" in live.preview.value
    assert live.changes == []
    assert "changed nothing" in live.changes_view.value


def test_declining_in_the_project_moves_a_value_to_the_declined_lines(
    live: LiveAuthoringView, clock: FakeClock
) -> None:
    live.template.value = TEMPLATE.replace("network-bind]", "network-bind, home]")
    live.flush()
    assert live.changes == ["+       - home  [template net-tools]"]
    live.project.value = PROJECT.replace("[plugs.network-bind]", "[plugs.network-bind, plugs.home]")
    live.flush()
    assert live.changes == [
        "+       apps.fetcher.plugs: home  [template net-tools] \u2190 declined by the project "
        "(snapcraft.yaml:12:39)",
        "-       - home  [template net-tools]",
    ]
    assert [d.value for d in live.result.declined] == ["network-bind", "home"]
    assert all(c.cancelled for c in clock.calls)  # flushed: nothing left to run


def test_a_template_error_shows_at_its_line_and_keeps_the_last_good_result(
    live: LiveAuthoringView,
) -> None:
    good, before = live.result, live.preview.value
    live.template.value = TEMPLATE.replace("bases: [core22, core24]", "bases: core22")
    live.flush()
    assert str(live.error) == (
        "net-tools.yaml:3:3: error: template net-tools: bases must be a list of names "
        "(write bases: [name, ...])"
    )
    assert 'data-error-line="3"' in live.template.listing.value
    assert live.project.error is None
    assert (live.result, live.preview.value) == (good, before)
    assert "wb-stale" in live.preview._dom_classes
    assert live.summary().splitlines()[1] == (
        "the preview still shows the last good result "
        "(exploded: 4 values from net-tools, 1 declined, 0 overrides)"
    )
    live.template.value = TEMPLATE
    live.flush()
    assert live.error is None
    assert live.template.listing.value == ""
    assert "wb-stale" not in live.preview._dom_classes


def test_declining_what_the_template_lacks_is_shown_in_the_project_editor(
    live: LiveAuthoringView,
) -> None:
    live.project.value = PROJECT.replace("plugs.network-bind", "plugs.network-bnd")
    live.flush()
    assert live.error.location.line == 12
    assert "template net-tools has no 'network-bnd' at plugs" in str(live.error)
    assert 'data-error-line="12"' in live.project.listing.value
    assert live.template.error is None
    assert "wb-stale" in live.preview._dom_classes


def test_text_from_the_editors_is_escaped(live: LiveAuthoringView) -> None:
    live.template.value = TEMPLATE + "    environment:\n      X: <b>bold</b>\n"
    live.flush()
    assert "<b>bold</b>" not in live.preview.value + live.changes_view.value
    assert "&lt;b&gt;bold&lt;/b&gt;" in live.changes_view.value


def test_changed_lines_of_equal_results_are_empty() -> None:
    result = explode(PROJECT.replace("templates: [net-tools]\n", "").split("    decline:")[0])
    assert changed_lines(result, result) == []
    assert "changed nothing" in render_changes([])
