"""Faults during real builds in the debian-12 VM under TCG (issue #8), through
``python -m workbench build`` with the build environment of ``test_build_vm.py``.

One project directory (one VM) receives the C example twice. First qemu is SIGKILLed while the
part's build step runs (a one-time sleep after a ``sync``: a kill within seconds of the pull can
leave the guest's craft-parts state files empty, which the next build does not survive): the
build says the VM died; the next build brings the instance back from its overlay and packs. Then
a part fills the guest's disk: the error names the cause and ``--disk-size``, the VM stays up.
Each asserts the project directory is left as it was.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from build_env import BuildEnv
from test_build_vm import wait_for

from workbench.lifecycle.events import StepStarted
from workbench.lifecycle.wire import read_events
from workbench.vm import Status

pytestmark = pytest.mark.slow

STEP_TIMEOUT = 900
"""Bound on the wait for the first lifecycle step to start (boot and inject under TCG)."""
EXIT_TIMEOUT = 120
"""Bound on the build's exit once its qemu is killed: it must fail, not hang."""
FILL = (
    "      avail=$(df --output=avail -B1 . | tail -1)\n"
    '      fallocate -l $((avail - 1048576)) "$CRAFT_PART_BUILD/fill"\n'
    '      head -c 8M /dev/zero > "$CRAFT_PART_BUILD/blob"\n'
    "      craftctl default\n"
)
"""An override-build that leaves the build user 1 MiB (fallocate writes no blocks: fast under
TCG), then writes 8 MiB."""


def tree_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root``, by relative path."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


SLOW_ONCE = (
    "    override-build: |\n"
    "      if [ ! -e /var/tmp/wb-once ]; then touch /var/tmp/wb-once; sync; sleep 60; fi\n"
    "      craftctl default\n"
)
"""The first build step sleeps a minute (after a ``sync``: the pull's state is on the disk)."""


def step_started(env: BuildEnv, step: str) -> bool:
    """Whether ``step`` of a part has started in the running build."""
    return any(
        isinstance(e.payload, StepStarted) and e.payload.part and e.payload.step == step
        for e in read_events(env.instance.events_log)
    )


def test_qemu_killed_during_a_step_fails_the_build_and_the_next_build_recovers(
    build_env: BuildEnv,
) -> None:
    project = build_env.use("c-make")
    file = project / "snapcraft.yaml"
    file.write_text(file.read_text() + SLOW_ONCE)
    before = tree_hashes(project)
    build_env.instance.events_log.unlink(missing_ok=True)  # follow this build's events only
    running = subprocess.Popen(
        [sys.executable, "-m", "workbench", "build", str(project), "--step", "prime"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=build_env.env,
    )
    try:
        wait_for(lambda: step_started(build_env, "build"), STEP_TIMEOUT, "the build step")
        time.sleep(5)  # in the sleep
        state = build_env.instance.load_state()
        assert state is not None
        assert state.pid is not None
        os.kill(state.pid, signal.SIGKILL)
        _, stderr = running.communicate(timeout=EXIT_TIMEOUT)
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()
    assert running.returncode == 1, stderr
    assert f"died: its qemu (pid {state.pid}) is gone" in stderr
    logs = build_env.instance.logs()
    for log in (logs["qemu"], logs["serial"]):  # empty after a warm start and a SIGKILL
        if log.exists() and log.stat().st_size:
            assert f"--- {log} (last lines) ---" in stderr, stderr
    assert "`vm logs` shows the logs" in stderr
    assert "Traceback" not in stderr
    assert build_env.instance.status() is Status.CRASHED
    assert tree_hashes(project) == before  # not packed: nothing left in the project

    packed = build_env.build("--step", "pack")
    assert packed.returncode == 0, packed.stderr
    assert "boot: cold boot: the last run of qemu died" in packed.stderr  # from the overlay
    snap = project / "hello-make_1.0_amd64.snap"
    assert packed.stdout.strip() == str(snap)
    after = tree_hashes(project)
    assert after.pop(snap.name)
    assert after == before


def test_guest_disk_full_names_the_cause_and_disk_size(build_env: BuildEnv) -> None:
    project = build_env.use("c-make")
    file = project / "snapcraft.yaml"
    file.write_text(file.read_text() + "    override-build: |\n" + FILL)
    before = tree_hashes(project)
    started = time.monotonic()
    done = build_env.build("--step", "build")
    assert done.returncode == 1, done.stderr
    assert "fallocate failed" not in done.stderr  # the disk filled up...
    assert "head: error writing 'standard output': No space left on device" in done.stderr
    line = next(x for x in done.stderr.splitlines() if ": error: " in x or x.startswith("error"))
    assert "disk full" in line  # ...and the error says so
    assert "--disk-size" in line
    assert "the VM stays up" in line
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 600
    assert build_env.instance.status() is Status.RUNNING
    assert tree_hashes(project) == before
    cleaned = subprocess.check_output(
        [sys.executable, "-m", "workbench", "clean", str(project)], env=build_env.env, timeout=300
    )
    assert cleaned.startswith(b"removed the build VM of ")
    assert not build_env.instance.root.exists()
