"""The VM boundary (issue 13): hostile paths, per-project keys, a read-only project, interrupted
launches, half-done state. The qemu behaviour runs for real on the tiny guest."""

from __future__ import annotations

import dataclasses
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from workbench.errors import VmError
from workbench.lifecycle.base_instance import seed_instance
from workbench.progress import Progress
from workbench.vm import launch, qemu, watchdog
from workbench.vm.hostkeys import known_hosts_line
from workbench.vm.images import BootImage
from workbench.vm.keys import public_line
from workbench.vm.local import Instance
from workbench.vm.ssh import SshExecutor
from workbench.vm.state import InstanceDir, InstanceState, Status

if TYPE_CHECKING:
    from vm_fixtures import VmEnv


HOSTILE = "p,path=/,mount_tag=x=y,,z"
"""A project directory name made to inject qemu options if it went into -virtfs unescaped."""


def hostile_config(root: Path) -> qemu.QemuConfig:
    return qemu.QemuConfig(
        name="a,b=c",
        kernel=root / "k,ernel",
        initrd=root / "i,nitrd",
        append="console=ttyS0",
        overlay=root / "o,verlay=x.qcow2",
        seed_iso=root / "s,eed.iso",
        qmp_socket=root / "q,mp.sock",
        serial_log=root / "s,erial.log",
        ssh_port=2222,
        project=root / HOSTILE,
        shares=(("wheelhouse", root / "w,h"),),
    )


def test_every_value_in_a_qemu_option_string_is_escaped() -> None:
    cfg = hostile_config(Path("/x,y=z"))
    argv = qemu.qemu_argv(cfg)
    opts = {
        word: [dict(qemu.split_opts(v)) for f, v in itertools.pairwise(argv) if f == word]
        for word in ("-drive", "-chardev", "-virtfs")
    }
    assert [d["file"] for d in opts["-drive"]] == [str(cfg.overlay), str(cfg.seed_iso)]
    assert [d["path"] for d in opts["-chardev"]] == [str(cfg.serial_log), str(cfg.qmp_socket)]
    assert [(d["path"], d["mount_tag"]) for d in opts["-virtfs"]] == [
        (str(cfg.project), "project"),
        (str(cfg.shares[0][1]), "wheelhouse"),
    ]
    assert all("readonly" in d for d in opts["-virtfs"])
    assert argv[argv.index("-name") + 1] == "workbench-a,,b=c"
    # -kernel, -initrd and -append are plain values, not option strings: never escaped
    assert argv[argv.index("-kernel") + 1] == str(cfg.kernel)
    assert argv[argv.index("-initrd") + 1] == str(cfg.initrd)
    assert qemu.share_tags(argv) == ["project", "wheelhouse"]


def test_split_opts_reads_what_escape_opt_writes() -> None:
    for value in ("", "a", ",", ",,", "a,b", "x=1,y=2", "/p,path=/home", "end,"):
        assert qemu.split_opts(f"k={qemu.escape_opt(value)},n=1") == [("k", value), ("n", "1")]


