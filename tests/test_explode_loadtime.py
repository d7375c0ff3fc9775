"""Checks snapcraft makes at load time, and the confinement rule of each base's era."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.errors import SourceError, TemplateError
from workbench.templates import explode

PROJECT = """\
name: p
base: {base}
{confinement}apps:
  p:
    command: bin/p
    templates: [gtk3]
parts:
{parts}"""
GOOD_PARTS = "  p:\n    plugin: nil\n"


def project(base: str = "core20", confinement: str = "", parts: str = GOOD_PARTS) -> str:
    return PROJECT.format(base=base, confinement=confinement, parts=parts)


@pytest.mark.parametrize(
    ("parts", "message", "path"),
    [
        ("  a:\n    plugin: nil\n    after: [b]\n", "'after' names part 'b'", (10, 13)),
        ("  a:\n    plugin: nill\n", "plugin 'nill' is not available on core20", (9, 5)),
        ("  a:\n    plugin: nil\n  A:\n    plugin: nil\n", "differ only by case", (10, 3)),
    ],
)
def test_load_time_checks_fail_with_a_position(
    parts: str, message: str, path: tuple[int, int]
) -> None:
    fails_at(project(parts=parts), message, path)


def fails_at(text: str, message: str, path: tuple[int, int]) -> None:
    with pytest.raises(SourceError, match=message) as info:
        explode(text)
    location = info.value.location
    assert location is not None
    assert (location.line, location.col) == path


def test_the_cli_reports_a_load_time_check_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "snapcraft.yaml"
    file.write_text(project(parts="  a:\n    plugin: nil\n    after: [missing]\n"))
    assert main(["explode", str(file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{file}:10:13: error: part a: 'after' names part 'missing'")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("app", "message", "path"),
    [
        ("    command: bin/p --level=3\n", "command 'bin/p --level=3' is not valid", (5, 5)),
        ("    command: bin/p\n    command-chain: [bin/a, 'bin/b x']\n", "'bin/b x'", (6, 28)),
        ("    command: bin/p\n    aliases: [-p]\n", "aliases '-p'", (6, 15)),
        ("    command: bin/p\n    stop-timeout: 1 minute\n", "stop-timeout '1 minute'", (6, 5)),
    ],
)
def test_app_fields_snapcraft_checks_by_their_text(
    app: str, message: str, path: tuple[int, int]
) -> None:
    fails_at("name: p\nbase: core22\napps:\n  q:\n" + app + "parts:\n" + GOOD_PARTS, message, path)


def test_a_command_no_part_provides_is_left_to_pack() -> None:
    """Which part installs bin/missing is only known once parts are built: pack checks it."""
    exploded = explode(project().replace("bin/p", "bin/missing"))
    assert exploded.project["apps"]["p"]["command"] == "bin/missing"


def test_a_plugin_of_one_era_is_unknown_in_another() -> None:
    explode(project(base="core18", parts="  a:\n    plugin: nodejs\n"))
    with pytest.raises(SourceError, match="not available on core22"):
        explode(project(base="core22", parts="  a:\n    plugin: nodejs\n"))


def test_absent_confinement_is_devmode_only_before_core22(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "strictly.yaml").write_text(
        "template:\n  summary: strict only\n  bases: [core20, core22]\n  confinement: [strict]\n"
    )
    text = project().replace("gtk3", "strictly")
    with pytest.raises(TemplateError, match="devmode"):
        explode(text, templates=templates)
    modern = explode(text.replace("core20", "core22"), templates=templates)
    assert "snapcraft 7+" in modern.confinement_rule
    with pytest.raises(TemplateError, match="devmode"):
        explode(
            project(base="core22", confinement="confinement: devmode\n").replace(
                "gtk3", "strictly"
            ),
            templates=templates,
        )
    file = tmp_path / "snapcraft.yaml"
    file.write_text(text.replace("core20", "core22"))
    assert main(["explode", str(file), "--templates-dir", str(templates), "--provenance"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["confinement_rule"] == modern.confinement_rule
