"""The VM's keep-alive, visible and settable: durations, the deadline each use pushes back, the
status line, ``--stop-after`` on ``vm up`` and ``build``.

Fast: the pure pieces, the keep-alive file, a real TCP connection seen by the watchdog, the CLI's
refusals and ``vm status --json`` without a VM. Slow: ``vm up --stop-after`` on a real tiny guest
(status says when it stops, a command pushes the deadline back, the watchdog saves it), and a real
Jupyter kernel that launched a VM from the build widget, killed: its VM still stops, state saved.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from workbench.errors import UsageError
from workbench.lifecycle import copy_example, keepalive
from workbench.vm import InstanceDir, Status, watchdog
from workbench.vm.watchdog import KeepAlive

if TYPE_CHECKING:
    from vm_fixtures import VmEnv

pytest_plugins = ("vm_fixtures",)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "build" / "c-make"


def test_durations_parse_and_read_back() -> None:
    assert [watchdog.parse_duration(t, what="x") for t in ("90", "90s", "30m", "2h", "1d")] == [
        90,
        90,
        1800,
        7200,
        86400,
    ]
    assert watchdog.parse_duration("1.5h", what="x") == 5400
    with pytest.raises(UsageError, match=r"--stop-after must be a number of seconds"):
        watchdog.parse_duration("soon", what="--stop-after")
    assert [watchdog.format_duration(s) for s in (20, 1800, 7200, 86400)] == [
        "20 s",
        "30 min",
        "2 h",
        "1 d",
    ]
    assert watchdog.default_idle({}) == watchdog.DEFAULT_IDLE == 1800
    assert watchdog.default_idle({watchdog.ENV_IDLE: "45m"}) == 2700
    with pytest.raises(UsageError, match=watchdog.ENV_IDLE):
        watchdog.default_idle({watchdog.ENV_IDLE: "-1"})
    assert keepalive.Policy.uniform(60) == keepalive.Policy(after_success=60, after_failure=60)
    assert keepalive.Policy.from_env({keepalive.ENV_FAILURE: "2h"}).after_failure == 7200


def test_the_status_line_says_when_and_why() -> None:
    now = time.mktime((2024, 5, 1, 12, 0, 0, 0, 0, -1))
    armed = watchdog.armed(1800, source="vm up", now=now)
    assert watchdog.describe(armed, now + 60) == (
        "stops at 12:30 (in 29 min): 30 min idle (vm up), idle since 12:00"
    )
    assert watchdog.describe(armed, now + 1790).startswith("stops at 12:30 (in 10 s)")
    assert watchdog.describe(armed, now + 1800).startswith("stopping: its deadline 12:30 passed")
    built = keepalive.decide(keepalive.Policy(), ok=True, keep=False, now=now)
    assert watchdog.describe(built, now) == (
        "stops at 12:10 (in 10 min): 10 min idle after a successful build, idle since 12:00"
    )
    failed = keepalive.decide(keepalive.Policy(), ok=False, keep=False, now=now)
    assert watchdog.describe(failed, now) == (
        "stops at Thu 12:00 (in 1 d): 1 d idle after a failed build, idle since 12:00"
    )
    kept = keepalive.decide(keepalive.Policy(), ok=True, keep=True, now=now)
    assert watchdog.describe(kept, now) == "kept (--keep: stays up until `vm down` or `clean`)"
    assert watchdog.describe(None, now) == "no deadline: stays up until `vm down`"


def test_each_use_pushes_the_deadline_back_unless_kept(tmp_path: Path) -> None:
    watchdog.touch(tmp_path, 50)  # no file: nothing to push
    assert watchdog.read(tmp_path) is None
    watchdog.write(tmp_path, watchdog.armed(20, source="notebook", now=0, grace=300))
    assert watchdog.read(tmp_path) == KeepAlive(
        320, False, "20 s idle (notebook)", since=0, idle=20, source="notebook"
    )
    watchdog.touch(tmp_path, 1000)
    pushed = watchdog.read(tmp_path)
    assert pushed is not None
    assert (pushed.deadline, pushed.since) == (1020, 1000)
    kept = keepalive.decide(keepalive.Policy(), ok=True, keep=True, now=5)
    watchdog.write(tmp_path, kept)
    watchdog.touch(tmp_path, 1000)
    assert watchdog.read(tmp_path) == kept


def test_older_and_newer_keepalive_files_still_read(tmp_path: Path) -> None:
    file = InstanceDir(tmp_path).keepalive_file
    file.write_text('{"deadline": 10, "keep": false, "reason": "old"}\n')
    old = watchdog.read(tmp_path)
    assert old == KeepAlive(10, False, "old")
    watchdog.touch(tmp_path, 100)  # no idle recorded: uses do not move it
    assert watchdog.read(tmp_path) == old
    file.write_text('{"deadline": 10, "keep": true, "reason": "r", "future": 1}\n')
    assert watchdog.read(tmp_path) == KeepAlive(10, True, "r")
    file.write_text("[1, 2]\n")
    assert watchdog.read(tmp_path) is None


def test_an_open_connection_to_the_forwarded_port_counts_as_use() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert not watchdog.connected(port)
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = server.accept()
            with accepted:
                assert watchdog.connected(port)


def cli(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKBENCH_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_stop_after_is_checked_and_status_has_the_keepalive_keys(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    cache = tmp_path / "cache"
    up = cli("vm", "--project", str(project), "up", "--stop-after", "soon", cache=cache)
    assert up.returncode == 2
    assert up.stderr == (
        "error: --stop-after must be a number of seconds or a duration, not 'soon'"
        " (e.g. 90, 90s, 30m, 2h or 1d)\n"
    )
    build = cli("build", str(project), "--stop-after", "1x", cache=cache)
    assert build.returncode == 2
    assert build.stderr.startswith("error: --stop-after must be a number of seconds")
    status = cli("vm", "--project", str(project), "status", "--json", cache=cache)
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["status"] == "absent"
    assert (shown["stops"], shown["keepalive"], shown["watchdog"]) == (None, None, None)
    assert not cache.exists()


# -- real VMs --------------------------------------------------------------------------------


def wait_for_status(directory: InstanceDir, wanted: Status, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if directory.status() is wanted:
            return
        time.sleep(2)
    pytest.fail(f"{directory.name} still {directory.status()} after {timeout} s, not {wanted}")


@pytest.mark.slow
def test_vm_up_stop_after_is_shown_pushed_back_and_kept(vm_env: VmEnv, tiny_image: object) -> None:
    project = vm_env.project("stop-after")
    directory = InstanceDir.for_project(project, instances=vm_env.cache / "instances")
    args = ("up", "--memory", "384M", "--cpus", "1", "--stop-after", "40s")
    up = vm_env.cli(project, *args)
    assert up.returncode == 0, up.stderr
    assert "stops at " in up.stdout
    assert "40 s idle (vm up)" in up.stdout
    status = vm_env.cli(project, "status", "--json")
    shown = json.loads(status.stdout)
    assert shown["status"] == "running"
    assert shown["stops"].startswith("stops at ")
    assert shown["keepalive"]["source"] == "vm up"
    assert shown["keepalive"]["idle"] == 40
    assert shown["watchdog"] is not None
    text = vm_env.cli(project, "status")
    assert any(line.startswith("stops ") for line in text.stdout.splitlines())
    before = watchdog.read(directory.root)
    assert before is not None
    used = vm_env.cli(project, "exec", "--", "true")
    assert used.returncode == 0, used.stderr
    after = watchdog.read(directory.root)
    assert after is not None
    assert after.since is not None
    assert before.since is not None
    assert after.since > before.since  # the command pushed the deadline back
    wait_for_status(directory, Status.SAVED, 300)  # the watchdog saved it once idle
    assert "idle past the deadline" in (directory.root / watchdog.WATCHDOG_LOG).read_text()


KERNEL_CODE = """
from workbench.lifecycle import BuildController, BuildOptions
from workbench.widgets import BuildView
tiny = BuildOptions(image="tiny", memory="384M", cpus=1)
view = BuildView(BuildController({project!r}, tiny, stop_after=30))
view.launch()
view.runner.wait(600)
view.refresh()
print("STATE", view.runner.state, view.vm_status, view.status_text)
print(view.keepalive_text)
"""


@pytest.mark.slow
def test_a_killed_kernel_leaves_no_vm_running_past_its_deadline(
    vm_env: VmEnv, tiny_image: object
) -> None:
    from jupyter_client.manager import KernelManager  # noqa: PLC0415 (heavy, lab extra)

    project = copy_example(EXAMPLE, workdir=vm_env.cache.parent / "kernel")
    directory = InstanceDir.for_project(project)
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env={**os.environ, "WORKBENCH_CACHE_DIR": str(vm_env.cache)})
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        said: list[str] = []

        def output(message: dict[str, object]) -> None:
            content = message["content"]
            if isinstance(content, dict) and "text" in content:
                said.append(str(content["text"]))

        reply = client.execute_interactive(
            KERNEL_CODE.format(project=str(project)), timeout=900, output_hook=output
        )
        assert reply["content"]["status"] == "ok", reply["content"]
        text = "".join(said)
        assert "STATE done running" in text, text
        assert "keep-alive: stops at " in text
        assert "30 s idle (notebook)" in text
        pid = manager.provisioner.pid  # type: ignore[union-attr]
    finally:
        client.stop_channels()
    assert directory.status() is Status.RUNNING
    os.kill(pid, signal.SIGKILL)  # the kernel dies: no cleanup code runs
    manager.cleanup_resources()
    wait_for_status(directory, Status.SAVED, 300)
    state = directory.load_state()
    assert state is not None
    assert "warm" in state.snapshots  # stopped with a saved state for the next start
