"""The architectures explorer and its pieces, driven through their Python API."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.architectures import DIALECTS, KNOWN_ARCHS, RULES, load, parse, plan
from workbench.errors import UsageError
from workbench.widgets import ArchitecturesView
from workbench.widgets.arch_grid import ArchGrid, entry_label, grid_rows, render_grid
from workbench.widgets.architectures_view import read_examples
from workbench.widgets.build_set import BuildSetView, arch_order
from workbench.widgets.convert_view import ConvertView, conversion_html
from workbench.widgets.dialects_view import (
    DialectRow,
    DialectsView,
    compare_dialects,
    shorthand_meanings,
)
from workbench.widgets.outcome_view import OutcomeView
from workbench.yamlpos import load_file

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "architectures"


@pytest.fixture
def view() -> ArchitecturesView:
    return ArchitecturesView.from_dir(EXAMPLES, selected="example-4.yaml")


def test_the_seven_examples_and_their_variants_are_preloaded(view: ArchitecturesView) -> None:
    names = list(view.example.options)
    assert [f"example-{i}.yaml" for i in range(1, 8)] == [n for n in names if n.count("-") == 1]
    assert len(names) == 10
    assert list(read_examples(EXAMPLES)) == names
    assert view.example.value == "example-4.yaml"


def test_grid_rows_are_the_builders_claims() -> None:
    stanza = load(EXAMPLES / "example-1.yaml")
    rows = {row.host: row for row in grid_rows(stanza)}
    assert set(rows) == set(KNOWN_ARCHS)
    assert (rows["i386"].entry, rows["i386"].architectures) == (0, ("amd64", "i386"))
    assert (rows["amd64"].entry, rows["amd64"].architectures) == (None, ("amd64",))


def test_grid_draws_one_column_per_entry_plus_the_no_entry_column() -> None:
    stanza = load(EXAMPLES / "example-4.yaml")
    html = render_grid(stanza)
    assert html.count("<th>entry ") == 3
    assert 'data-host="armhf" data-entry="2"' in html
    assert 'data-host="arm64" data-entry="none"' in html
    label = entry_label(stanza.entries[2])
    assert label == "entry 2: build-on armhf \u2192 run-on armhf (optional)"
    grid = ArchGrid()
    grid.show(stanza)
    assert grid.value == html
    grid.show(None)
    assert grid.value == ""


def test_build_set_defaults_to_the_bases_supported_archs() -> None:
    view = BuildSetView()
    view.stanza = load(EXAMPLES / "example-4.yaml")
    assert view.checked() == ["amd64", "arm64", "armhf", "i386", "ppc64el", "s390x"]
    assert [b.build_on for b in view.build_set.builds] == ["amd64", "i386", "armhf"]
    assert arch_order("core18")[-1] == "riscv64"


def test_unticking_an_arch_drops_its_entry() -> None:
    view = BuildSetView()
    view.stanza = load(EXAMPLES / "example-4.yaml")
    view.supported["armhf"].value = False
    assert [b.build_on for b in view.build_set.builds] == ["amd64", "i386"]
    assert "dropped optional entry 2" in view.builds.value


def test_queue_sliders_choose_the_least_loaded_candidate() -> None:
    view = BuildSetView()
    view.stanza = load(EXAMPLES / "example-5.yaml")
    assert view.build_set.builds[0].build_on == "amd64"
    view.queue["amd64"].value = 3
    assert view.build_set.builds[0].build_on == "i386"
    assert "least loaded of amd64 (3), i386 (0)" in view.builds.value


def test_no_supported_arch_is_an_error_shown_in_place() -> None:
    view = BuildSetView()
    view.stanza = load(EXAMPLES / "example-3.yaml")
    for box in view.supported.values():
        box.value = False
    assert view.build_set is None
    assert "the supported architecture list is empty" in view.builds.value


def test_outcome_toggles_change_the_sets_verdict() -> None:
    view = OutcomeView()
    view.build_set = plan(load(EXAMPLES / "example-4.yaml"))
    assert list(view.toggles) == ["amd64", "i386", "armhf"]
    assert view.verdict == "released"
    view.set_result("armhf", "failure")
    assert view.verdict == "released"
    assert view.outcome.released == ("amd64", "i386")
    view.toggles["i386"].value = "failure"
    assert view.verdict == "failed"
    assert 'data-verdict="failed"' in view.result.value
    assert "required build on i386 failed" in view.result.value


def test_outcome_keeps_results_of_builds_that_stay_in_the_set() -> None:
    view = OutcomeView()
    stanza = load(EXAMPLES / "example-4.yaml")
    view.build_set = plan(stanza)
    view.set_result("i386", "failure")
    view.build_set = plan(stanza, supported=["amd64", "i386"])
    assert view.toggles["i386"].value == "failure"
    assert view.verdict == "failed"
    view.build_set = None
    assert (view.verdict, view.result.value) == ("", "")


def test_dialects_answer_the_same_questions_side_by_side() -> None:
    rows = {r.label: r for r in compare_dialects(load_file(EXAMPLES / "example-4.yaml"), ["i386"])}
    assert list(DIALECTS) == ["proposal", "snapcraft", "launchpad"]
    assert rows["stanza"].cells[0] == "accepted"
    assert rows["stanza"].cells[1].startswith("rejected: snapcraft 4.x rejects 'build-error'")
    assert rows["built on i386, claims"].cells == ("i386", "rejected", "n/a")
    failing = ("failed: nothing", "rejected", "released: i386, armhf")
    assert rows["first build fails"].cells == failing
    assert rows["first build fails"].differs


def test_a_row_differs_only_between_dialects_that_answer() -> None:
    assert not DialectRow("x", ("a", "n/a", "a")).differs
    assert DialectRow("x", ("a", "n/a", "b")).differs


def test_dialects_view_highlights_differences_and_the_rules() -> None:
    view = DialectsView()
    view.show(load_file(EXAMPLES / "example-7.yaml"), ["amd64"])
    assert view.rows[0].cells[2] == "accepted"  # Launchpad accepts the proposal's error case
    assert 'data-differs="true"' in view.value
    assert view.value.count("<th>D") == len(RULES)
    view.show(None)
    assert (view.value, view.rows) == ("", [])


def test_conversion_shows_both_targets_and_the_round_trip() -> None:
    pane = ConvertView()
    pane.show(load(EXAMPLES / "example-3.yaml"))
    assert "architectures:" in pane.panes["core22"].value
    assert "platforms:" in pane.panes["core24"].value
    assert "round trip: same snaps" in pane.panes["core24"].value
    assert "no exact equivalent" in conversion_html(load(EXAMPLES / "example-1.yaml"), "core22")


def test_the_app_wires_build_set_to_outcome(view: ArchitecturesView) -> None:
    assert view.outcome.verdict == "released"
    view.outcome.set_result("amd64", "failure")
    assert view.outcome.verdict == "failed"
    view.build_set.supported["amd64"].value = False
    assert "amd64" not in view.outcome.toggles
    assert view.outcome.verdict == "failed"  # a required entry cannot be built any more


def test_editing_the_stanza_updates_every_view(view: ArchitecturesView) -> None:
    view.editor.value = view.editor.value.replace("build-on: armhf", "build-on: arm64")
    assert 'data-host="arm64" data-entry="2"' in view.grid.value
    assert "arm64" in view.outcome.toggles
    assert view.stanza.entries[2].build_on == ("arm64",)
    assert view.stanza != parse(load_file(EXAMPLES / "example-4.yaml"))


def test_the_error_case_is_inline_and_the_dialects_still_compare(view: ArchitecturesView) -> None:
    view.example.value = "example-7.yaml"
    assert view.stanza is None
    assert view.error.location.line == 11
    assert 'data-error-line="11"' in view.editor.listing.value
    assert view.grid.value == ""
    assert view.build_set.build_set is None
    assert view.dialects.rows[0].cells[2] == "accepted"


def test_edits_are_kept_per_example(view: ArchitecturesView) -> None:
    edited = view.editor.value.replace("run-on: armhf", "run-on: [armhf]")
    view.editor.value = edited
    view.example.value = "example-1.yaml"
    assert view.editor.file == "example-1.yaml"
    view.example.value = "example-4.yaml"
    assert view.editor.value == edited


def test_an_empty_set_of_examples_is_refused() -> None:
    with pytest.raises(UsageError, match="no examples to show"):
        ArchitecturesView({})


def test_a_list_of_names_shows_its_2018_meaning_next_to_todays() -> None:
    document = load_file(EXAMPLES / "example-6.yaml")  # architectures: [amd64, i386]
    eras = {m.era.split(":")[0]: m for m in shorthand_meanings(document)}
    proposal = eras["2018 proposal, snapcraft 3/4 (core20 and older)"]
    assert proposal.entries == "build-on: [amd64, i386], run-on: [amd64, i386]"
    assert proposal.snaps == "one snap, built on one of amd64, i386, claims amd64, i386"
    assert eras["before the 2018 proposal"].entries == "build-on: all, run-on: [amd64, i386]"
    assert eras["core22 today"].snaps == "on amd64 for amd64, on i386 for i386"
    view = DialectsView()
    view.show(document, ["amd64"])
    assert view.value.count('class="wb-shorthand-row"') == 3
    assert "build-on equals run-on" in view.value
    view.show(load_file(EXAMPLES / "example-4.yaml"))
    assert view.meanings == []
    assert "wb-shorthand" not in view.value
