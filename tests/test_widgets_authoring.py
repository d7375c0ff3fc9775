"""Template authoring driven through its Python API: edit, validate, apply in the background."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import UsageError
from workbench.widgets import AuthoringView
from workbench.widgets.authoring import STARTER, read_samples, results_table, save_draft

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = {
    "cli": "name: cli\nbase: core22\nconfinement: strict\n"
    "apps:\n  cli:\n    command: bin/cli\n    plugs: [network]\n"
    "parts:\n  cli:\n    plugin: nil\n",
    "old": "name: old\nbase: core18\nconfinement: strict\n"
    "apps:\n  old:\n    command: bin/old\nparts:\n  old:\n    plugin: nil\n",
}


@pytest.fixture
def view(tmp_path: Path) -> AuthoringView:
    return AuthoringView(SAMPLES, workdir=tmp_path)


def test_validate_shows_the_templates_metadata(view: AuthoringView, tmp_path: Path) -> None:
    info = view.validate()
    assert info is not None
    assert (info.name, info.bases) == ("net-tools", ("core20", "core22", "core24"))
    assert view.info == info
    assert "net-tools: Network tools for command-line apps" in view.status.value
    assert (tmp_path / "net-tools.yaml").read_text() == STARTER.replace("NAME", "net-tools")


def test_a_bad_template_is_shown_inline_at_its_line(view: AuthoringView) -> None:
    view.editor.value = view.editor.value.replace("bases: [core20, core22, core24]", "bases: 20")
    assert view.validate() is None
    assert str(view.error) == (
        "net-tools.yaml:4:3: error: template net-tools: bases must be a list of names "
        "(write bases: [name, ...])"
    )
    assert 'data-error-line="4"' in view.editor.listing.value


def test_validate_applies_the_draft_to_a_probe_on_each_base(view: AuthoringView) -> None:
    view.editor.value = view.editor.value.replace("NAME/certs", "certs")
    view.editor.value = view.editor.value.replace("net-tools/certs", "certs")
    assert view.validate() is None
    assert "adds part 'certs', which is not namespaced" in str(view.error)
    assert view.error.location.file == "net-tools.yaml"


def test_apply_explodes_every_project_on_every_base(view: AuthoringView) -> None:
    view.bases.value = ("core18", "core22")
    view.apply_button.click()
    view.runner.wait(30)
    assert view.runner.state == "done"
    assert view.summary().splitlines() == [
        "cli @ core18: cli/snapcraft.yaml:1:1: error: template net-tools does not support "
        "base 'core18' (supported bases: core20, core22, core24)",
        "cli @ core22: ok, 11 values from net-tools, 0 overrides",
        "old @ core18: old/snapcraft.yaml:1:1: error: template net-tools does not support "
        "base 'core18' (supported bases: core20, core22, core24)",
        "old @ core22: ok, 12 values from net-tools, 0 overrides",
    ]
    assert view.results.value.count('data-ok="true"') == 2
    assert "apply done: 2 of 4 exploded" in view.status.value
    assert view.progress.label.value == "apply: 4/4 projects (old @ core22)"
    assert len(view.log_pane.lines) == 4
    assert view.timeline.value.count("wb-span") == 4
    assert list(view.detail_choice.options)[1] == "cli @ core22"


def test_a_chosen_result_shows_its_provenance(view: AuthoringView) -> None:
    view.apply()
    view.runner.wait(30)
    view.detail_choice.value = "cli @ core22"
    assert 'data-origin="template net-tools"' in view.detail.value
    view.detail_choice.value = "cli @ core18"
    assert "does not support base" in view.detail.value


def test_variants_of_a_template_compare_on_the_same_projects(view: AuthoringView) -> None:
    view.bases.value = ("core22",)
    view.apply()
    view.runner.wait(30)
    first = view.summary()
    view.editor.value = view.editor.value.replace("[network, network-bind]", "[network-bind]")
    view.apply()
    view.runner.wait(30)
    assert "cli @ core22: ok, 10 values from net-tools" in view.summary()
    assert view.summary() != first


def test_cancel_stops_a_long_apply(tmp_path: Path) -> None:
    many = {f"p{i}": SAMPLES["cli"] for i in range(200)}
    view = AuthoringView(many, workdir=tmp_path)
    view.apply()
    view.apply_button.click()  # a second apply while one runs is refused, not queued
    assert "still applying" in view.status.value
    view.cancel_button.click()
    view.runner.wait(30)
    assert view.runner.state == "cancelled"
    assert len(view.cells) < 800
    assert "cancelled" in view.status.value


def test_an_invalid_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="invalid template name"):
        save_draft(tmp_path, "../evil", STARTER)
    assert list(tmp_path.iterdir()) == []


def test_samples_are_read_from_project_directories() -> None:
    samples = read_samples(ROOT / "examples" / "templates")
    assert "darktable" in samples
    assert "custom-templates" not in samples
    assert samples["darktable"].file == "darktable/snap/snapcraft.yaml"
    assert samples["darktable"].data["name"] == "darktable"


def test_template_folders_are_offered_to_the_samples(tmp_path: Path) -> None:
    examples = ROOT / "examples" / "templates"
    view = AuthoringView.from_dir(
        examples, template_dirs=[examples / "custom-templates"], workdir=tmp_path
    )
    view.projects.value = ("custom",)
    view.bases.value = ("core22",)
    view.apply()
    view.runner.wait(30)
    assert view.summary().startswith("custom @ core22: ok")


def test_results_table_marks_missing_cells() -> None:
    assert results_table([], "x").count("<tr>") == 1
