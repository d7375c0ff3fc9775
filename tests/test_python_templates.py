"""Python templates in a templates directory: ``*.py`` files whose ``register(registry)``
registers function templates, used from the CLI with ``--templates-dir`` and by builds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from workbench.lifecycle.build_project import resolve_build

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "python-templates"
TEMPLATES = EXAMPLE / "templates"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        capture_output=True,
        text=True,
        env=os.environ,
        timeout=120,
        check=False,
    )


def test_explode_applies_a_python_template_from_templates_dir() -> None:
    done = cli("explode", str(EXAMPLE), "--templates-dir", str(TEMPLATES))
    assert done.returncode == 0, done.stderr
    parts = yaml.safe_load(done.stdout)["parts"]
    assert sorted(parts) == ["per-command/bye", "per-command/hello", "scripts"]
    hello = parts["per-command/hello"]
    assert (hello["plugin"], hello["after"]) == ("nil", ["scripts"])
    assert 'test -x "$CRAFT_PRIME/bin/hello"' in hello["override-prime"]
    assert 'test -x "$CRAFT_PRIME/bin/bye"' in parts["per-command/bye"]["override-prime"]


def test_without_the_directory_the_template_is_unknown() -> None:
    done = cli("explode", str(EXAMPLE))
    assert done.returncode == 2
    assert "unknown template 'per-command'" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_templates_list_names_the_python_function() -> None:
    done = cli("templates", "show", "per-command", "--templates-dir", str(TEMPLATES))
    assert done.returncode == 0, done.stderr
    assert f"source:       {TEMPLATES / 'per_command'}.per_command" in done.stdout


def test_a_build_loads_the_python_template_too() -> None:
    project = resolve_build(EXAMPLE, templates=(TEMPLATES,))
    assert sorted(project.parts) == ["per-command/bye", "per-command/hello", "scripts"]


def test_broken_python_template_files_are_one_line_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "oops.py").write_text("x = 1\nraise RuntimeError('no luck')\n")
    done = cli("explode", str(EXAMPLE), "--templates-dir", str(broken))
    assert done.returncode == 2
    assert done.stderr.startswith(f"{broken / 'oops.py'}:2")
    assert "error: Python template file failed: RuntimeError: no luck" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    silent = tmp_path / "silent"
    silent.mkdir()
    (silent / "nothing.py").write_text("VALUE = 1\n")
    (silent / "_private.py").write_text("raise SystemExit(9)\n")  # skipped: starts with _
    done = cli("explode", str(EXAMPLE), "--templates-dir", str(silent))
    assert done.returncode == 2
    assert "defines no register(registry) function" in done.stderr
