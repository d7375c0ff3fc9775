"""workbench.perf and notebook 05's view, with fakes for the VMs and builds (fast; nothing here is
timed: the numbers are made up, only their plumbing is checked)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import UsageError, VmError
from workbench.lifecycle.events import Event, HostFinished, Notice, Phase, Timing
from workbench.lifecycle.options import BuildOptions
from workbench.lifecycle.steps import Step
from workbench.perf import builds, suite, vm_start
from workbench.perf.compare import Comparison, Side, row
from workbench.perf.feedback import Printed
from workbench.perf.suite import Plan, WorkDir, run_plan
from workbench.progress import Progress
from workbench.vm.bases import choose_image
from workbench.vm.images import BootImage
from workbench.widgets import perf_view
from workbench.widgets.perf_chart import caption, chart_png
from workbench.widgets.perf_view import NO_WORK_DIR, PerfView

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Stop(Exception):
    """What the fake feedback raises when told to stop."""


@dataclass
class Recorded:
    """A :class:`~workbench.perf.feedback.Feedback` that records, and stops after ``stop_after``
    checks when given."""

    stop_after: int | None = None
    events: list[Progress] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    items: list[Comparison] = field(default_factory=list)
    checks: int = 0

    def progress(self, event: Progress) -> None:
        self.events.append(event)

    def log(self, line: str) -> None:
        self.lines.append(line)

    def item(self, value: Comparison) -> None:
        self.items.append(value)

    def check(self) -> None:
        self.checks += 1
        if self.stop_after is not None and self.checks > self.stop_after:
            raise Stop


def image(tmp_path: Path) -> BootImage:
    files = [tmp_path / name for name in ("disk", "kernel", "initrd")]
    return BootImage("tiny", "amd64", *files, "", "root", [], "0" * 64)


def comparison(*sides: Side, accel: str = "tcg") -> Comparison:
    return Comparison("VM start: cold boot vs warm start (tiny)", sides, accel, 2)


# -- compare -----------------------------------------------------------------------------------


def test_a_comparison_of_two_sides_has_their_ratio_round_by_round() -> None:
    cold = Side("cold boot", "s", (10.0, 8.0, 9.0))
    warm = Side("warm start", "s", (2.0, 1.0, 3.0))
    both = comparison(cold, warm)
    assert both.rounds == 3
    assert both.ratio is not None
    assert both.ratio.values == (5.0, 8.0, 3.0)
    assert both.where == "TCG, 2 cores, 3 rounds"
    assert both.headline() == (
        "VM start: cold boot vs warm start (tiny): cold boot 9.00 [8.00..10.0] s,"
        " warm start 2.00 [1.00..3.00] s, A/B 5.00x (TCG, 2 cores, 3 rounds)"
    )


def test_a_comparison_of_one_side_has_no_ratio() -> None:
    alone = comparison(Side("9p share", "s", (12.0,)), accel="kvm")
    assert alone.ratio is None
    assert alone.where == "KVM, 2 cores, 1 round"
    assert "A/B" not in alone.headline()


def test_a_table_row_becomes_a_comparison_with_where_it_was_measured() -> None:
    measured = row("9p read", ("512000", [900.0]), ("8192", [30.0]), "MB/s", "note")
    made = Comparison.of_row(measured, accel="tcg", cores=4)
    assert made.sides == (measured.a, measured.b)
    assert (made.title, made.note, made.cores) == ("9p read", "note", 4)


def test_printed_feedback_prints_each_comparison_as_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    feedback = Printed()
    feedback.log("boot: cold")
    feedback.item(comparison(Side("cold boot", "s", (5.0,)), Side("warm start", "s", (1.0,))))
    feedback.check()
    assert capsys.readouterr().out.splitlines() == [
        "boot: cold",
        "VM start: cold boot vs warm start (tiny): cold boot 5.00 s, warm start 1.00 s,"
        " A/B 5.00x (TCG, 2 cores, 1 round)",
    ]


# -- vm_start ----------------------------------------------------------------------------------


class FakeVm:
    def __init__(self, cleaned: list[str]) -> None:
        self.cleaned = cleaned

    def clean(self) -> None:
        self.cleaned.append("vm")


def fake_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[list[str], list[Path]]:
    """Rounds answer 5 s cold, 1 s warm, the reads msize * 1e-3 MB/s; what was cleaned and
    destroyed is recorded."""
    cleaned: list[str] = []
    destroyed: list[Path] = []

    def round_(project: Path, guest: Any, instances: Path) -> tuple[float, float, float, Any]:
        assert (project / vm_start.BIG_FILE).stat().st_size == 2**20
        (instances / "left-behind").mkdir(parents=True, exist_ok=True)
        return 9.0, 5.0, 1.0, FakeVm(cleaned)

    monkeypatch.setattr(vm_start, "workbench_round", round_)
    monkeypatch.setattr(vm_start, "read_mb_per_s", lambda _vm, msize, _mib: msize * 1e-3)
    monkeypatch.setattr(vm_start, "accelerator", lambda _vm: "tcg")
    monkeypatch.setattr(vm_start, "destroy", lambda d: destroyed.append(d.root))
    return cleaned, destroyed


def test_measure_start_takes_cold_warm_and_each_msize_every_round(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cleaned, destroyed = fake_start(monkeypatch, tmp_path)
    feedback = Recorded()
    guest = vm_start.Guest(image(tmp_path), "384M", 1)
    times = vm_start.measure_start(guest, tmp_path / "w", rounds=2, size_mib=1, feedback=feedback)
    assert (times.cold, times.warm, times.accel) == ([5.0, 5.0], [1.0, 1.0], "tcg")
    assert times.reads == {512000: [512.0, 512.0], 8192: [8.192, 8.192]}
    assert cleaned == ["vm", "vm"]
    assert destroyed == [tmp_path / "w" / "instances" / "left-behind"]
    assert [e.done for e in feedback.events] == [0, 1, 2]
    assert feedback.events[-1].finished
    assert guest.label == "tiny, 384M, 1 CPU"


def test_a_cancelled_start_measurement_stops_between_rounds_and_removes_its_vms(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cleaned, destroyed = fake_start(monkeypatch, tmp_path)
    guest = vm_start.Guest(image(tmp_path), "384M", 1)
    with pytest.raises(Stop):
        vm_start.measure_start(
            guest, tmp_path / "w", rounds=3, size_mib=1, feedback=Recorded(stop_after=1)
        )
    assert cleaned == ["vm"]
    assert destroyed == [tmp_path / "w" / "instances" / "left-behind"]


# -- builds ------------------------------------------------------------------------------------


class FakeRun:
    def __init__(self, options: BuildOptions) -> None:
        self.options = options


def test_work_dir_times_alternate_the_places_after_a_first_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[BuildOptions] = []
    wiped: list[BuildOptions] = []

    def timed(
        project: Path, options: BuildOptions, listeners: tuple[Any, ...] = ()
    ) -> tuple[float, Timing, Any]:
        assert len(listeners) == 1
        calls.append(options)
        lifecycle = Phase(name="lifecycle", seconds=3.0 if options.work_on_share else 2.0)
        return 10.0, Timing(phases=(lifecycle,), total=10.0), FakeRun(options)

    monkeypatch.setattr(builds, "timed_session", timed)
    monkeypatch.setattr(builds, "wipe", lambda run: wiped.append(run.options))
    feedback = Recorded()
    times = builds.work_dir_times(Path("p"), rounds=2, places=(False, True), feedback=feedback)
    assert times == {False: [2.0, 2.0], True: [3.0, 3.0]}
    assert [o.work_on_share for o in calls] == [False, False, True, False, True]
    assert {(o.step, o.share_mode) for o in calls} == {(Step.PRIME, "rw")}
    assert wiped == calls[:-1]  # each build's work dir is wiped before the next
    assert feedback.checks == 2

    only = builds.work_dir_times(Path("p"), rounds=1, places=(True,), feedback=Recorded())
    assert only == {True: [3.0]}


def test_the_timing_event_is_kept_and_told_passes_notices_on() -> None:
    said: list[Timing] = []
    timing = Timing(phases=(Phase(name="boot", seconds=4.5),), total=5.0)
    builds.timing_of(said)(Event(HostFinished(action="boot", reason="cold", elapsed=4.5)))
    builds.timing_of(said)(Event(timing))
    assert said == [timing]
    feedback = Recorded()
    builds.told(feedback)(Event(Notice(text="using TCG")))
    assert feedback.lines == ["workbench: using TCG"]


class FakeSession:
    made: list[FakeSession] = []

    def __init__(self, project: Path, options: BuildOptions, *, listeners: Any) -> None:
        self.options = options
        self.instance = type("I", (), {"memory_mib": 2048, "cpus": 2})()
        self.guest = "guest"
        self.image = choose_image("core22", "amd64")
        FakeSession.made.append(self)

    def run(self) -> Any:
        return type("R", (), {"elapsed": 42.0})()


def test_a_first_build_from_the_base_makes_the_base_first_and_one_from_scratch_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bases: list[tuple[str, int, int]] = []
    monkeypatch.setattr(builds, "Session", FakeSession)
    monkeypatch.setattr(
        builds.wheelhouse, "ensure_wheelhouse", lambda guest, arch, python, notify: "house"
    )
    monkeypatch.setattr(
        builds.base_instance,
        "ensure_base",
        lambda image, *, memory_mib, cpus, house, notify: bases.append((image, memory_mib, cpus)),
    )
    FakeSession.made.clear()
    assert builds.first_build_seconds(Path("p"), from_base=False, feedback=Recorded()) == 42.0
    assert bases == []
    assert builds.first_build_seconds(Path("p"), from_base=True, feedback=Recorded()) == 42.0
    assert bases == [("debian-12", 2048, 2)]
    assert [s.options.from_base for s in FakeSession.made] == [False, True]
    assert {(s.options.step, s.options.share_mode) for s in FakeSession.made} == {
        (Step.PRIME, "rw")
    }


# -- suite -------------------------------------------------------------------------------------


@dataclass
class Builds:
    """What the fake builds did."""

    firsts: list[tuple[str, bool]] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)
    work_dirs: list[tuple[str, tuple[bool, ...]]] = field(default_factory=list)


def fake_suite(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Builds:
    done = Builds()

    def measure(guest: Any, workdir: Path, *, rounds: int, size_mib: int, feedback: Any) -> Any:
        times = vm_start.StartTimes(cold=[5.0] * rounds, warm=[1.0] * rounds, accel="tcg")
        for values in times.reads.values():
            values.extend([100.0] * rounds)
        return times

    def copy(example: Path, *, workdir: Path) -> Path:
        return workdir / example.name

    def first(project: Path, *, from_base: bool, feedback: Any) -> float:
        done.firsts.append((project.parent.name, from_base))
        return 20.0 if from_base else 60.0

    def work_dirs(project: Path, *, rounds: int, places: Any, feedback: Any) -> Any:
        done.work_dirs.append((project.parent.name, tuple(places)))
        return {place: [3.0 if place else 2.0] * rounds for place in places}

    monkeypatch.setattr(suite, "ensure_image", lambda _name: image(tmp_path))
    monkeypatch.setattr(suite, "measure_start", measure)
    monkeypatch.setattr(suite, "copy_example", copy)
    monkeypatch.setattr(suite, "first_build_seconds", first)
    monkeypatch.setattr(suite, "work_dir_times", work_dirs)
    monkeypatch.setattr(suite, "clean", lambda project: done.cleaned.append(project.parent.name))
    monkeypatch.setattr(suite, "Instance", lambda project: project)
    monkeypatch.setattr(suite, "accelerator", lambda _vm: "tcg")
    return done


def test_a_whole_run_measures_each_comparison_in_turn_and_cleans_every_project(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    done = fake_suite(monkeypatch, tmp_path)
    feedback = Recorded()
    made = run_plan(Plan(Path("examples/build/c-make"), rounds=2, build_rounds=2), feedback)
    assert made == feedback.items
    assert [[side.label for side in c.sides] for c in made] == [
        ["cold boot", "warm start"],
        ["msize 512000", "msize 8192"],
        ["from scratch", "saved base"],
        ["9p share", "VM disk"],
    ]
    assert [c.sides[0].unit for c in made] == ["s", "MB/s", "s", "s"]
    assert all(c.accel == "tcg" and c.rounds == 2 for c in made)
    assert "cold boot vs warm start (tiny, 384M, 1 CPU)" in made[0].title
    assert "msize 512000 vs 8192" in made[1].title
    assert "from scratch vs from the saved base (debian-12, 2G, 2 CPUs)" in made[2].title
    assert "parts on the 9p share vs the VM disk" in made[3].title
    assert done.firsts == [
        ("scratch-0", False),
        ("base-0", True),
        ("scratch-1", False),
        ("base-1", True),
    ]
    assert done.work_dirs == [("base-1", (False, True))]  # in the last new project's VM
    assert sorted(done.cleaned) == ["base-0", "base-1", "scratch-0", "scratch-1"]


def test_one_work_dir_place_alone_gives_a_one_sided_chart(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    done = fake_suite(monkeypatch, tmp_path)
    plan = Plan(Path("c-make"), start=False, first_build=False, work_dir=WorkDir.SHARE)
    [only] = run_plan(plan, Recorded())
    assert [side.label for side in only.sides] == ["9p share"]
    assert only.ratio is None
    assert "parts on the 9p share only" in only.title
    assert done.firsts == []
    assert done.work_dirs == [("work-dir", (True,))]
    assert done.cleaned == ["work-dir"]


def test_a_plan_needs_a_round_and_work_dir_choices_name_their_places() -> None:
    with pytest.raises(UsageError, match="at least one round"):
        Plan(Path("c-make"), rounds=0)
    assert Plan(Path("c-make"), first_build=False, work_dir=None).builds is False
    assert [place.places for place in WorkDir] == [(False, True), (False,), (True,)]


# -- the chart and the view --------------------------------------------------------------------


def test_the_chart_is_a_png_and_its_caption_says_what_and_where() -> None:
    cold = Side("cold boot", "s", (10.0, 8.0))
    measured = comparison(cold, Side("warm start", "s", (2.0, 1.0)))
    assert chart_png(measured).startswith(PNG_MAGIC)
    assert caption(measured).split("\n") == [
        "VM start: cold boot vs warm start (tiny)",
        "cold boot: 9.00 s [8.00..10.0]; warm start: 1.50 s [1.00..2.00]; A/B 6.50x",
        "measured on TCG (accelerator), 2 cores, 2 rounds",
    ]
    assert chart_png(comparison(cold)).startswith(PNG_MAGIC)


def fake_run_plan(plan: Plan, feedback: Any) -> list[Comparison]:
    feedback.log(f"rounds {plan.rounds}")
    feedback.progress(Progress("VM start", 1, 1, finished=True))
    made = [comparison(Side("cold boot", "s", (5.0,)), Side("warm start", "s", (1.0,)))]
    for each in made:
        feedback.item(each)
    return made


def test_the_view_measures_in_the_background_and_draws_a_chart_per_comparison(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(perf_view, "run_plan", fake_run_plan)
    view = PerfView(Plan(Path("c-make"), rounds=1))
    view.run()
    view.runner.wait(30)
    assert view.runner.state == "done"
    assert view.log_pane.lines == ["rounds 1"]
    assert view.progress.bar.bar_style == "success"
    [chart] = view.charts.children
    caption_html, image_html = (child.value for child in chart.children)
    assert "measured on TCG (accelerator), 2 cores, 1 round" in caption_html
    assert 'src="data:image/png;base64,' in image_html
    assert view.summary().splitlines() == [
        "done: 1 comparisons measured",
        "VM start: cold boot vs warm start (tiny): cold boot 5.00 s, warm start 1.00 s,"
        " A/B 5.00x (TCG, 2 cores, 1 round)",
    ]
    view.run()  # a second run replaces the charts
    view.runner.wait(30)
    assert len(view.charts.children) == 1


def test_the_controls_make_the_plan() -> None:
    view = PerfView("c-make")
    assert view.plan() == Plan(Path("c-make"))
    view.rounds.value = 2
    view.start.value = False
    view.work_dir.value = WorkDir.SHARE.value
    assert view.plan() == Plan(Path("c-make"), rounds=2, start=False, work_dir=WorkDir.SHARE)
    view.work_dir.value = NO_WORK_DIR
    assert view.plan().work_dir is None


def test_a_failed_measurement_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(plan: Plan, feedback: Any) -> list[Comparison]:
        raise VmError("qemu exited with status 1")

    monkeypatch.setattr(perf_view, "run_plan", failing)
    view = PerfView("c-make")
    view.run()
    view.runner.wait(30)
    assert view.runner.state == "failed"
    assert view.status_text.startswith("failed: 0 comparisons measured (")
    assert "qemu exited with status 1" in view.status_text
    assert view.charts.children == ()