def qemu_processes(marker: str) -> list[int]:
    """Live qemu processes whose command line mentions ``marker`` (an instance directory)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and b"qemu-system" in argv[0] and any(marker.encode() in a for a in argv):
            found.append(int(proc.name))
    return found


@pytest.fixture
def hostile_project(vm_env: VmEnv) -> Iterator[tuple[Path, Path]]:
    """A project whose path holds ``,`` and ``=``, and a secret directory next to it."""
    secret = vm_env.cache.parent / "secret"
    secret.mkdir(exist_ok=True)
    (secret / "SECRET").write_text("host secret\n")
    project = vm_env.cache.parent / f"{HOSTILE}{secret}"
    project.mkdir(parents=True, exist_ok=True)
    (project / "inside.txt").write_text("in the project\n")
    tool = project / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    return project, secret


@pytest.mark.slow
def test_a_hostile_project_path_exports_that_directory_read_only_and_nothing_else(
    vm_env: VmEnv, tiny_image: BootImage, hostile_project: tuple[Path, Path]
) -> None:
    project, secret = hostile_project
    instances = vm_env.cache / "inst,a=b"  # overlay, seed, serial log and QMP socket too
    vm = vm_env.instance(project, tiny_image, instances=instances)
    before = {p.name: p.stat().st_mode for p in project.iterdir()}
    try:
        vm.up()
        assert sorted(vm.exec(["ls", "-A", "/project"], check=True).stdout.split()) == [
            "inside.txt",
            "tool",
        ]
        assert vm.exec(["cat", "/project/inside.txt"]).stdout == "in the project\n"
        mounts = vm.exec(["cat", "/proc/mounts"], check=True).stdout
        assert [line.split()[1] for line in mounts.splitlines() if " 9p " in line] == ["/project"]
        for attempt in (
            "touch /project/planted",
            "chmod u+s,g+s /project/tool",
            "chmod 0777 /project/inside.txt",
            "echo changed > /project/inside.txt",
            "mkdir /project/dir",
            "mknod /project/fifo p",
            "rm /project/tool",
        ):
            result = vm.exec(["sh", "-c", attempt])
            assert result.exit_status != 0, attempt
            assert "Read-only file system" in result.stderr, (attempt, result.stderr)
        assert vm.dir.serial_log.stat().st_size > 0  # the escaped serial path was written
        assert (secret / "SECRET").read_text() == "host secret\n"
    finally:
        vm.clean()
    assert {p.name: p.stat().st_mode for p in project.iterdir()} == before
    assert (project / "inside.txt").read_text() == "in the project\n"


@pytest.mark.slow
def test_share_mode_rw_is_the_explicit_way_to_let_the_guest_write(
    vm_env: VmEnv, tiny_image: BootImage
) -> None:
    project = vm_env.project("writable", {"inside.txt": "x\n"})
    vm = vm_env.instance(project, tiny_image, share_mode="rw")
    try:
        vm.up()
        vm.exec(["touch", "/project/made-in-guest"], check=True)
        state = vm.dir.load_state()
        assert state is not None
        assert qemu.project_writable(state.argv)
    finally:
        vm.clean()
    assert (project / "made-in-guest").exists()
    with pytest.raises(Exception, match="invalid share mode"):
        vm_env.instance(project, tiny_image, share_mode="rwx")


def base_key_login(port: int, base: InstanceDir, known_hosts: Path) -> None:
    SshExecutor(port=port, user="root", key=base.ssh_key, known_hosts=known_hosts).connect(
        timeout=5
    )


@pytest.mark.slow
def test_projects_copied_from_one_base_get_their_own_keys(
    vm_env: VmEnv, tiny_image: BootImage
) -> None:
    base_project = vm_env.project("base-of-two")
    base = vm_env.instance(base_project, tiny_image)
    copies = [vm_env.instance(vm_env.project(f"copy-{n}"), tiny_image) for n in (1, 2)]
    try:
        base.up()
        base.down(save=True)
        for copy in copies:
            seed_instance(base.dir, copy.dir, copy.project)
            assert copy.dir.ssh_key.read_bytes() == base.dir.ssh_key.read_bytes()
            copy.up()
            assert copy.exec(["true"]).exit_status == 0
            assert not copy.dir.rekey_marker.exists()
        user_keys = {c.dir.ssh_key.read_bytes() for c in copies} | {base.dir.ssh_key.read_bytes()}
        pins = {c.dir.known_hosts.read_text().split(" ", 1)[1] for c in copies}
        pins.add(base.dir.known_hosts.read_text().split(" ", 1)[1])
        assert len(user_keys) == 3
        assert len(pins) == 3
        for copy in copies:
            state = copy.dir.load_state()
            assert state is not None
            assert state.port is not None
            assert os.stat(copy.dir.ssh_key).st_mode & 0o077 == 0
            with pytest.raises(VmError, match="failed"):
                base_key_login(state.port, base.dir, copy.dir.known_hosts)
            # the guest now presents its own host key: the base's is refused
            with pytest.raises(VmError, match=r"SSH host key of \S+ changed"):
                pinned_to_base(state.port, copy, base)
        # a cold boot reads the (rewritten) seed again: the new keys still hold
        copies[0].down()
        copies[0].up()
        assert copies[0].exec(["true"]).exit_status == 0
    finally:
        for vm in (*copies, base):
            vm.clean()


def pinned_to_base(port: int, copy: Instance, base: Instance) -> None:
    """Log in to ``copy`` with its own user key, expecting the base's host key."""
    pin = copy.dir.root / "base-pin"
    pin.write_text(known_hosts_line(port, public_line(base.dir.host_key)))
    SshExecutor(port=port, user="root", key=copy.dir.ssh_key, known_hosts=pin).connect(timeout=5)


PHASES = (
    "qemu monitor",
    "SSH port forwarded",
    "SSH banner",
    "SSH login",
    "first-boot setup",
    "project mounted on /project",
)


def interrupt_at(phase: str) -> Callable[[object], None]:
    """A listener that sends this process SIGINT (a real Ctrl-C) when ``phase`` starts."""

    def listen(event: object) -> None:
        if isinstance(event, Progress) and event.message == phase and not event.finished:
            os.kill(os.getpid(), signal.SIGINT)

    return listen


