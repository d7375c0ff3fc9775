"""``workbench explode`` and ``workbench templates``: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_templates_helpers import template_dir, tpl

from workbench.cli import main
from workbench.templates.registry import BUILTIN_DIR

PROJECT = """\
# darktable, GTK 3
name: darktable
base: core20  # focal
confinement: strict
apps:
  darktable:
    command: usr/bin/darktable
    templates: [gtk3]
    plugs: [home]
parts:
  darktable:
    plugin: cmake
    source: .
    stage-packages:
      - on arm64: [libarm]
      - else: [libother]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "snapcraft.yaml"
    path.write_text(PROJECT)
    return path


def explode_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["explode", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_yaml_output_keeps_comments_and_order(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = project.stat().st_mtime_ns
    code, out, err = explode_cli(capsys, str(project))
    assert (code, err) == (0, "")
    assert out.startswith("# darktable, GTK 3\nname: darktable\nbase: core20  # focal\n")
    assert "plugs: [desktop, desktop-legacy, gsettings, wayland, x11, home]" in out
    assert "gtk3/launcher:" in out
    assert "templates:" not in out
    assert "on arm64" in out
    assert project.read_text() == PROJECT
    assert project.stat().st_mtime_ns == before


def test_directory_json_and_grammar(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [str(project.parent), "--format", "json", "--build-on", "amd64", "--build-for", "arm64"]
    code, out, _ = explode_cli(capsys, *args)
    assert code == 0
    data = json.loads(out)
    assert data["parts"]["darktable"]["stage-packages"] == ["libother"]
    assert data["parts"]["darktable"]["after"] == ["gtk3/launcher"]


def test_provenance_report(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = explode_cli(capsys, str(project), "--provenance")
    assert code == 0
    report = json.loads(out)
    assert set(report) == {"project", "provenance", "overrides", "declined", "confinement_rule"}
    assert report["provenance"]["apps.darktable.plugs[5]"] == "project (snapcraft.yaml:9:13)"
    assert report["provenance"]["apps.darktable.plugs[0]"] == "template gtk3 (gtk3.yaml:9:13)"
    assert report["overrides"] == []
    code, out, _ = explode_cli(capsys, str(project), "--provenance", "--format", "yaml")
    assert code == 0
    assert out.startswith("project:\n")


def test_templates_dir_shadows_and_strict(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = template_dir(
        tmp_path / "mine", {"gtk3": tpl("confinement: devmode\n", bases="[core20]")}
    )
    code, out, _ = explode_cli(capsys, str(project), "--templates-dir", str(mine))
    assert code == 0
    assert "gtk3/launcher" not in out
    code, out, err = explode_cli(capsys, str(project), "--templates-dir", str(mine), "--strict")
    assert (code, out) == (2, "")
    assert err == (
        f"{project}:4:1: error: the project's 'strict' at confinement overrides 'devmode' from "
        "template gtk3 (the template's value is at gtk3.yaml:6:1; drop --strict to let the rules "
        "decide)\n"
    )


def test_environment_path_and_experimental(
    project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mine = template_dir(
        tmp_path / "env", {"gtk3": tpl("grade: x\n", bases="[core20]", experimental="true")}
    )
    monkeypatch.setenv("WORKBENCH_TEMPLATES_PATH", str(mine))
    code, _, err = explode_cli(capsys, str(project))
    assert code == 2
    assert err.startswith(f"{project}:8:17: error: template gtk3 is experimental (pass ")
    code, out, _ = explode_cli(capsys, str(project), "--enable-experimental")
    assert (code, "grade: x" in out) == (0, True)
    monkeypatch.setenv("WORKBENCH_EXPERIMENTAL", "1")
    code, out, _ = explode_cli(capsys, str(project))
    assert (code, "grade: x" in out) == (0, True)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("[gtk3]", "[gtk]"), ":8:17: error: unknown template 'gtk' (did you mean 'gtk3'?)"),
        (("core20  #", "core24  #"), ":3:1: error: template gtk3 does not support base 'core24' "
         "(supported bases: core18, core20, core22)"),
        (("plugs: [home]", "plugs: [home"), ":10:6: error: invalid YAML:"),
        (("- else: [libother]", "- else fail"), None),
    ],
)  # fmt: skip
def test_user_errors_are_one_line_with_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str], edit: tuple[str, str], expected: str | None
) -> None:
    project.write_text(PROJECT.replace(*edit))
    args = [str(project), "--build-on", "amd64", "--build-for", "amd64"]
    code, out, err = explode_cli(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    if expected is None:
        assert err.startswith(f"{project}:16:9: error: 'else fail' triggered")
    else:
        assert err.startswith(f"{project}{expected}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--build-on", "amd64"], "error: --build-on and --build-for go together"),
        (["--build-on", "amd64", "--build-for", "x"], "error: unknown architecture 'x'"),
        (["--templates-dir", "/nonexistent"], "/nonexistent: error: templates directory not found"),
    ],
)
def test_usage_errors_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = explode_cli(capsys, str(project), *args)
    assert code == 2
    assert err.startswith(message)


