"""Declining part of a template: the data, its checks, --provenance and the explode view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.errors import SourceError, TemplateError
from workbench.templates import explode
from workbench.widgets.provenance import render_exploded, summary

PROJECT = """\
name: editor
base: core22
confinement: strict
decline:
  gtk3: [plugs.sound-themes, parts.*.after]
apps:
  editor:
    command: bin/editor
    templates: [gtk3]
    decline:
      gtk3: [plugs.wayland]
  viewer:
    command: bin/viewer
    templates: [gtk3]
parts:
  editor:
    plugin: nil
    decline:
      gtk3: [after]
  viewer:
    plugin: nil
"""


def test_declined_values_are_left_out_for_their_owner_only() -> None:
    result = explode(PROJECT)
    project = result.project
    assert "wayland" not in project["apps"]["editor"]["plugs"]
    assert "wayland" in project["apps"]["viewer"]["plugs"]
    assert "desktop" in project["apps"]["editor"]["plugs"]
    assert "sound-themes" not in project["plugs"]
    assert "icon-themes" in project["plugs"]
    assert "after" not in project["parts"]["editor"]
    assert "after" not in project["parts"]["viewer"]  # parts.*.after at the root: every part
    assert "gtk3/launcher" in project["parts"]
    assert "decline" not in project
    assert "decline" not in project["apps"]["editor"]
    assert "decline" not in project["parts"]["editor"]
    declined = {(d.path, json.dumps(d.value)) for d in result.declined}
    assert ("apps.editor.plugs", '"wayland"') in declined
    assert ("parts.viewer.after", '["gtk3/launcher"]') in declined
    editor = next(d for d in result.declined if d.path == "apps.editor.plugs")
    assert (editor.declined_at.line, editor.declined_at.col) == (11, 14)
    assert editor.template_location.file is not None
    assert editor.template_location.file.endswith("gtk3.yaml")


def test_exploding_the_exploded_project_changes_nothing() -> None:
    once = explode(PROJECT)
    assert explode(once.to_yaml()).project == once.project


def test_a_whole_template_part_can_be_declined() -> None:
    text = PROJECT.replace("[plugs.sound-themes, parts.*.after]", "[parts.gtk3/launcher, parts.*]")
    result = explode(text)
    assert "gtk3/launcher" not in result.project["parts"]
    assert {d.path for d in result.declined} >= {"parts.gtk3/launcher", "parts.viewer"}


@pytest.mark.parametrize(
    ("old", "new", "error", "message"),
    [
        ("[plugs.wayland]", "[plugs.waylnd]", TemplateError, "it provides: desktop, desktop-"),
        ("[plugs.wayland]", "[plugz]", TemplateError, "it provides: command-chain, plugs"),
        ("      gtk3: [plugs.wayland]", "      gnome: [x]", SourceError, "not used here"),
        ("      gtk3: [plugs.wayland]", "      gtk3: plugs", SourceError, "list of key paths"),
    ],
)
def test_declining_what_the_template_does_not_provide_is_an_error(
    old: str, new: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as info:
        explode(PROJECT.replace(old, new))
    location = getattr(info.value, "location", None)
    assert location is not None
    assert location.line in {10, 11}


def test_provenance_reports_what_was_declined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "snapcraft.yaml"
    file.write_text(PROJECT)
    assert main(["explode", str(file), "--provenance"]) == 0
    report = json.loads(capsys.readouterr().out)
    wayland = next(d for d in report["declined"] if d["path"] == "apps.editor.plugs")
    assert wayland["value"] == "wayland"
    assert wayland["template"] == "gtk3"
    assert wayland["declined_at"] == f"{file}:11:14"
    assert "apps.editor.decline" not in report["provenance"]


def test_the_explode_view_shows_declined_values() -> None:
    result = explode(PROJECT)
    html = render_exploded(result)
    assert 'class="wb-line wb-struck wb-declined" data-path="apps.editor.plugs"' in html
    assert "declined by the project (&lt;project&gt;:11:14)" in html
    assert "declined at apps.editor.plugs: wayland from template gtk3" in summary(result)
