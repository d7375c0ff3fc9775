"""The pure helpers behind the widgets: colours, listings, lines, diffs, timelines."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_widgets_explode import PROJECT  # the sample project the widget tests share

import workbench
from workbench.errors import Location, SourceError
from workbench.progress import Progress
from workbench.widgets import ExplodeView
from workbench.widgets.diff import diff_rows, render_diff
from workbench.widgets.editor import annotate, error_line
from workbench.widgets.progress_view import describe
from workbench.widgets.provenance import (
    exploded_lines,
    origin_counts,
    render_exploded,
    scalar,
    summary,
)
from workbench.widgets.style import PROJECT_COLOUR, TEMPLATE_COLOURS, esc, palette
from workbench.widgets.timeline import Span, render_timeline


@pytest.fixture(scope="module")
def exploded() -> workbench.Exploded:
    return workbench.explode(PROJECT)


def test_palette_is_stable_per_template_and_distinct() -> None:
    one = palette(["gtk3"])
    two = palette(["gnome", "gtk3", "kde-neon", "ros1", "flutter"])
    assert one["project"] == PROJECT_COLOUR
    assert one["template gtk3"] == two["template gtk3"]
    assert len(set(two.values())) == 6  # the built-ins all differ, and differ from the project
    assert set(two.values()) - {PROJECT_COLOUR} <= set(TEMPLATE_COLOURS)


def test_palette_gives_every_template_its_own_colour_while_colours_last() -> None:
    names = [f"t{i}" for i in range(len(TEMPLATE_COLOURS))]
    colours = palette(names)
    assert len({colours[f"template {n}"] for n in names}) == len(TEMPLATE_COLOURS)


def test_esc_escapes_markup() -> None:
    assert esc('<b a="1">') == "&lt;b a=&quot;1&quot;&gt;"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("plain", "plain"),
        ("0", '"0"'),
        ("yes", '"yes"'),
        ("", '""'),
        ("a: b", '"a: b"'),
        ("- x", '"- x"'),
        ("-DX=1", "-DX=1"),
        ("-", '"-"'),
        ("https://example.com/x.git", "https://example.com/x.git"),
        (3, "3"),
        (None, "null"),
        (True, "true"),
    ],
)
def test_scalar_quotes_only_what_yaml_would_misread(value: object, shown: str) -> None:
    assert scalar(value) == shown


def test_exploded_lines_carry_origins_in_document_order(exploded: workbench.Exploded) -> None:
    lines = exploded_lines(exploded)
    by_path = {line.path: line for line in lines if not line.struck}
    assert lines[0].text == "name: hello"
    assert by_path["name"].origin == "project"
    assert by_path["apps.hello.plugs[0]"].origin == "template gtk3"
    assert by_path["apps.hello.plugs[0]"].where.startswith("gtk3.yaml:")
    assert by_path["apps.hello.plugs[5]"].text == "- home"
    assert by_path["apps.hello.plugs[5]"].origin == "project"
    assert by_path["parts.gtk3/launcher"].depth == 1


def test_short_container_items_stay_on_their_dash_line() -> None:
    project = PROJECT.replace(
        "    plugin: make\n",
        "    plugin: make\n    build-packages:\n      - on arm64: [libomp-dev]\n      - gcc\n",
    )
    lines = {line.path: line for line in exploded_lines(workbench.explode(project))}
    assert lines["parts.hello.build-packages[0]"].text == "- {on arm64: [libomp-dev]}"
    assert "parts.hello.build-packages[0].on arm64" not in lines
    assert lines["parts.hello.build-packages[1]"].text == "- gcc"


def test_overridden_value_follows_the_winner_struck_through(exploded: workbench.Exploded) -> None:
    lines = exploded_lines(exploded)
    index = next(i for i, line in enumerate(lines) if line.path == "environment.GTK_USE_PORTAL")
    winner, struck = lines[index], lines[index + 1]
    assert (winner.text, winner.struck) == ('GTK_USE_PORTAL: "0"', False)
    assert struck.struck
    assert struck.text == 'GTK_USE_PORTAL: "1"'
    assert struck.origin == "template gtk3"
    assert struck.note == "overridden by project"


def test_render_exploded_colours_each_line_by_origin(exploded: workbench.Exploded) -> None:
    html = render_exploded(exploded)
    colours = palette(["gtk3"])
    assert 'data-origin="template gtk3" title="template gtk3 (gtk3.yaml:' in html
    assert f"background:{colours['template gtk3']}" in html
    assert f"background:{PROJECT_COLOUR}" in html
    assert "<s>  GTK_USE_PORTAL: &quot;1&quot;</s>" in html


def test_summary_counts_origins_and_lists_overrides(exploded: workbench.Exploded) -> None:
    counts = origin_counts(exploded)
    assert counts["project"] + counts["template gtk3"] == len(exploded.origins)
    text = summary(exploded)
    assert text.splitlines()[0] == "templates applied: gtk3"
    assert 'override at environment.GTK_USE_PORTAL: "1" from template gtk3 lost to "0"' in text


def test_annotate_puts_the_error_under_its_line_with_a_caret() -> None:
    err = SourceError("bad", hint="fix", location=Location("p.yaml", 2, 3))
    html = annotate("a: 1\nb: [\nc: 3\n", err, file="p.yaml")
    assert 'class="wb-line wb-err" data-line="2"' in html
    after = html.split('data-line="2"', 1)[1]
    assert after.index('data-error-line="2"') < after.index('data-line="3"')
    assert "  ^ p.yaml:2:3: error: bad (fix)" in html


def test_annotate_shows_errors_of_other_files_above_the_text() -> None:
    err = SourceError("bad", location=Location("other.yaml", 1, 1))
    assert error_line(err, "p.yaml") is None
    html = annotate("a: 1\n", err, file="p.yaml")
    assert html.index("other.yaml:1:1: error: bad") < html.index('data-line="1"')
    assert "data-error-line" not in html


def test_annotate_clamps_a_line_past_the_end() -> None:
    err = SourceError("eof", location=Location("p.yaml", 9, 1))
    assert 'data-error-line="1"' in annotate("a: 1", err, file="p.yaml")


def test_diff_rows_mark_kept_removed_and_added_lines() -> None:
    rows = diff_rows("a\nb\nc\n", "a\nB\nc\nd\n")
    assert [(r.kind, r.text) for r in rows] == [
        ("same", "a"),
        ("removed", "b"),
        ("added", "B"),
        ("same", "c"),
        ("added", "d"),
    ]
    assert (rows[2].old, rows[2].new) == (None, 2)
    assert "2 lines added, 1 removed" in render_diff("a\nb\nc\n", "a\nB\nc\nd\n")


def test_timeline_places_spans_on_one_axis() -> None:
    html = render_timeline([Span("a", 0.0, 1.0, "done"), Span("b", 1.0, 2.0, "failed")])
    assert "margin-left:0.0%;width:50.0%" in html
    assert "margin-left:50.0%;width:50.0%" in html
    assert 'data-state="failed"' in html
    assert "1000 ms" in html
    assert render_timeline([]) == ""


def test_describe_progress_with_and_without_total() -> None:
    assert describe(Progress("apply", 3, 8, "x", "projects")) == "apply: 3/8 projects (x)"
    assert describe(Progress("boot", 2, None, finished=True)) == "boot: 2 it - finished"


def test_the_sample_file_is_never_written(tmp_path: Path) -> None:
    project = tmp_path / "snapcraft.yaml"
    project.write_text(PROJECT)

    view = ExplodeView.from_path(tmp_path)
    view.editor.value = PROJECT.replace("[gtk3]", "[gnome]")
    view.strict.value = True
    assert project.read_text() == PROJECT
    assert view.editor.file == str(project)