def test_bad_option_value_exits_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["explode", str(project), "--format", "toml"])
    assert info.value.code == 2
    assert "invalid choice: 'toml'" in capsys.readouterr().err


def test_missing_file_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = explode_cli(capsys, str(tmp_path / "nope.yaml"))
    assert code == 2
    assert err == f"{tmp_path / 'nope.yaml'}: error: no such file (check the path)\n"


def test_templates_list_shows_shadowing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = template_dir(tmp_path, {"gtk3": tpl(bases="[core24]"), "extra": tpl(bases="[core24]")})
    assert main(["templates", "list", "--templates-dir", str(mine)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "BASES", "EXPERIMENTAL", "SUMMARY", "SOURCE"]
    names = [line.split()[0] for line in lines[1:] if not line.startswith(" ")]
    assert names == ["extra", "flutter", "gnome", "gtk3", "kde-neon", "ros1"]
    gtk3 = next(i for i, line in enumerate(lines) if line.startswith("gtk3 "))
    assert lines[gtk3].endswith(str(mine / "gtk3.yaml"))
    assert lines[gtk3 + 1].strip() == f"(shadows {BUILTIN_DIR / 'gtk3.yaml'})"


def test_templates_list_json_and_base_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["templates", "list", "--base", "core18", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == ["flutter", "gtk3", "ros1"]
    assert rows[0]["experimental"] is True
    assert set(rows[0]) == {
        "name", "summary", "bases", "confinement", "experimental", "source", "shadows"
    }  # fmt: skip
    assert main(["templates", "list", "--base", "core99"]) == 0
    assert capsys.readouterr().out == "no templates for base core99\n"


def test_templates_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["templates", "show", "ros1"]) == 0
    out = capsys.readouterr().out
    assert "summary:      ROS 1 applications" in out
    assert "bases:        core18, core20" in out
    assert "experimental: no" in out
    assert "ros1/runtime:" in out
    assert main(["templates", "show", "gnom"]) == 2
    assert capsys.readouterr().err == "error: unknown template 'gnom' (did you mean 'gnome'?)\n"


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m workbench ARGS`` in a child process, without the caller's template path."""
    env = {**os.environ, "WORKBENCH_TEMPLATES_PATH": ""}
    command = [sys.executable, "-m", "workbench", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, env=env)


def test_python_dash_m_workbench_explode(project: Path) -> None:
    done = run_module("explode", str(project), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["apps"]["darktable"]["command-chain"] == [
        "snap/command-chain/gtk3/desktop-launch"
    ]
    bad = run_module("explode", str(project), "--base", "core24")
    assert bad.returncode == 2
    assert bad.stderr == (
        f"{project}:8:17: error: template gtk3 does not support base 'core24' "
        "(supported bases: core18, core20, core22)\n"
    )
