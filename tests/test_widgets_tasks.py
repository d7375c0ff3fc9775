"""The background runner: workers only queue events; listeners run on the draining thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from workbench.errors import UsageError, VmError
from workbench.progress import Progress
from workbench.widgets.log import LogPane
from workbench.widgets.progress_view import ProgressView
from workbench.widgets.tasks import EventKind, Finished, Reporter, State, TaskEvent, TaskRunner
from workbench.widgets.timeline import Span, Timeline


def counting(n: int) -> Callable[[Reporter], int]:
    def job(reporter: Reporter) -> int:
        for i in range(n):
            reporter.log(f"line {i}")
            reporter.progress(Progress("count", i + 1, n))
        return n

    return job


def test_events_reach_listeners_on_the_draining_thread_only() -> None:
    runner = TaskRunner()
    seen: list[tuple[str, str]] = []
    runner.on_event(lambda e: seen.append((e.kind, threading.current_thread().name)))
    runner.start("count", counting(3))
    runner.wait(10)
    assert [kind for kind, _ in seen] == ["log", "progress"] * 3 + ["finished"]
    assert {thread for _, thread in seen} == {threading.current_thread().name}
    assert (runner.state, runner.result, runner.message) == ("done", 3, "done")


def test_nothing_reaches_a_listener_before_a_drain() -> None:
    runner = TaskRunner()
    seen: list[TaskEvent] = []
    runner.on_event(seen.append)
    runner.start("count", counting(2))
    time.sleep(0.2)  # the worker has finished; without a loop nothing was dispatched
    assert seen == []
    assert runner.state == "running"
    runner.drain()
    assert runner.state == "done"
    assert len(seen) == 5
    assert seen[-1] == TaskEvent(EventKind.FINISHED, Finished(State.DONE, 2, "done"))
    assert runner.state is State.DONE


def test_a_running_event_loop_drains_on_its_own_thread() -> None:
    async def main() -> tuple[list[str], str]:
        runner = TaskRunner()
        threads: list[str] = []
        runner.on_event(lambda _e: threads.append(threading.current_thread().name))
        runner.start("count", counting(2))
        for _ in range(200):
            if runner.state != "running":
                break
            await asyncio.sleep(0.01)
        return threads, runner.state

    threads, state = asyncio.run(main())
    assert state == "done"
    assert set(threads) == {threading.current_thread().name}
    assert len(threads) == 5


def test_cancel_stops_the_worker_at_its_next_check() -> None:
    started = threading.Event()

    def job(reporter: Reporter) -> None:
        started.set()
        while True:
            reporter.check()
            time.sleep(0.01)

    runner = TaskRunner()
    runner.start("spin", job)
    assert started.wait(5)
    runner.cancel()
    runner.wait(5)
    assert (runner.state, runner.message) == ("cancelled", "cancelled")


def test_a_workbench_error_fails_the_task_with_its_line() -> None:
    def job(_reporter: Reporter) -> None:
        raise VmError("qemu did not start", hint="see serial.log")

    runner = TaskRunner()
    runner.start("boot", job)
    runner.wait(5)
    assert runner.state == "failed"
    assert runner.message == "error: qemu did not start (see serial.log)"


def test_a_worker_bug_still_ends_the_task() -> None:
    def job(_reporter: Reporter) -> None:
        raise KeyError("oops")

    runner = TaskRunner()
    runner.start("bug", job)
    runner.wait(5)
    assert (runner.state, runner.message) == ("failed", "KeyError: 'oops'")


def test_one_task_at_a_time() -> None:
    release = threading.Event()
    runner = TaskRunner()
    runner.start("wait", lambda _r: release.wait(5))
    with pytest.raises(UsageError, match="still running"):
        runner.start("again", lambda _r: None)
    release.set()
    runner.wait(5)
    runner.start("again", lambda _r: "second")
    runner.wait(5)
    assert runner.result == "second"


def test_wait_with_a_deadline_raises_while_the_task_runs() -> None:
    release = threading.Event()
    runner = TaskRunner()
    runner.start("slow", lambda _r: release.wait(5))
    with pytest.raises(UsageError, match="did not finish"):
        runner.wait(0.05)
    release.set()
    runner.wait(5)
    assert runner.state == "done"


def test_log_progress_and_timeline_views_follow_a_task() -> None:
    log, bar, timeline = LogPane(max_lines=2), ProgressView(), Timeline()
    runner = TaskRunner()

    def show(event: TaskEvent) -> None:
        if event.kind == "log":
            log.append(event.payload)
        elif event.kind == "progress":
            bar.update(event.payload)
        elif event.kind == "item":
            timeline.update(event.payload)

    def job(reporter: Reporter) -> None:
        counting(3)(reporter)
        reporter.item(Span("count", 0.0, 0.5, "done"))

    runner.on_event(show)
    runner.start("count", job)
    runner.wait(5)
    assert log.lines == ["line 1", "line 2"]
    assert "line 0" not in log.value
    assert (bar.bar.value, bar.bar.max) == (3.0, 3.0)
    assert bar.label.value == "count: 3/3 it"
    assert 'data-state="done"' in timeline.value
    log.clear()
    timeline.clear()
    assert (log.value, log.lines, timeline.value) == ("", [], "")


def test_progress_without_total_is_indeterminate_until_finished() -> None:
    bar = ProgressView()
    bar.update(Progress("boot", 5))
    assert bar.bar.value == 0.0
    bar.update(Progress("boot", 9, finished=True))
    assert (bar.bar.value, bar.bar.bar_style) == (1.0, "success")
