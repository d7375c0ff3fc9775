"""``python -m workbench vm`` end to end on a real tiny guest (one boot, one warm start)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from vm_fixtures import VmEnv

pytestmark = pytest.mark.slow


Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def vm(vm_env: VmEnv) -> Cli:
    """Run ``vm ARGS`` on this module's project; (exit code, stdout, stderr)."""
    project = vm_env.project("cli", {"input.txt": "from the host\n"})

    def run(*args: str) -> tuple[int, str, str]:
        proc = vm_env.cli(project, *args)
        return proc.returncode, proc.stdout, proc.stderr

    return run


def running(vm: Cli) -> None:
    """The module's instance up (started when an earlier test left it stopped or removed)."""
    if json.loads(vm("status", "--json")[1])["status"] != "running":
        code, _, err = vm("up", "--memory", "384M", "--cpus", "1")
        assert code == 0, err


def test_up_exec_and_the_lock(vm: Cli) -> None:
    assert vm("clean")[0] == 0  # from no instance at all
    code, out, err = vm("image", "list", "--json")
    assert code == 0, err
    assert {"tiny", "debian-12"} <= {row["name"] for row in json.loads(out)}

    code, out, err = vm("up", "--memory", "384M", "--cpus", "1", "--accel", "tcg")
    assert code == 0, err
    assert ": running (ssh port " in out
    assert "accel tcg" in out

    code, out, err = vm("exec", "--", "sh", "-c", "cat /project/input.txt; echo oops >&2; exit 5")
    assert (code, out, err) == (5, "from the host\n", "oops\n")
    code, out, _ = vm(
        "exec", "--env", "A=1 2", "--cwd", "/project", "--", "sh", "-c", 'echo "$A" $PWD'
    )
    assert (code, out) == (0, "1 2 /project\n")

    code, out, err = vm("up")
    assert code == 1
    assert "locked by running process" in err
    assert len(err.strip().splitlines()) == 1


def test_push_pull_snapshot_status(vm: Cli, tmp_path: Path) -> None:
    running(vm)
    vm("snapshot", "delete", "first")  # left by an earlier run of this test, if any
    src = tmp_path / "pushed.txt"
    src.write_text("pushed\n")
    assert vm("push", str(src), "/root/pushed.txt")[0] == 0
    assert vm("pull", "/root/pushed.txt", str(tmp_path / "pulled.txt"))[0] == 0
    assert (tmp_path / "pulled.txt").read_text() == "pushed\n"

    code, out, _ = vm("snapshot", "save", "first")
    assert (code, out) == (0, "saved first\n")
    code, out, _ = vm("snapshot", "list")
    assert code == 0
    assert any(line.startswith("first ") and line.endswith("yes") for line in out.splitlines())

    code, out, _ = vm("status", "--json")
    status = json.loads(out)
    assert status["status"] == "running"
    assert status["memory_mib"] == 384
    assert status["snapshots"] == ["first"]


def test_interactive_shell_on_a_terminal(vm: Cli, vm_env: VmEnv) -> None:
    running(vm)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "vm", "--project", str(vm_env.project("cli")), "shell"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "WORKBENCH_CACHE_DIR": str(vm_env.cache), "TERM": "dumb"},
        start_new_session=True,
    )
    os.close(slave)
    os.write(master, b"echo shell-$((6*7)) $(tty); exit 3\n")
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if select.select([master], [], [], 1)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(timeout=10) == 3
    assert b"shell-42 /dev/pts/" in output  # the guest side is a real pty


def test_down_save_warm_up_logs_clean(vm: Cli, tmp_path: Path) -> None:
    running(vm)
    (tmp_path / "pushed.txt").write_text("pushed\n")
    assert vm("push", str(tmp_path / "pushed.txt"), "/root/pushed.txt")[0] == 0
    code, out, _ = vm("down", "--save")
    assert code == 0
    assert "(state saved)" in out
    assert json.loads(vm("status", "--json")[1])["status"] == "saved"

    code, out, err = vm("up")  # memory, CPUs and image come from the instance: warm start
    assert code == 0, err
    assert "cold boot" not in err
    code, out, _ = vm("exec", "--", "cat", "/root/pushed.txt")
    assert (code, out) == (0, "pushed\n")

    code, out, _ = vm("logs", "--lines", "3")
    assert code == 0
    assert "==> serial: " in out
    assert "==> qemu: " in out
    workbench_log = Path(json.loads(vm("status", "--json")[1])["directory"]) / "workbench.log"
    assert "down --save" in workbench_log.read_text()

    code, out, _ = vm("clean")
    assert code == 0
    assert out.startswith("removed ")
    assert json.loads(vm("status", "--json")[1])["status"] == "absent"
