"""A real tiny guest under TCG: exec, streams, 9p both ways, SFTP, pinning, snapshots, lock, clean.

One guest is booted for the module (TCG boots cost CPU); each test gets it running, whatever the
test before did to it (stopped, saved, crashed, removed), so any order works.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from vm_fixtures import assert_another_host_key_is_refused

from workbench import dirs
from workbench.errors import BuildError, VmError
from workbench.vm import keys, qemu
from workbench.vm.executor import Command
from workbench.vm.hostkeys import HostKeyChanged, HostKeyUnknown
from workbench.vm.images import BootImage
from workbench.vm.local import Instance
from workbench.vm.lock import LockHeld
from workbench.vm.qmp import Qmp
from workbench.vm.readiness import wait_banner
from workbench.vm.ssh import SshExecutor
from workbench.vm.state import Status

if TYPE_CHECKING:
    from vm_fixtures import VmEnv

pytestmark = pytest.mark.slow

# The listening dropbear: a child of init that is not our own session's server process (which
# init also adopts once the first listener it was forked from is gone).
DROPBEAR_MASTER = (
    "for p in $(pidof dropbear); do "
    '[ "$(cut -d" " -f4 /proc/$p/stat)" = 1 ] && [ "$p" != "$PPID" ] && echo $p; done'
)


@pytest.fixture(scope="module")
def booted(vm_env: VmEnv, tiny_image: BootImage) -> Iterator[Instance]:
    project = vm_env.project("shared", {"hello.txt": "hello from the host\n"})
    # writable (--share-mode rw): the 9p test writes from the guest; the read-only default is
    # test_vm_boundary.py's
    vm = vm_env.instance(project, tiny_image, share_mode="rw")
    yield vm
    vm.clean()


@pytest.fixture
def vm(booted: Instance) -> Instance:
    """The module's guest, running with its project writable (started again when a test before
    stopped or removed it, or left it running as another instance started it)."""
    state = booted.dir.load_state() if booted.dir.status() is Status.RUNNING else None
    if state is None or not qemu.project_writable(state.argv):
        booted.down()
        booted.up()
    return booted


def test_up_reports_running_with_every_instance_file(vm: Instance) -> None:
    report = vm.status()
    assert report.status is Status.RUNNING
    forced = os.environ.get("WORKBENCH_ACCEL", "auto")
    probed = dirs.cache_dir() / "accel.json"  # auto: what the probe found on this host
    assert report.accel == (forced if forced != "auto" else json.loads(probed.read_text())["accel"])
    state = vm.dir.load_state()
    assert state is not None
    assert " ".join(state.argv).count(f"-accel {report.accel} ") == 1
    assert report.port is not None
    d = vm.dir
    for path in (d.overlay, d.seed_iso, d.ssh_key, d.host_key, d.known_hosts, d.qmp_socket):
        assert path.exists(), path
    assert stat.S_IMODE(d.ssh_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(d.host_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(d.qmp_dir.stat().st_mode) == 0o700
    console = d.serial_log.read_text(errors="replace")
    assert console  # the guest's console is captured: the kernel's banner unless it resumed
    assert "Linux version" in console or state.argv[-2:] == ["-loadvm", "warm"]
    state = d.load_state()
    assert state is not None
    assert state.argv[0] == "qemu-system-x86_64"
    assert f"127.0.0.1:{report.port}-:22" in " ".join(state.argv)


def test_exec_returns_exit_status_and_output(vm: Instance) -> None:
    result = vm.exec(["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert (result.exit_status, result.stdout, result.stderr) == (7, "out\n", "err\n")
    with pytest.raises(BuildError, match="exited with status 7"):
        vm.exec(["sh", "-c", "exit 7"], check=True)


def test_exec_streams_output_while_the_command_runs(vm: Instance) -> None:
    arrivals: list[tuple[float, str, str]] = []
    go = vm.project / "go"
    go.unlink(missing_ok=True)

    def out(text: str) -> None:
        arrivals.append(("out", text))
        if "first" in text:
            go.touch()  # the command waits for this: it ends only if "first" came before the end

    vm.exec(
        [
            "sh",
            "-c",
            "echo first; echo warn >&2; until [ -e /project/go ]; do sleep 0.1; done; echo second",
        ],
        timeout=120,
        on_stdout=out,
        on_stderr=lambda text: arrivals.append(("err", text)),
    )
    assert any(kind == "err" and "warn" in text for kind, text in arrivals)
    assert "".join(text for kind, text in arrivals if kind == "out") == "first\nsecond\n"


def test_exec_environment_cwd_and_timeout(vm: Instance) -> None:
    result = vm.exec(
        Command(["sh", "-c", 'echo "$GREETING" "$(pwd)"'], env={"GREETING": "hi there"}, cwd="/tmp")
    )
    assert result.stdout == "hi there /tmp\n"
    start = time.monotonic()
    with pytest.raises(VmError, match="did not finish within 1 s"):
        vm.exec(["sleep", "30"], timeout=1)
    assert time.monotonic() - start < 10
    assert vm.exec(["true"]).exit_status == 0  # the connection survives a timed-out command


def test_9p_share_reads_and_writes_both_ways(vm: Instance) -> None:
    assert vm.exec(["cat", "/project/hello.txt"]).stdout == "hello from the host\n"
    mounts = vm.exec(["cat", "/proc/mounts"]).stdout
    assert "project /project 9p " in mounts
    assert "msize=512000" in mounts
    vm.exec(["sh", "-c", "echo built > /project/out.txt && chmod 755 /project/out.txt"], check=True)
    out = vm.project / "out.txt"
    assert out.read_text() == "built\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o755  # security_model=none keeps the guest's mode
    (vm.project / "later.txt").write_text("written on the host after boot\n")
    assert vm.exec(["cat", "/project/later.txt"]).stdout == "written on the host after boot\n"


def test_push_and_pull_over_sftp(vm: Instance, tmp_path: Path) -> None:
    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(200_000))
    vm.push(src, "/root/data.bin")
    assert vm.exec(["sha256sum", "/root/data.bin"]).stdout.split()[0] == _sha256(src)
    back = tmp_path / "back.bin"
    vm.pull("/root/data.bin", back)
    assert back.read_bytes() == src.read_bytes()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_second_up_is_refused_by_the_lock(vm: Instance, vm_env: VmEnv) -> None:
    state = vm.dir.load_state()
    assert state is not None
    with pytest.raises(LockHeld, match=f"locked by running process {state.pid}"):
        vm_env.instance(vm.project, vm.config.image).up()
    assert vm.exec(["true"]).exit_status == 0


def test_a_changed_guest_host_key_is_refused(vm: Instance, tmp_path: Path) -> None:
    key = "/etc/dropbear/dropbear_ed25519_host_key"
    keys.generate_ed25519(tmp_path / "other", "impostor")
    vm.push(tmp_path / "other", "/root/other.openssh")
    # Replace the guest's host key and restart the listener (init respawns it); our open session
    # is a separate dropbear process and survives.
    vm.exec(
        [
            "sh",
            "-c",
            f"cp {key} /root/pinned"
            " && dropbearconvert openssh dropbear /root/other.openssh /root/other >/dev/null 2>&1"
            f" && cp /root/other {key} && kill $({DROPBEAR_MASTER})",
        ],
        check=True,
    )
    state = vm.dir.load_state()
    assert state is not None
    assert state.port is not None
    fresh = SshExecutor(
        port=state.port, user="root", key=vm.dir.ssh_key, known_hosts=vm.dir.known_hosts
    )
    _wait_for_banner(state.port)
    try:
        with pytest.raises(HostKeyChanged, match="refusing to connect"):
            fresh.connect(timeout=10)
    finally:  # the module's guest serves its pinned key again, whatever happened
        _restore_host_key(vm, fresh, state.port, key)
    assert fresh.run(["true"]).exit_status == 0
    fresh.close()


def _restore_host_key(vm: Instance, fresh: SshExecutor, port: int, key: str) -> None:
    """Put the pinned host key back and restart the listener until ``fresh`` logs in with it
    (a listener that was not restarted yet, on a busy host, still serves the other key)."""
    for _attempt in range(3):
        vm.exec(["sh", "-c", f"cp /root/pinned {key} && kill $({DROPBEAR_MASTER})"], check=True)
        _wait_for_banner(port)
        try:
            fresh.connect(timeout=10)
            return
        except HostKeyChanged:
            continue
    fresh.connect(timeout=10)


def _wait_for_banner(port: int) -> None:
    """Wait for the respawned dropbear (init restarts it within a second or two)."""
    deadline = time.monotonic() + 30
    time.sleep(0.5)
    while wait_banner(port, 5) is None:
        assert time.monotonic() < deadline, "the respawned dropbear never answered"
        time.sleep(0.5)


def test_a_known_hosts_entry_for_another_key_is_refused(vm: Instance, tmp_path: Path) -> None:
    state = vm.dir.load_state()
    assert state is not None
    assert state.port is not None
    assert_another_host_key_is_refused(vm.dir, state.port, tmp_path)
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyUnknown, match="is not pinned"):
        SshExecutor(port=state.port, user="root", key=vm.dir.ssh_key, known_hosts=empty).connect()


def test_snapshot_save_list_load(vm: Instance) -> None:
    vm.exec(["sh", "-c", "echo before > /root/marker"], check=True)
    tag = vm.snapshot("s1")
    assert tag.memory_mib == 384
    assert tag.cpus == 1
    assert vm.exec(["cat", "/project/hello.txt"]).exit_status == 0  # remounted after savevm
    vm.exec(["sh", "-c", "echo after > /root/marker"], check=True)
    listed = {s.name: s for s in vm.snapshots()}
    assert listed["s1"].loadable
    assert listed["s1"].entry is not None
    time.sleep(10)  # the saved state's clock is now 10 s behind the host's
    vm.load_snapshot("s1")
    assert vm.exec(["cat", "/root/marker"]).stdout == "before\n"
    assert vm.exec(["cat", "/project/hello.txt"]).stdout == "hello from the host\n"
    before = time.time()
    guest_now = int(vm.exec(["date", "+%s"]).stdout)
    # the clock set from the host's after loadvm, in whole seconds (up to 2 s behind)
    assert before - 3 <= guest_now <= time.time() + 1
    vm.delete_snapshot("s1")
    assert "s1" not in {s.name for s in vm.snapshots()}


def test_savevm_with_the_share_mounted_is_refused_by_qemu(vm: Instance) -> None:

    assert " /project 9p " in vm.exec(["cat", "/proc/mounts"]).stdout
    with (
        Qmp(vm.dir.qmp_socket).connect() as qmp,
        pytest.raises(VmError, match="Migration is disabled"),
    ):
        qmp.savevm("mounted")


def test_down_save_then_warm_start(vm: Instance, vm_env: VmEnv) -> None:
    vm.exec(["sh", "-c", "echo warm > /root/state"], check=True)
    assert vm.down(save=True) == "quit"
    assert vm.dir.status() is Status.SAVED
    again = vm_env.instance(vm.project, vm.config.image)
    again.up()
    assert again.dir.status() is Status.RUNNING
    state = again.dir.load_state()
    assert state is not None
    assert state.argv[-2:] == ["-loadvm", "warm"]
    assert again.exec(["cat", "/root/state"]).stdout == "warm\n"
    assert again.exec(["cat", "/project/hello.txt"]).exit_status == 0
    again.close()


def test_down_then_cold_up(vm: Instance, vm_env: VmEnv) -> None:
    vm.exec(["sh", "-c", "echo warm > /root/state && sync"], check=True)
    assert vm.down() in ("powered down", "quit")
    assert vm.dir.status() is Status.STOPPED
    assert vm.dir.lock.holder() is None
    with pytest.raises(VmError, match="not running"):
        vm.exec(["true"])
    vm.up()
    state = vm.dir.load_state()
    assert state is not None
    assert "-loadvm" not in state.argv
    assert vm.exec(["cat", "/root/state"]).stdout == "warm\n"  # the disk kept it


def test_a_crashed_qemu_leaves_a_stale_lock_that_up_takes_over(vm: Instance, vm_env: VmEnv) -> None:
    state = vm.dir.load_state()
    assert state is not None
    assert state.qemu is not None
    os.kill(state.qemu.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while vm.dir.status() is not Status.CRASHED:
        assert time.monotonic() < deadline, vm.dir.status()
        time.sleep(0.1)
    vm_env.notices.clear()
    again = vm_env.instance(vm.project, vm.config.image)
    again.up()
    assert vm_env.notices[0] == (
        f"took over the stale lock of process {state.qemu.pid}, which is not running"
    )
    assert again.dir.status() is Status.RUNNING
    again.close()


def test_context_manager_stops_what_it_started(vm_env: VmEnv, tiny_image: BootImage) -> None:
    project = vm_env.project("ctx")
    with vm_env.instance(project, tiny_image) as vm:
        vm.up()
        assert vm.exec(["echo", "ok"]).stdout == "ok\n"
        pid = vm.status().pid
    assert pid is not None
    assert vm.dir.status() is Status.STOPPED
    assert (
        not Path(f"/proc/{pid}").exists() or "qemu" not in Path(f"/proc/{pid}/cmdline").read_text()
    )
    vm.clean()
    assert not vm.dir.root.exists()


def test_qmp_works_inside_a_running_event_loop(vm: Instance) -> None:
    """As in a Jupyter kernel, where the calling thread already runs an asyncio loop."""

    async def in_loop() -> str:
        with Qmp(vm.dir.qmp_socket).connect() as qmp:
            return qmp.status()

    assert asyncio.run(in_loop()) == "running"


def test_clean_stops_qemu_and_removes_the_directory(vm: Instance) -> None:
    state = vm.dir.load_state()
    assert state is not None
    assert state.qemu is not None
    assert state.qemu.alive()
    vm.clean()
    assert not vm.dir.root.exists()
    assert not state.qemu.alive()
