"""The build-set widget: the plan's entries as rows, filled in as a (fake) set runs, and the last
run's result file shown when the view opens. The real set runs in ``test_build_arm64.py``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from workbench.lifecycle.build_set import EntryOutcome, SetOutcome, SetWatch, write_result
from workbench.lifecycle.events import Event, Notice
from workbench.widgets.set_run_view import SetRunView

EXAMPLE = Path(__file__).parents[1] / "examples" / "architectures" / "build-set"


def fake_run(project: Path, *, entries: Any, watch: SetWatch) -> SetOutcome:
    """Entry 0 passes, entry 1 fails at build (its output carries a terminal escape), entry 2
    is skipped."""
    first, second, third = entries
    watch.on_event(second, Event(Notice(text="gcc: \x1b[31merror\x1b[0m")))
    outcomes = (
        EntryOutcome(
            first,
            "passed",
            61.0,
            "debian-12 (stand-in for Ubuntu 18.04)",
            snap=project / "hello-set_1.0_amd64.snap",
        ),
        EntryOutcome(
            second,
            "failed",
            12.5,
            "debian-12-arm64",
            step="build",
            reason="make: 2",
            log=project / "build.log",
        ),
        EntryOutcome(third, "skipped", reason="no build VM builds on i386"),
    )
    for outcome in outcomes:
        watch.on_outcome(outcome)
    result = SetOutcome(project, outcomes, 80.0)
    write_result(result)
    return result


def test_rows_fill_in_as_the_set_runs_and_the_file_reopens_them(tmp_path: Path) -> None:
    project = tmp_path / "build-set"
    shutil.copytree(EXAMPLE, project)
    view = SetRunView(project, run=fake_run)
    assert view.status_text == "not built yet"
    assert [row[3] for row in view.rows()] == ["not built", "not built", "not built (may fail)"]
    view.build_button.click()
    view.runner.wait(30)
    rows = view.rows()
    assert rows[0][3:6] == ("passed", "", "61.0 s")
    assert rows[0][7].endswith("hello-set_1.0_amd64.snap")
    assert rows[1][3:5] == ("failed", "build")
    assert rows[1][7] == f"make: 2 (log: {project / 'build.log'})"
    assert rows[2][3] == "skipped (ignored)"
    assert view.status_text == "build set failed in 80.0 s"
    assert "\x1b" not in view.log_pane.value
    assert "[entry 1 on arm64] workbench: gcc: error" in view.log_pane.value
    assert "debian-12 (stand-in for Ubuntu 18.04)" in view.table.value
    again = SetRunView(project, run=fake_run)
    assert again.rows() == rows
    assert again.status_text == "last run failed in 80.0 s (hello-set_1.0_build-set.json)"
