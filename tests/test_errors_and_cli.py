"""Errors are formatted once, in one line; the CLI maps them to exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workbench import cli
from workbench.errors import Location, SourceError, VmError, format_error


def test_format_with_position_and_hint() -> None:
    err = SourceError(
        "unknown key 'biuld-on'",
        hint="did you mean 'build-on'?",
        location=Location("snapcraft.yaml", 12, 7, "architectures[1]"),
    )
    assert format_error(err) == (
        "snapcraft.yaml:12:7: error: unknown key 'biuld-on' (did you mean 'build-on'?)"
    )


def test_format_with_key_path_only() -> None:
    err = SourceError("must be a list", location=Location("p.yaml", path="parts.a.after"))
    assert format_error(err) == "p.yaml: error: must be a list at parts.a.after"


def test_format_without_location() -> None:
    assert (
        format_error(VmError("qemu died", hint="see qemu.log")) == "error: qemu died (see qemu.log)"
    )
    assert VmError("x").exit_code == 1
    assert SourceError("x").exit_code == 2


def test_usage_error_is_one_line_and_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "no-such-command"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_version() -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0


def test_import_does_no_heavy_work() -> None:
    code = (
        "import sys, workbench; "
        "print(sorted(m for m in ('ruamel.yaml', 'paramiko', 'ipywidgets', 'craft_grammar') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