def assert_reaped(vm: Instance) -> None:
    assert qemu_processes(str(vm.dir.root)) == []
    assert vm.dir.lock.holder() is None
    assert vm.dir.status() in (Status.STOPPED, Status.SAVED)


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["qemu started", *PHASES])
def test_ctrl_c_at_any_launch_phase_leaves_no_qemu_and_no_lock(
    vm_env: VmEnv, tiny_image: BootImage, phase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = vm_env.project("interrupted")
    vm = vm_env.instance(project, tiny_image, listener=interrupt_at(phase))
    if phase == "qemu started":  # between qemu's start and the state file naming it
        real_start = qemu.start

        def start_then_interrupt(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
            proc = real_start(argv, log)
            os.kill(os.getpid(), signal.SIGINT)
            return proc

        monkeypatch.setattr(qemu, "start", start_then_interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            vm.up()
        assert_reaped(vm)
        monkeypatch.undo()
        again = vm_env.instance(project, tiny_image)
        again.up()  # nothing half-done is in the way
        assert again.exec(["true"]).exit_status == 0
    finally:
        vm.clean()


@pytest.mark.slow
def test_a_failing_guest_command_in_a_warm_start_is_a_vm_error_and_frees_the_client(
    vm_env: VmEnv, tiny_image: BootImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = vm_env.project("warm-fail")
    vm = vm_env.instance(project, tiny_image)
    try:
        vm.up()
        vm.down(save=True)
        broken = (["sh", "-c", "echo the clock broke >&2; exit 3"],)
        monkeypatch.setattr(launch, "after_load", lambda _now: broken)
        with pytest.raises(VmError, match="the clock broke") as caught:
            vm.up()
        assert type(caught.value) is VmError
        assert vm.dir.status() is Status.FAILED  # kept up for `vm logs` / `vm shell`
        holder = vm.dir.lock.holder()
        assert holder is not None
        assert holder.pid != os.getpid()
        vm.down()
        assert vm.dir.lock.holder() is None
        assert qemu_processes(str(vm.dir.root)) == []
    finally:
        vm.clean()


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_clean_works_on_a_corrupt_instance_json_and_stops_its_qemu(
    vm_env: VmEnv, tiny_image: BootImage, damage: str
) -> None:
    project = vm_env.project(f"corrupt-{damage}", {"snapcraft.yaml": "name: corrupt\n"})
    vm = vm_env.instance(project, tiny_image)
    vm.up()
    vm.close()
    text = vm.dir.state_file.read_text()
    vm.dir.state_file.write_text(
        {"truncated": text[: len(text) // 2], "garbage": "\x00{{not json", "empty": ""}[damage]
    )
    status = vm_env.cli(project, "status")
    assert status.returncode == 1
    assert "unreadable instance state" in status.stderr
    assert "vm clean" in status.stderr
    done = vm_env.cli(project, "clean")
    assert done.returncode == 0, done.stderr
    assert not vm.dir.root.exists()
    assert qemu_processes(str(vm.dir.root)) == []
    # `workbench clean` (the build command) on a corrupt state without a running qemu
    vm.dir.create()
    vm.dir.state_file.write_text("{")
    cleaned = subprocess.run(
        [sys.executable, "-m", "workbench", "clean", str(project)],
        capture_output=True,
        text=True,
        env={**os.environ, "WORKBENCH_CACHE_DIR": str(vm_env.cache)},
        timeout=120,
        check=False,
    )
    assert cleaned.returncode == 0, cleaned.stderr
    assert not vm.dir.root.exists()


def test_instance_state_is_written_atomically_without_leftovers(tmp_path: Path) -> None:
    d = InstanceDir(tmp_path / "inst")
    d.create()
    state = InstanceState(project="/p", image="tiny", base_sha256="0" * 64, memory_mib=1, cpus=1)
    d.save_state(state)
    d.save_state(dataclasses.replace(state, state="saved"))
    assert d.load_state() == dataclasses.replace(state, state="saved")
    assert sorted(p.name for p in d.root.iterdir()) == ["instance.json", "qmp"]


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.5)
    return predicate()


@pytest.mark.slow
def test_every_running_vm_has_a_watchdog_that_bounds_its_console_log(
    vm_env: VmEnv, tiny_image: BootImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(watchdog.ENV_CAP, "65536")  # the watchdog inherits it
    vm = vm_env.instance(vm_env.project("chatty"), tiny_image)
    try:
        vm.up()
        assert wait_until(lambda: watchdog.running(vm.dir.root), 30)
        flood = (
            "i=0; while [ $i -lt 4000 ]; do echo console-flood-$i > /dev/console; i=$((i+1)); done"
        )
        vm.exec(["sh", "-c", flood], check=True, timeout=600)
        assert wait_until(lambda: vm.dir.serial_log.read_text().startswith("[workbench: "), 60)
        text = vm.dir.serial_log.read_text()
        assert "bytes of earlier console output dropped]" in text.splitlines()[0]
        assert vm.dir.serial_log.stat().st_size < 65536 + 32768  # cut, then a little more
        vm.down()
        assert wait_until(lambda: not watchdog.running(vm.dir.root), 30)  # leaves with the VM
    finally:
        vm.clean()
