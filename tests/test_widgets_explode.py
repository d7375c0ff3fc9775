"""The explode explorer driven through its Python API: set values, click, read what is shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.widgets import ExplodeView
from workbench.widgets.explode_view import overrides_table, with_templates
from workbench.widgets.style import palette
from workbench.yamlpos import load_text

PROJECT = """\
name: hello
base: core20
confinement: strict
apps:
  hello:
    command: bin/hello
    templates: [gtk3]
    plugs: [home]
parts:
  hello:
    plugin: make
    stage-packages:
      - on amd64: [libfoo]
      - else: [libbar]
environment:
  GTK_USE_PORTAL: "0"
"""

EXTRA = """\
template:
  summary: An extra template from a folder
  bases: [core20]
apps:
  "*":
    plugs: [network]
"""


@pytest.fixture
def view() -> ExplodeView:
    return ExplodeView(PROJECT, file="snapcraft.yaml")


def colours_shown(view: ExplodeView) -> set[str]:
    return {c for label, c in palette(view.result.templates).items() if c in view.exploded.value}


def test_the_first_view_shows_the_exploded_project_with_provenance(view: ExplodeView) -> None:
    assert view.error is None
    assert view.result.templates == ("gtk3",)
    assert 'data-origin="template gtk3"' in view.exploded.value
    assert 'data-origin="project"' in view.exploded.value
    assert "exploded" in view.status.value
    assert view.editor.listing.value == ""


def test_editing_the_yaml_changes_the_exploded_view_and_its_colours(view: ExplodeView) -> None:
    before = colours_shown(view)
    view.editor.value = PROJECT.replace("[gtk3]", "[]")
    assert view.result.templates == ()
    assert 'data-origin="template gtk3"' not in view.exploded.value
    assert colours_shown(view) == {palette([])["project"]}
    assert colours_shown(view) != before


def test_overrides_are_struck_through_with_the_winner(view: ExplodeView) -> None:
    assert "<s>  GTK_USE_PORTAL: &quot;1&quot;</s>  \u2190 overridden by project" in (
        view.exploded.value
    )
    assert "environment.GTK_USE_PORTAL" in view.overrides.value
    assert "no overrides" in overrides_table(
        ExplodeView(PROJECT.replace('  GTK_USE_PORTAL: "0"\n', "  OTHER: x\n")).result
    )


def test_the_diff_view_shows_what_explode_added(view: ExplodeView) -> None:
    assert "wb-diff-added" in view.diff.value
    assert "gtk3/launcher:" in view.diff.value
    assert "wb-diff-removed" in view.diff.value  # the templates: line is gone


def test_errors_are_shown_inline_at_their_line(view: ExplodeView) -> None:
    view.editor.value = PROJECT.replace("[gtk3]", "[gtk4]")
    assert view.error is not None
    assert view.summary() == (
        "snapcraft.yaml:7:17: error: unknown template 'gtk4' (did you mean 'gtk3'?)"
    )
    listing = view.editor.listing.value
    assert 'class="wb-line wb-err" data-line="7"' in listing
    assert 'data-error-line="7"' in listing
    assert view.result is None
    assert "wb-stale" in view.tabs._dom_classes  # the last good result stays, dimmed
    view.editor.value = PROJECT
    assert view.error is None
    assert view.editor.listing.value == ""
    assert "wb-stale" not in view.tabs._dom_classes


def test_experimental_templates_need_the_toggle(view: ExplodeView) -> None:
    view.editor.value = PROJECT.replace("base: core20", "base: core22").replace(
        "[gtk3]", "[flutter]"
    )
    assert "template flutter is experimental" in view.summary()
    view.experimental.value = True
    assert view.result.templates == ("flutter",)


def test_yaml_syntax_errors_are_inline_too(view: ExplodeView) -> None:
    view.editor.value = "name: [unclosed\n"
    assert view.summary().startswith("snapcraft.yaml:2:1: error: invalid YAML")


def test_the_strict_toggle_turns_overrides_into_errors(view: ExplodeView) -> None:
    view.strict.value = True
    assert view.summary().startswith("snapcraft.yaml:16:3: error:")
    assert "drop --strict" in view.summary()
    view.strict.value = False
    assert view.error is None


def test_the_base_selector_checks_templates_against_that_base(view: ExplodeView) -> None:
    view.base.value = "core24"
    assert "template gtk3 does not support base 'core24'" in view.summary()
    view.base.value = "core18"
    assert 'data-path="parts.gtk3/launcher.make-parameters[1]"' in view.exploded.value
    assert "PLATFORM=bionic" in view.exploded.value


def test_build_on_and_build_for_resolve_grammar(view: ExplodeView) -> None:
    assert "on amd64" in view.exploded.value
    view.build_on.value = "amd64"
    assert "go together" in view.summary()
    view.build_for.value = "arm64"
    assert view.error is None
    assert "on amd64" not in view.exploded.value
    assert "- libfoo" in view.exploded.value
    view.build_on.value = "arm64"
    assert "- libbar" in view.exploded.value


def test_the_picker_adds_templates_as_root_templates(view: ExplodeView) -> None:
    assert "gnome" in view.picker.options
    view.editor.value = PROJECT.replace("    templates: [gtk3]\n", "")
    assert view.result.templates == ()
    view.picker.value = ("gtk3",)
    assert view.result.templates == ("gtk3",)
    assert "templates: [gtk3]" not in view.editor.value


def test_a_template_folder_adds_its_templates_to_the_picker(
    view: ExplodeView, tmp_path: Path
) -> None:
    (tmp_path / "extra.yaml").write_text(EXTRA)
    view.folder.value = str(tmp_path)
    view.add_folder.click()
    assert "extra" in view.picker.options
    view.picker.value = ("extra",)
    assert 'data-origin="template extra"' in view.exploded.value
    assert view.template_dirs == [str(tmp_path)]


def test_a_missing_folder_is_an_error_and_changes_nothing(view: ExplodeView) -> None:
    options = view.picker.options
    view.folder.value = "/no/such/folder"
    view.add_folder.click()
    assert "templates directory not found" in view.summary()
    assert view.picker.options == options
    assert view.template_dirs == []


def test_with_templates_appends_to_the_root_list_without_touching_the_input() -> None:
    doc = load_text("name: x\ntemplates: [a]\n", "p.yaml")
    changed = with_templates(doc, ["b", "a"])
    assert changed.data["templates"] == ["a", "b"]
    assert doc.data["templates"] == ["a"]
    assert with_templates(doc, []) is doc
    ext = with_templates(load_text("extensions: [a]\n", "p.yaml"), ["c"])
    assert ext.data == {"extensions": ["a", "c"]}


def test_with_templates_also_extends_the_apps_own_lists() -> None:
    doc = load_text("apps:\n  a: {templates: [x]}\n  b: {command: b}\n", "p.yaml")
    changed = with_templates(doc, ["y"])
    assert changed.data["apps"]["a"]["templates"] == ["x", "y"]
    assert "templates" not in changed.data["apps"]["b"]
    assert changed.data["templates"] == ["y"]
