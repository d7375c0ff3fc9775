"""A VM command on a project without an instance is the user's mistake: one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = {
    "exec": ["exec", "--", "true"],
    "shell": ["shell"],
    "push": ["push", "FILE", "/tmp/x"],
    "pull": ["pull", "/etc/hostname", "OUT"],
    "snapshot save": ["snapshot", "save"],
    "snapshot list": ["snapshot", "list"],
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_vm_command_without_an_instance_says_run_vm_up(name: str, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "FILE").write_text("x\n")
    args = [str(project / a) if a in ("FILE", "OUT") else a for a in COMMANDS[name]]
    env = {**os.environ, "WORKBENCH_CACHE_DIR": str(tmp_path / "cache")}
    cli = [sys.executable, "-m", "workbench", "vm", "--project", str(project)]
    proc = subprocess.run(
        [*cli, *args], capture_output=True, text=True, env=env, check=False, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"error: no instance for {project.resolve()} (run `vm up` first)\n"
    assert not (project / "OUT").exists()
