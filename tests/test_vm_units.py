"""Fast tests of the VM runtime's pure parts and small runners (no guest is booted here)."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pycdlib
import pytest

from workbench.errors import BuildError, UsageError, VmError
from workbench.progress import Progress
from workbench.vm import accel, binfmt, qemu, watchdog
from workbench.vm.arch import emulator_hint, guest_arch
from workbench.vm.config import InstanceConfig, parse_memory
from workbench.vm.diagnose import ERROR, QEMU, SERIAL, diagnose, explain, tail
from workbench.vm.executor import Completed, command_line
from workbench.vm.hostkeys import known_hosts_line
from workbench.vm.images import BootImage
from workbench.vm.launch import mount_command
from workbench.vm.lock import InstanceLock, LockHeld, ProcessRef
from workbench.vm.prepare import HOST_CA_BUNDLE, prepare
from workbench.vm.qmp import parse_snapshots
from workbench.vm.readiness import Check, QemuExited, run_checks
from workbench.vm.snapshots import SnapshotTag, check_name, mismatches
from workbench.vm.state import InstanceDir, InstanceState, Status, derive_status, instance_name

# -- qemu command line -----------------------------------------------------------------------------


def config(**changes: Any) -> qemu.QemuConfig:
    base = qemu.QemuConfig(
        name="proj-0123456789",
        kernel=Path("/img/vmlinuz"),
        initrd=Path("/img/initrd.img"),
        append="root=/dev/vda rw console=ttyS0",
        overlay=Path("/inst/overlay.qcow2"),
        seed_iso=Path("/inst/seed.iso"),
        qmp_socket=Path("/inst/qmp/qmp.sock"),
        serial_log=Path("/inst/serial.log"),
        ssh_port=40022,
        project=Path("/home/me/proj"),
        memory_mib=768,
        cpus=3,
    )
    return dataclasses.replace(base, **changes)


def option(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, word in enumerate(argv) if word == flag]


def test_qemu_argv_boots_the_overlay_with_seed_network_serial_qmp_and_share() -> None:
    argv = qemu.qemu_argv(config())
    assert argv[0] == "qemu-system-x86_64"
    assert option(argv, "-accel") == ["tcg"]
    assert option(argv, "-cpu") == ["max"]
    assert option(argv, "-m") == ["768M"]
    assert option(argv, "-smp") == ["3"]
    assert option(argv, "-kernel") == ["/img/vmlinuz"]
    assert option(argv, "-append") == ["root=/dev/vda rw console=ttyS0 panic=-1"]
    assert option(argv, "-drive") == [
        "file=/inst/overlay.qcow2,if=virtio,format=qcow2",
        "file=/inst/seed.iso,if=virtio,format=raw,readonly=on,media=cdrom",
    ]
    assert option(argv, "-netdev") == ["user,id=net0,hostfwd=tcp:127.0.0.1:40022-:22"]
    assert option(argv, "-chardev") == [
        "file,id=serial0,path=/inst/serial.log,append=on",
        "socket,id=qmp0,path=/inst/qmp/qmp.sock,server=on,wait=off",
    ]
    assert option(argv, "-serial") == ["chardev:serial0"]
    assert option(argv, "-mon") == ["chardev=qmp0,mode=control"]
    assert option(argv, "-monitor") == ["none"]
    assert option(argv, "-virtfs") == [
        "local,path=/home/me/proj,mount_tag=project,security_model=none,readonly=on,id=project"
    ]
    assert "-no-reboot" in argv
    assert "-loadvm" not in argv
    assert not any("telnet" in word for word in argv)


def test_qemu_argv_variants() -> None:
    kvm = qemu.qemu_argv(config(accel="kvm", loadvm="warm", project=None))
    assert option(kvm, "-cpu") == ["host"]
    assert kvm[-2:] == ["-loadvm", "warm"]
    assert "-virtfs" not in kvm
    assert qemu.kernel_append("console=ttyS0 panic=5") == "console=ttyS0 panic=5"
    assert qemu.kernel_append("") == "panic=-1"


def test_qemu_argv_for_an_arm64_guest() -> None:
    append = "root=/dev/vda rw console=ttyAMA0"
    argv = qemu.qemu_argv(config(arch="arm64", append=append))
    assert argv[0] == "qemu-system-aarch64"
    assert option(argv, "-machine") == ["virt"]
    assert (option(argv, "-accel"), option(argv, "-cpu")) == (["tcg"], ["cortex-a57"])
    assert option(argv, "-append") == [f"{append} panic=-1"]
    assert qemu.machine_of(argv) == "virt"  # what a snapshot tag records
    assert option(argv, "-drive")[0] == "file=/inst/overlay.qcow2,if=virtio,format=qcow2"
    on_arm64 = qemu.qemu_argv(
        config(arch="arm64", accel="kvm", binary="/opt/q/qemu-system-aarch64")
    )
    assert (on_arm64[0], option(on_arm64, "-cpu")) == ("/opt/q/qemu-system-aarch64", ["host"])


def test_emulator_hint_names_the_debian_package() -> None:
    assert emulator_hint("/usr/bin/qemu-system-aarch64") == "install qemu-system-arm (./dev does)"
    assert emulator_hint("qemu-system-x86_64") == "install qemu-system-x86 (./dev does)"
    assert "qemu-system-s390x" in emulator_hint("qemu-system-s390x")


def test_a_foreign_guest_runs_under_tcg_without_a_probe(tmp_path: Path) -> None:
    notes: list[str] = []

    def probe() -> str | None:
        raise AssertionError("KVM probed for an arm64 guest")

    args = {"probe": probe, "cache": tmp_path / "accel.json", "notify": notes.append}
    choice = accel.choose(None, guest="arm64", **args)  # type: ignore[arg-type]
    assert (choice.accel, choice.reason) == ("tcg", "an arm64 guest is emulated on this amd64 host")
    assert notes == [f"using TCG (slow software emulation): {choice.reason}"]
    with pytest.raises(UsageError, match="KVM cannot run an arm64 guest"):
        accel.choose("kvm", guest="arm64", **args)  # type: ignore[arg-type]
    assert accel.choose("tcg", guest="arm64", **args).reason == "forced (tcg)"  # type: ignore[arg-type]


def test_free_port_is_bindable_on_loopback() -> None:
    port = qemu.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


# -- snapshot tags -------------------------------------------------------------------------------

TAG = SnapshotTag("a" * 64, 512, 2, "q35", "7.2.22")


def test_tag_matching() -> None:
    assert mismatches(TAG, TAG) == []
    other = SnapshotTag("b" * 64, 1024, 2, "q35", "8.0.0")
    assert mismatches(TAG, other) == [
        f"base sha256 {'a' * 12} != {'b' * 12}",
        "memory mib 512 != 1024",
        "qemu version 7.2.22 != 8.0.0",
    ]
    assert mismatches(None, TAG) == ["no tag was recorded for it"]
    assert SnapshotTag.from_json(TAG.to_json()) == TAG
    assert SnapshotTag.from_json({"memory_mib": 1}) is None


def test_snapshot_names() -> None:
    assert check_name("warm-1.b") == "warm-1.b"
    for bad in ("", "1abc", "a b", "a;rm", "x" * 65):
        with pytest.raises(UsageError, match="invalid snapshot name"):
            check_name(bad)


def test_parse_info_snapshots() -> None:
    text = (
        "List of snapshots present on all disks:\n"
        "ID        TAG               VM SIZE                DATE     VM CLOCK     ICOUNT\n"
        "--        s1               97.4 MiB 2026-11-26 02:04:04  00:00:12.345\n"
        "--        warm              419 MiB 2026-11-26 02:05:00  00:01:30.123\n"
    )
    entries = parse_snapshots(text)
    assert [e.tag for e in entries] == ["s1", "warm"]
    assert entries[0].vm_size == "97.4 MiB"
    assert entries[0].date == "2026-11-26 02:04:04"
    assert parse_snapshots("There is no snapshot available.\n") == []


# -- diagnosis -----------------------------------------------------------------------------------

SAMPLES = {
    "kvm-permission": (QEMU, "Could not access KVM kernel module: Permission denied\n"),
    "port-in-use": (
        QEMU,
        "qemu-system-x86_64: -netdev user,id=net0,hostfwd=tcp:127.0.0.1:5555-:22: "
        "Could not set up host forwarding rule 'tcp:127.0.0.1:5555-:22'\n",
    ),
    "backing-missing": (
        QEMU,
        "qemu-system-x86_64: -drive file=/i/overlay.qcow2,if=virtio,format=qcow2: Could not "
        "open backing file: Could not open '/b/disk.qcow2': No such file or directory\n",
    ),
    "overlay-missing": (
        QEMU,
        "qemu-system-x86_64: -drive file=/i/overlay.qcow2,if=virtio,format=qcow2: "
        "Could not open '/i/overlay.qcow2': No such file or directory\n",
    ),
    "overlay-corrupt": (QEMU, "qemu-system-x86_64: -drive file=x: qcow2 header too short\n"),
    "out-of-memory": (QEMU, "qemu-system-x86_64: cannot set up guest memory 'pc.ram': ...\n"),
    "disk-full": (ERROR, "dd: error writing '/fill': No space left on device\n"),
    "snapshot-incompatible": (ERROR, "qemu refused `loadvm s`: Size mismatch: pc.ram\n"),
    "kernel-panic": (
        SERIAL,
        "[    2.09] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block\n",
    ),
    "no-9p": (ERROR, "mount: mounting project on /project failed: No such device\n"),
    "ssh-never-up": (ERROR, "the guest's SSH server never answered on port 4 within 15 s\n"),
}


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_diagnosis_table_matches_sample_logs(key: str) -> None:
    source, text = SAMPLES[key]
    logs = {QEMU: Path("/i/qemu.log"), SERIAL: Path("/i/serial.log")}
    found = diagnose({source: "noise\n" + text + "more noise\n"}, logs)
    assert found is not None
    assert found.failure.key == key
    assert found.evidence == text.strip()
    assert found.line().endswith(f"(see {logs.get(source, logs[SERIAL])})")
    assert "; fix: " in found.line()


def test_diagnosis_prefers_specific_entries_and_may_find_nothing() -> None:
    oom_panic = "Kernel panic - not syncing: Out of memory and no killable processes\n"
    found = diagnose({SERIAL: oom_panic}, {})
    assert found is not None
    assert found.failure.key == "out-of-memory"
    assert diagnose({QEMU: "all fine\n", SERIAL: "booted\n", ERROR: "exit 1"}, {}) is None
    # a source an entry does not list is not searched: panics are read from the console only
    assert diagnose({ERROR: "Kernel panic - not syncing"}, {}) is None


def test_explain_reads_log_tails(tmp_path: Path) -> None:
    qemu_log, serial_log = tmp_path / "qemu.log", tmp_path / "serial.log"
    serial_log.write_text("x\n" * 5000 + "Kernel panic - not syncing: Attempted to kill init!\n")
    found = explain("qemu exited", qemu_log=qemu_log, serial_log=serial_log)
    assert found is not None
    assert found.failure.key == "kernel-panic"
    assert found.log == serial_log
    assert tail(serial_log, 2) == "x\nKernel panic - not syncing: Attempted to kill init!"
    assert tail(tmp_path / "missing.log") == ""


# -- lock and process references -----------------------------------------------------------------


def test_process_ref_liveness_ignores_zombies_and_recycled_pids() -> None:
    me = ProcessRef.current()
    assert me.alive()
    assert not ProcessRef(me.pid, me.start_time + 1).alive()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    ref = ProcessRef.of(child.pid)
    assert ref is not None
    deadline = time.monotonic() + 10
    while ref.alive():  # exits, stays a zombie until reaped
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert Path(f"/proc/{child.pid}").exists()
    child.wait()
    assert ProcessRef.parse(str(me)) == me
    assert ProcessRef.parse("garbage") is None


def test_lock_refuses_a_live_owner_and_takes_over_a_dead_one(tmp_path: Path) -> None:
    lock = InstanceLock(tmp_path / "lock")
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        owner = ProcessRef.of(sleeper.pid)
        assert owner is not None
        assert lock.acquire(owner) is None
        assert lock.holder() == owner
        with pytest.raises(LockHeld, match=f"locked by running process {sleeper.pid}"):
            lock.acquire(ProcessRef.current())
    finally:
        sleeper.kill()
        sleeper.wait()
    assert lock.holder() is None
    notice = lock.acquire(ProcessRef.current())
    assert notice == f"took over the stale lock of process {sleeper.pid}, which is not running"
    assert lock.acquire(ProcessRef.current()) is None  # re-entrant for the same owner
    lock.release()
    assert not lock.path.exists()


# -- instance directory and status ---------------------------------------------------------------

STATE = InstanceState(project="/p", image="tiny", base_sha256="a" * 64, memory_mib=512, cpus=2)


@pytest.mark.parametrize(
    ("recorded", "alive", "overlay", "status"),
    [
        (None, False, False, Status.ABSENT),
        ("starting", True, True, Status.STARTING),
        ("running", True, True, Status.RUNNING),
        ("failed", True, True, Status.FAILED),
        ("running", False, True, Status.CRASHED),
        ("starting", False, True, Status.CRASHED),
        ("stopped", False, True, Status.STOPPED),
        ("failed", False, True, Status.STOPPED),
        ("saved", False, True, Status.SAVED),
        ("stopped", False, False, Status.BROKEN),
    ],
)
def test_status_derivation(
    recorded: str | None, alive: bool, overlay: bool, status: Status
) -> None:
    state = None if recorded is None else InstanceState(**{**STATE.__dict__, "state": recorded})
    assert derive_status(state, qemu_alive=alive, overlay=overlay) is status


def test_instance_dir_naming_state_and_status(tmp_path: Path) -> None:
    project = tmp_path / "My Project!"
    project.mkdir()
    name = instance_name(project)
    assert name.startswith("My-Project-")
    assert len(name.rsplit("-", 1)[1]) == 10
    assert instance_name(project) == name
    twin = tmp_path / "other" / "My Project!"
    twin.mkdir(parents=True)
    assert instance_name(twin) != name
    d = InstanceDir.for_project(project, instances=tmp_path / "instances")
    assert d.status() is Status.ABSENT
    d.create()
    assert oct(d.root.stat().st_mode & 0o777) == "0o700"
    assert oct(d.qmp_dir.stat().st_mode & 0o777) == "0o700"
    d.overlay.touch()
    me = ProcessRef.current()
    d.save_state(STATE.launched(me, state="running", port=1234, argv=["qemu"]))
    assert d.load_state() == STATE.launched(me, state="running", port=1234, argv=["qemu"])
    assert d.status() is Status.RUNNING  # "qemu" here is this very process
    d.save_state(STATE.launched(ProcessRef(me.pid, me.start_time + 1), state="running"))
    assert d.status() is Status.CRASHED
    d.state_file.write_text("{not json")
    with pytest.raises(VmError, match="unreadable instance state"):
        d.load_state()


def test_instance_dir_refuses_socket_paths_too_long(tmp_path: Path) -> None:
    d = InstanceDir(tmp_path / ("x" * 120))
    with pytest.raises(VmError, match="too long for a unix socket"):
        d.create()


# -- SSH helpers, memory sizes, readiness ----------------------------------------------------------


def test_command_line_quotes_every_word() -> None:
    assert command_line(["echo", "a b", "$HOME"]) == "echo 'a b' '$HOME'"
    assert (
        command_line(["make"], env={"CC": "gcc -O2"}, cwd="/project/my dir")
        == "cd '/project/my dir' && env 'CC=gcc -O2' make"
    )
    with pytest.raises(VmError):
        command_line([])
    assert (
        known_hosts_line(2222, "ssh-ed25519 AAAAC3Nz host@x")
        == "[127.0.0.1]:2222 ssh-ed25519 AAAAC3Nz\n"
    )


def test_completed_check() -> None:
    ok = Completed(["true"], 0, "", "")
    assert ok.check() is ok
    with pytest.raises(BuildError, match=r"`false x` exited with status 1: boom"):
        Completed(["false", "x"], 1, "", "warning\nboom\n").check()


def test_mount_command_and_memory_sizes() -> None:
    assert "msize=8192" in mount_command(8192)[2]
    assert "version=9p2000.L" in mount_command(512000)[2]
    assert parse_memory("1G") == 1024
    assert parse_memory("512M") == 512
    assert parse_memory("2GiB") == 2048
    assert parse_memory(256) == 256
    for bad in ("", "0", "1T", "lots"):
        with pytest.raises(UsageError, match="invalid memory size"):
            parse_memory(bad)


def test_readiness_runs_checks_in_order_with_deadlines() -> None:
    events: list[Progress] = []
    calls: list[str] = []

    def after(n: int, name: str) -> Check:
        """A check that passes on its (n+1)th attempt."""
        count = iter(range(n + 1))

        def attempt(_left: float) -> bool:
            calls.append(name)
            return next(count) >= n

        return Check(name, attempt, 5, "hint")

    run_checks(
        [after(2, "a"), after(0, "b")],
        qemu_alive=lambda: True,
        listener=events.append,
        task="t",
        poll=0,
    )
    assert calls == ["a", "a", "a", "b"]
    assert [e.message for e in events] == ["a", "b", "ready"]
    assert events[-1].finished
    never = Check("banner", lambda left: False, 0.2, "see serial.log", timeout_message="no banner")
    with pytest.raises(VmError, match=r"no banner within 0.2 s \(step 1 of 1\)") as info:
        run_checks([never], qemu_alive=lambda: True, listener=events.append, task="t", poll=0.05)
    assert info.value.hint == "see serial.log"
    with pytest.raises(QemuExited, match=r"qemu exited during step 1 of 1 \(banner\)"):
        run_checks([never], qemu_alive=lambda: False, listener=events.append, task="t")


# -- accelerator choice --------------------------------------------------------------------------


def test_requested_accelerator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_ACCEL", raising=False)
    assert accel.requested(None) == "auto"
    monkeypatch.setenv("WORKBENCH_ACCEL", "tcg")
    assert accel.requested(None) == "tcg"
    assert accel.requested("kvm") == "kvm"
    with pytest.raises(UsageError, match="unknown accelerator 'xen'"):
        accel.requested("xen")


def test_choose_probes_once_per_boot_and_says_why_tcg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WORKBENCH_ACCEL", raising=False)
    kvm_device = tmp_path / "kvm"
    kvm_device.touch()
    monkeypatch.setattr(accel, "KVM_DEVICE", kvm_device)
    probes: list[str] = []
    notes: list[str] = []

    def hanging() -> str | None:
        probes.append("probed")
        return "a KVM test guest printed nothing within 3 s (KVM hangs)"

    cache = tmp_path / "accel.json"
    args = {"cache": cache, "notify": notes.append, "guest": "amd64"}
    first = accel.choose(None, probe=hanging, **args)  # type: ignore[arg-type]
    again = accel.choose("auto", probe=hanging, **args)  # type: ignore[arg-type]
    reason = "a KVM test guest printed nothing within 3 s (KVM hangs)"
    assert first == again == accel.AccelChoice("tcg", reason)
    assert probes == ["probed"]  # the verdict is cached for this boot
    assert notes == [f"using TCG (slow software emulation): {reason}"] * 2
    assert json.loads(cache.read_text())["boot_id"] == accel.boot_id()
    forced = accel.choose("kvm", probe=hanging, **args)  # type: ignore[arg-type]
    assert forced == accel.AccelChoice("kvm", "forced (kvm)")
    cache.write_text(json.dumps({"boot_id": "another boot", "accel": "kvm", "reason": "x"}))
    works = accel.choose(None, probe=lambda: None, **args)  # type: ignore[arg-type]
    assert works == accel.AccelChoice("kvm", "KVM probe passed")
    cache.unlink()
    monkeypatch.setattr(accel, "KVM_DEVICE", tmp_path / "absent")
    missing = accel.choose(None, probe=hanging, **args)  # type: ignore[arg-type]
    assert missing.reason == f"no read/write access to {tmp_path / 'absent'}"
    assert len(probes) == 1


@pytest.mark.slow
def test_kvm_probe_is_killed_at_its_deadline() -> None:
    """A real KVM guest that hangs (here: the default CPU model) is killed at the deadline."""
    kernel = sorted(Path("/boot").glob("vmlinuz-*"))[-1]
    start = time.monotonic()
    verdict = accel.probe_kvm(
        "qemu-system-x86_64", kernel, guest_arch("amd64"), deadline=2.0, cpu="qemu64"
    )
    elapsed = time.monotonic() - start
    assert elapsed < 2.0 + 30  # given up at the deadline, not left to hang (generous: a busy host)
    if verdict is not None:  # on a host where KVM works, the banner comes and verdict is None
        assert "KVM" in verdict
    probes = [c for c in _cmdlines() if b"earlyprintk=ttyS0" in c and b"qemu64" in c]
    assert probes == []


def _cmdlines() -> list[bytes]:
    out = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            out.append(path.read_bytes())
        except OSError:
            continue  # the process ended meanwhile
    return out


def test_cli_usage_errors_are_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "WORKBENCH_CACHE_DIR": str(tmp_path / "cache")}
    run = [sys.executable, "-m", "workbench", "vm", "--project", str(tmp_path)]
    proc = subprocess.run([*run, "exec"], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 2
    assert proc.stderr == "error: no command given (vm exec -- CMD ARGS...)\n"
    proc = subprocess.run(
        [*run, "status", "--json"], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["status"] == "absent"
    proc = subprocess.run(
        [*run, "exec", "--", "true"], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 2  # the user's mistake: one line with the hint
    assert proc.stderr == f"error: no instance for {tmp_path.resolve()} (run `vm up` first)\n"
    proc = subprocess.run([*run, "down"], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0
    assert proc.stdout.endswith(": not running\n")
    assert not (tmp_path / "cache" / "instances").exists()  # these never create anything


def test_clean_all_removes_instances_and_base_images(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stale = InstanceDir(cache / "instances" / "old-0123456789")
    stale.create()
    stale.save_state(STATE.launched(None, state="stopped"))
    (cache / "images" / "tiny").mkdir(parents=True)
    (cache / "images" / "tiny" / "disk.qcow2").write_bytes(b"base")
    env = {**os.environ, "WORKBENCH_CACHE_DIR": str(cache)}
    run = [sys.executable, "-m", "workbench", "vm", "--project", str(tmp_path), "clean", "--all"]
    proc = subprocess.run(run, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"removed instance {stale.root}",
        f"removed base images {cache / 'images'}",
    ]
    assert not stale.root.exists()
    assert not (cache / "images").exists()
    shared = tmp_path / "shared-images"
    shared.mkdir()
    (cache / "images").symlink_to(shared)
    proc = subprocess.run(run, capture_output=True, text=True, env=env, check=False)
    assert proc.stdout.splitlines() == [f"removed the link {cache / 'images'}"]
    assert shared.is_dir()  # images kept elsewhere are not deleted through a link


@pytest.mark.parametrize(
    ("ready_command", "has_ca"),
    [(["cloud-init", "status", "--wait"], True), (["test", "-e", "/run/ready"], False)],
)
def test_prepare_makes_keys_seed_and_overlay(
    tmp_path: Path, ready_command: list[str], has_ca: bool
) -> None:
    base = tmp_path / "base.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "64M"], check=True)
    image = BootImage(
        name="fake",
        arch="amd64",
        disk=base,
        kernel=tmp_path / "vmlinuz",
        initrd=tmp_path / "initrd",
        append="console=ttyS0",
        user="builder",
        ready_command=ready_command,
        sha256="f" * 64,
    )
    project = tmp_path / "project"
    project.mkdir()
    config = InstanceConfig(image=image, memory="256M", cpus=1)
    d = InstanceDir.for_project(project, instances=tmp_path / "i")
    d.create()
    state = prepare(d, image, config, project=project, notify=print)
    assert (state.image, state.base_sha256, state.memory_mib, state.cpus) == (
        "fake",
        "f" * 64,
        256,
        1,
    )
    for key in (d.ssh_key, d.host_key):
        assert oct(key.stat().st_mode & 0o777) == "0o600"
    info = subprocess.run(
        ["qemu-img", "info", "--output=json", str(d.overlay)],
        capture_output=True,
        text=True,
        check=True,
    )
    meta = json.loads(info.stdout)
    assert (meta["backing-filename"], meta["backing-filename-format"]) == (str(base), "qcow2")
    iso = pycdlib.PyCdlib()
    iso.open(str(d.seed_iso))
    data = io.BytesIO()
    iso.get_file_from_iso_fp(data, rr_path="/user-data")
    iso.close()
    user_data = data.getvalue().decode()
    assert "builder" in user_data
    assert ("ca_certs" in user_data) == (has_ca and HOST_CA_BUNDLE.exists())


def test_an_overlay_is_repointed_at_a_moved_base_with_real_qemu_img(tmp_path: Path) -> None:
    old = tmp_path / "old" / "disk.qcow2"
    old.parent.mkdir()
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(old), "16M"], check=True)
    overlay = tmp_path / "overlay.qcow2"
    qemu.create_overlay(overlay, old)
    assert qemu.backing_file(overlay) == str(old)
    new = tmp_path / "new" / "disk.qcow2"
    new.parent.mkdir()
    old.rename(new)
    qemu.repoint_overlay(overlay, new)
    assert qemu.backing_file(overlay) == str(new)
    check = subprocess.run(["qemu-img", "check", "-q", str(overlay)], check=False)
    assert check.returncode == 0


def test_reading_a_corrupt_overlay_is_a_vm_error(tmp_path: Path) -> None:
    base = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "16M"], check=True)
    overlay = tmp_path / "overlay.qcow2"
    qemu.create_overlay(overlay, base)
    os.truncate(overlay, 100)
    with pytest.raises(VmError, match="cannot read the overlay"):
        qemu.backing_file(overlay)


def test_the_watchdog_process_is_recognised_by_the_module_it_runs(tmp_path: Path) -> None:
    assert importlib.util.find_spec(watchdog.WATCHER) is not None  # `python -m` can run it
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)", watchdog.WATCHER]
    proc = subprocess.Popen(sleeper)
    (tmp_path / watchdog.WATCHDOG_PID).write_text(f"{proc.pid}\n")
    try:
        deadline = time.monotonic() + 30  # a loaded host may still be starting it
        while watchdog.watchdog_pid(tmp_path) != proc.pid and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watchdog.watchdog_pid(tmp_path) == proc.pid
        assert watchdog.running(tmp_path)
    finally:
        proc.kill()
        proc.wait()
    assert watchdog.watchdog_pid(tmp_path) is None  # a dead PID is not a watchdog
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    (tmp_path / watchdog.WATCHDOG_PID).write_text(f"{other.pid}\n")
    try:
        assert not watchdog.running(tmp_path)  # a live PID of something else neither
    finally:
        other.kill()
        other.wait()


def test_an_instance_of_another_architecture_has_its_own_name(tmp_path: Path) -> None:
    amd64 = instance_name(tmp_path)
    assert instance_name(tmp_path, "amd64") == amd64
    assert instance_name(tmp_path, "arm64") == f"{amd64}-arm64"


def test_binfmt_registration_is_read_from_binfmt_misc(tmp_path: Path) -> None:
    assert binfmt.registered("amd64", tmp_path)  # the host's own: no emulator needed
    assert not binfmt.registered("arm64", tmp_path)
    (tmp_path / "qemu-aarch64").write_text("disabled\ninterpreter /usr/libexec/qemu-binfmt\n")
    assert not binfmt.registered("arm64", tmp_path)
    (tmp_path / "qemu-aarch64").write_text("enabled\ninterpreter /usr/libexec/qemu-binfmt\n")
    assert binfmt.registered("arm64", tmp_path)
