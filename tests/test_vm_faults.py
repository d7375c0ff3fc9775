"""Faults survived, for real (issue #8): each provoked on tiny guests under TCG, each asserting the
message the user gets and that nothing is lost (the project directory hashes the same after).

Already provoked for real in ``test_vm_failures.py`` and not repeated here: the diagnosis table
(port in use, qemu's own out-of-memory refusal, a full guest disk -- whose fix now names
``--disk-size`` --, kernel panic, no 9p, SSH never up) and a warm state from other settings
(memory) that falls back to a cold boot with a notice. Here: qemu killed during a long command,
the guest's sshd killed mid-command, Ctrl-C during ``up`` and during ``exec``, two ``up`` at once,
``--disk-size``, bad disks and a corrupt base refused before qemu starts, a request for more RAM
than the host has available, and a snapshot of another base.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from workbench.errors import UsageError, VmError, WorkbenchError, format_error
from workbench.vm import diagnose, qemu
from workbench.vm.config import InstanceConfig
from workbench.vm.diagnose import FAILURES
from workbench.vm.executor import ConnectionLost
from workbench.vm.images import BootImage
from workbench.vm.local import Instance
from workbench.vm.lock import InstanceLock, ProcessRef
from workbench.vm.state import InstanceDir, InstanceState, Status

if TYPE_CHECKING:
    from vm_fixtures import VmEnv


FAILURE = {f.key: f for f in FAILURES}
PROJECT = {"snapcraft.yaml": "name: faults\nversion: '1'\n", "main.c": "int main(void){}\n"}
UP = ("up", "--memory", "384M", "--cpus", "1", "--accel", "tcg")


def tree_digest(root: Path) -> str:
    """One sha256 over every path, mode and file content under ``root``."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(f"{path.relative_to(root)}\0{path.lstat().st_mode:o}\0".encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def qemu_spy(tmp_path: Path) -> tuple[str, Path]:
    """A qemu binary that records each call in a marker file, then runs the real qemu."""
    marker = tmp_path / "qemu-called"
    spy = tmp_path / "qemu-spy"
    spy.write_text(f'#!/bin/sh\necho "$*" >> {marker}\nexec qemu-system-x86_64 "$@"\n')
    spy.chmod(0o755)
    return str(spy), marker


def popen_cli(vm_env: VmEnv, project: Path, *args: str) -> subprocess.Popen[str]:
    """``python -m workbench vm --project PROJECT ARGS`` in the background, with this cache."""
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", "vm", "--project", str(project), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "WORKBENCH_CACHE_DIR": str(vm_env.cache)},
    )


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.1)


def processes_of(instance: str) -> list[int]:
    """Pids whose command line names the instance (qemu runs as ``-name workbench-NAME``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if f"workbench-{instance}".encode() in cmdline:
                found.append(int(entry.name))
    return found


def assert_one_line(err: WorkbenchError) -> None:
    line = format_error(err)
    assert "\n" not in line
    assert line.startswith("error: ")


# -- fast: the pure parts ------------------------------------------------------------------------


def test_memory_notice_compares_with_mem_available() -> None:
    meminfo = "MemTotal:        8000000 kB\nMemFree:  100 kB\nMemAvailable:    2048000 kB\n"
    assert diagnose.memory_notice(2000, meminfo) is None
    notice = diagnose.memory_notice(4096, meminfo)
    assert notice is not None
    assert "4096 MiB of RAM is more than the host has available (2000 MiB of 7812 MiB)" in notice
    assert "--memory" in notice
    assert diagnose.memory_notice(10**6, "") is None  # no /proc/meminfo: nothing to say


def test_the_disk_full_fix_names_disk_size() -> None:
    assert "`vm up --disk-size 16G`" in FAILURE["disk-full"].fix
    found = diagnose.diagnose({diagnose.ERROR: "cp: write error: No space left on device"}, {})
    assert found is not None
    assert found.failure.key == "disk-full"


def test_check_disk_accepts_a_good_overlay_and_reports_a_corrupt_one(tmp_path: Path) -> None:
    base = tmp_path / "base.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "16M"], check=True)
    overlay = tmp_path / "overlay.qcow2"
    qemu.create_overlay(overlay, base, 32)
    assert qemu.virtual_mib(overlay) == 32
    assert qemu.check_disk(overlay) is None
    corrupt_l1(overlay)
    problem = qemu.check_disk(overlay)
    assert problem is not None
    assert "errors were found on the image" in problem


def test_release_never_frees_a_lock_another_live_process_holds(tmp_path: Path) -> None:
    lock = InstanceLock(tmp_path / "lock")
    with subprocess.Popen(["sleep", "30"]) as sleeper:
        owner = ProcessRef.of(sleeper.pid)
        assert owner is not None
        lock.acquire(owner)
        lock.release()  # e.g. `vm down` while another process's `up` is starting
        assert lock.holder() == owner
        sleeper.kill()
    lock.release()  # its owner is gone: a stale lock is freed
    assert lock.holder() is None
    assert not lock.path.exists()


def corrupt_l1(overlay: Path) -> None:
    """Write one cluster, then point its L1 entry at a misaligned offset (qemu-img check: 2)."""
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "write -P 0x55 0 64k", str(overlay)],
        check=True,
        capture_output=True,
    )
    with overlay.open("r+b") as f:
        l1_offset = struct.unpack(">Q", f.read(48)[40:48])[0]
        f.seek(l1_offset)
        f.write(struct.pack(">Q", 0x8000_0000_0123_4400))


# -- a booted guest shared by the faults that keep it (the last one kills it) --------------------


@pytest.fixture(scope="module")
def guest(vm_env: VmEnv, tiny_image: BootImage) -> Iterator[Instance]:
    project = vm_env.project("faults", PROJECT)
    vm = vm_env.instance(project, tiny_image)
    vm.up()
    yield vm
    vm.clean()


@pytest.mark.slow
def test_guest_sshd_killed_mid_command_fails_fast_and_clearly(guest: Instance) -> None:
    before = tree_digest(guest.project)
    start = time.monotonic()
    with pytest.raises(ConnectionLost) as info:
        guest.exec(["sh", "-c", "sleep 1; kill -9 $(pidof dropbear); sleep 100"], timeout=120)
    elapsed = time.monotonic() - start
    assert elapsed < 30, elapsed  # the dropped connection is seen at once, not at the deadline
    assert re.match(r"the SSH connection to \S+ was lost while `sh -c", info.value.brief)
    assert info.value.hint == "its SSH server or the machine stopped; `vm status` says which"
    assert_one_line(info.value)
    assert guest.dir.status() is Status.RUNNING  # only sshd died: the VM lives on
    # init respawns dropbear: the next command logs in again and works
    wait_until(lambda: _exec_ok(guest), 60, "a respawned dropbear")
    assert tree_digest(guest.project) == before


def _exec_ok(vm: Instance) -> bool:
    try:
        return vm.exec(["true"], timeout=20).exit_status == 0
    except VmError:
        vm.close()
        return False


@pytest.mark.slow
def test_ctrl_c_during_exec_leaves_the_vm_running(guest: Instance, vm_env: VmEnv) -> None:
    before = tree_digest(guest.project)
    state = guest.dir.load_state()
    assert state is not None
    assert state.qemu is not None
    command = "echo $$ > /root/exec.pid; echo started; sleep 20; touch /root/late"
    proc = popen_cli(vm_env, guest.project, "exec", "--", "sh", "-c", command)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "started\n"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "error: interrupted" in stderr
    assert "Traceback" not in stderr
    # qemu is not the exec's: it keeps running and keeps the lock; the exec process is gone.
    assert state.qemu.alive()
    assert guest.dir.lock.holder() == state.qemu
    assert guest.dir.status() is Status.RUNNING
    # In the guest the command outlives its connection (no pty, so no hangup): it still runs.
    assert guest.exec(["sh", "-c", "kill -0 $(cat /root/exec.pid)"]).exit_status == 0
    assert tree_digest(guest.project) == before


@pytest.mark.slow
def test_qemu_killed_during_a_long_command_then_up_recovers(
    guest: Instance, vm_env: VmEnv, tiny_image: BootImage
) -> None:
    project = guest.project
    before = tree_digest(project)
    guest.exec(["sh", "-c", "echo kept > /root/kept && sync"], check=True)
    state = guest.dir.load_state()
    assert state is not None
    assert state.qemu is not None
    started = threading.Event()
    outcome: list[BaseException] = []

    def long_command() -> None:
        try:
            guest.exec(
                ["sh", "-c", "echo started; sleep 200"],
                timeout=300,
                on_stdout=lambda text: started.set(),
            )
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=long_command)
    worker.start()
    assert started.wait(60)
    killed_at = time.monotonic()
    os.kill(state.qemu.pid, signal.SIGKILL)
    worker.join(60)
    assert not worker.is_alive()
    assert time.monotonic() - killed_at < 30
    assert len(outcome) == 1
    died = outcome[0]
    assert isinstance(died, VmError)
    assert died.brief == (
        f"the VM of instance {guest.dir.name} died: its qemu (pid {state.qemu.pid}) is gone"
    )
    assert died.details is not None
    assert f"--- {guest.dir.serial_log} (last lines) ---" in died.details
    assert_one_line(died)

    # The next commands say so too, with the last lines of the log.
    ran = vm_env.cli(project, "exec", "--", "true")
    assert ran.returncode == 1
    assert f"error: the VM of instance {guest.dir.name} died" in ran.stderr
    assert "`vm up` starts it again from its disk" in ran.stderr
    assert f"--- {guest.dir.serial_log} (last lines) ---" in ran.stderr
    status = vm_env.cli(project, "status")
    assert status.returncode == 0
    assert re.search(r"^status +crashed$", status.stdout, re.MULTILINE)
    assert "died: its qemu" in status.stderr

    # `up` recovers the instance from its overlay: what was synced before the kill is there.
    vm_env.notices.clear()
    again = vm_env.instance(project, tiny_image)
    again.up()
    assert f"took over the stale lock of process {state.qemu.pid}, which is not running" in (
        vm_env.notices
    )
    assert again.exec(["cat", "/root/kept"]).stdout == "kept\n"
    assert again.dir.status() is Status.RUNNING
    again.close()
    assert tree_digest(project) == before


# -- launches of their own -----------------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_during_boot_stops_qemu_and_frees_the_lock(vm_env: VmEnv) -> None:
    project = vm_env.project("ctrl-c-boot", PROJECT)
    before = tree_digest(project)
    d = InstanceDir.for_project(project)
    proc = popen_cli(vm_env, project, *UP)

    def qemu_started() -> bool:
        try:
            state = d.load_state()
        except VmError:
            return False  # being written
        return state is not None and state.qemu is not None

    wait_until(qemu_started, 120, "qemu to start")
    state = d.load_state()
    assert state is not None
    assert state.qemu is not None
    assert state.qemu.alive()
    proc.send_signal(signal.SIGINT)  # the readiness checks are running: the guest is booting
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "error: interrupted" in stderr
    assert not state.qemu.alive()  # stopped: a half-booted guest is of no use
    assert processes_of(d.name) == []  # and no orphan left
    assert d.lock.holder() is None
    assert d.status() is Status.STOPPED
    assert tree_digest(project) == before


@pytest.mark.slow
def test_two_ups_at_once_one_project_refused_two_projects_both_run(vm_env: VmEnv) -> None:
    one = vm_env.project("lock-one", PROJECT)
    two = vm_env.project("lock-two", PROJECT)
    digests = {p: tree_digest(p) for p in (one, two)}
    try:
        racers = [popen_cli(vm_env, one, *UP) for _ in range(2)]
        other = popen_cli(vm_env, two, *UP, "--disk-size", "1536M")
        results = [(*p.communicate(timeout=300), p.returncode) for p in (*racers, other)]
        results = [(code, out, err) for out, err, code in results]
        codes = sorted(code for code, _, _ in results[:2])
        assert codes == [0, 1], results
        refused = next(err for code, _, err in results[:2] if code == 1)
        assert "is locked by running process" in refused
        assert "it is already up or starting; use `vm down` first" in refused
        assert results[2][0] == 0, results[2]

        reports = [Instance(p).status() for p in (one, two)]
        assert all(r.status is Status.RUNNING for r in reports)
        assert reports[0].port != reports[1].port
        # --disk-size: recorded, and the guest sees a disk of that size (tiny's ext4 stays 1 GiB:
        # busybox has no resize2fs; debian-12's cloud-init grows its root file system)
        assert reports[1].disk_mib == 1536
        assert reports[0].disk_mib == 1024
        sectors = vm_env.cli(two, "exec", "--", "cat", "/sys/block/vda/size")
        assert int(sectors.stdout) * 512 == 1536 * 2**20

        # a disk never shrinks: refused before anything runs; a larger size grows it
        assert vm_env.cli(two, "down").returncode == 0
        shrink = vm_env.cli(two, *UP, "--disk-size", "1G")
        assert shrink.returncode == 2
        assert "disk size 1024 MiB is below this instance's minimum of 1536 MiB" in shrink.stderr
        grow = vm_env.cli(two, *UP, "--disk-size", "2G")
        assert grow.returncode == 0, grow.stderr
        assert "grew the disk of" in grow.stderr
        assert "from 1536 to 2048 MiB" in grow.stderr
        sectors = vm_env.cli(two, "exec", "--", "cat", "/sys/block/vda/size")
        assert int(sectors.stdout) * 512 == 2048 * 2**20
    finally:
        for p in (one, two):
            vm_env.cli(p, "down")
    assert {p: tree_digest(p) for p in (one, two)} == digests


def stopped_instance(vm_env: VmEnv, image: BootImage, name: str) -> tuple[Path, InstanceDir]:
    """A project and its instance directory as a launch leaves it (state, overlay), not running."""
    project = vm_env.project(name, PROJECT)
    d = InstanceDir.for_project(project)
    d.create()
    qemu.create_overlay(d.overlay, image.disk)
    d.save_state(
        InstanceState(
            str(project), image.name, image.sha256, 384, 1, disk_mib=1024, state="stopped"
        )
    )
    return project, d


@pytest.mark.slow
def test_bad_disks_are_refused_before_qemu_starts(
    vm_env: VmEnv, tiny_image: BootImage, tmp_path: Path
) -> None:
    base = tmp_path / "base.qcow2"
    shutil.copyfile(tiny_image.disk, base)
    image = replace(tiny_image, disk=base)
    project, d = stopped_instance(vm_env, image, "bad-disks")
    before = tree_digest(project)
    spy, marker = qemu_spy(tmp_path)
    good = d.overlay.read_bytes()

    def truncated() -> None:
        d.overlay.write_bytes(good[:100])

    def empty() -> None:
        d.overlay.write_bytes(b"")

    def corrupt() -> None:
        d.overlay.write_bytes(good)
        corrupt_l1(d.overlay)

    def missing() -> None:
        d.overlay.unlink()

    def no_backing() -> None:
        d.overlay.write_bytes(good)
        base.rename(tmp_path / "moved.qcow2")

    cases = [
        (truncated, "qcow2 header too short", "overlay-corrupt"),
        (empty, "Image is not in qcow2 format", "overlay-corrupt"),
        (corrupt, "ERROR", "overlay-corrupt"),
        (missing, "overlay.qcow2': No such file or directory", "overlay-missing"),
        (no_backing, f"Could not open backing file: Could not open '{base}'", "backing-missing"),
    ]
    for damage, said, key in cases:
        damage()
        vm = vm_env.instance(project, image, qemu_binary=spy)
        with pytest.raises(VmError) as info:
            vm.up()
        err = info.value
        assert err.brief.startswith(f"the disk of instance {d.name} failed its check: "), key
        assert said in err.brief, (key, err.brief)
        failure = FAILURE[key]
        assert err.hint == f"{failure.cause}; fix: {failure.fix} (see {d.qemu_log})", key
        assert_one_line(err)
        assert not marker.exists(), f"{key}: qemu was started"
        assert d.lock.holder() is None
    assert tree_digest(project) == before


@pytest.mark.slow
def test_a_base_image_with_a_wrong_sha256_is_refused_before_qemu_starts(
    vm_env: VmEnv, tiny_image: BootImage, tmp_path: Path
) -> None:
    copies = {}
    for role in ("disk", "kernel", "initrd"):
        copies[role] = tmp_path / getattr(tiny_image, role).name
        shutil.copyfile(getattr(tiny_image, role), copies[role])
    middle = copies["disk"].stat().st_size // 2
    with copies["disk"].open("r+b") as f:  # one flipped byte in the middle of the disk
        f.seek(middle)
        byte = f.read(1)
        f.seek(middle)
        f.write(bytes([byte[0] ^ 0xFF]))
    image = replace(tiny_image, **copies)
    project = vm_env.project("wrong-sha", PROJECT)
    before = tree_digest(project)
    spy, marker = qemu_spy(tmp_path)
    vm = vm_env.instance(project, image, qemu_binary=spy)
    with pytest.raises(VmError) as info:
        vm.up()
    assert info.value.brief.startswith("image tiny is corrupt: its files hash to ")
    assert info.value.hint == "rebuild it: python -m workbench vm image build --rebuild tiny"
    assert_one_line(info.value)
    assert not marker.exists()
    assert vm.dir.lock.holder() is None
    assert tree_digest(project) == before


@pytest.mark.slow
def test_a_snapshot_of_another_base_is_refused_before_qemu_starts(
    vm_env: VmEnv, tiny_image: BootImage, tmp_path: Path
) -> None:
    # Another base changes the disk under the overlay, not only the saved RAM: there is no cold
    # boot to fall back to, so `up` is refused with the way out.
    project, d = stopped_instance(vm_env, tiny_image, "other-base")
    other = replace(tiny_image, sha256="0" * 64)
    spy, marker = qemu_spy(tmp_path)
    with pytest.raises(VmError) as info:
        vm_env.instance(project, other, qemu_binary=spy).up()
    assert info.value.brief == (f"instance {d.name} was created from another build of image 'tiny'")
    assert info.value.hint == "run `vm clean` then `vm up` to recreate it on the current image"
    assert not marker.exists()
    assert d.lock.holder() is None


@pytest.mark.slow
def test_more_memory_than_the_host_has_available_is_diagnosed_before_start(
    vm_env: VmEnv, tiny_image: BootImage, tmp_path: Path
) -> None:
    project = vm_env.project("memory", PROJECT)
    spy, marker = qemu_spy(tmp_path)
    available = int(re.findall(r"MemAvailable:\s+(\d+)", diagnose.host_meminfo())[0]) // 1024
    asked = available * 64  # far beyond the host: qemu itself cannot reserve it
    seen: list[tuple[str, bool]] = []
    vm = Instance(
        project,
        InstanceConfig(image=tiny_image, memory=asked, cpus=1, qemu_binary=spy),
        notify=lambda line: seen.append((line, marker.exists())),
    )
    with pytest.raises(VmError) as info:
        vm.up()
    warned = [(line, late) for line, late in seen if "more than the host has available" in line]
    assert len(warned) == 1
    line, qemu_ran = warned[0]
    assert not qemu_ran  # said before qemu was started
    assert line.startswith(f"the guest's {asked} MiB of RAM is more than the host has available (")
    assert line.endswith("use a smaller --memory or stop other VMs")
    # the launch went ahead (a warning, not a refusal) and qemu's refusal is diagnosed
    assert marker.exists()
    assert info.value.hint is not None
    assert info.value.hint.startswith(FAILURE["out-of-memory"].cause)
    assert vm.dir.lock.holder() is None


@pytest.mark.slow
def test_a_disk_size_below_the_base_is_refused(vm_env: VmEnv, tiny_image: BootImage) -> None:
    project = vm_env.project("small-disk", PROJECT)
    with pytest.raises(UsageError, match="disk size 512 MiB is below this instance's minimum"):
        vm_env.instance(project, tiny_image, disk_size="512M").up()
    with pytest.raises(UsageError, match="invalid disk size 'lots'"):
        vm_env.instance(project, tiny_image, disk_size="lots")
