"""Every known launch failure, provoked for real on tiny guests, with its diagnosis asserted.

Each test makes the failure happen (an occupied port, a truncated overlay, a deleted backing file,
an absurd memory size, a kernel that cannot find its init, blacklisted 9p modules, a full guest
disk, a stopped SSH server, an unopenable /dev/kvm, a saved state from other hardware) and checks
the one-line cause and fix the user gets, plus the log it points to.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from workbench.errors import BuildError, VmError, WorkbenchError, format_error
from workbench.vm.config import Timeouts
from workbench.vm.diagnose import FAILURES, Failure
from workbench.vm.images import BootImage
from workbench.vm.local import Instance
from workbench.vm.qmp import Qmp
from workbench.vm.state import Status

if TYPE_CHECKING:
    from vm_fixtures import VmEnv

pytestmark = pytest.mark.slow

FAILURE = {f.key: f for f in FAILURES}


def assert_diagnosed(err: WorkbenchError, key: str, log: Path) -> None:
    """The error's hint is the table's cause and fix for ``key`` and names ``log``."""
    failure: Failure = FAILURE[key]
    assert err.hint is not None
    assert err.hint == f"{failure.cause}; fix: {failure.fix} (see {log})"
    line = format_error(err)
    assert "\n" not in line
    assert line.startswith("error: ")


def failed_up(instance: Instance) -> WorkbenchError:
    with pytest.raises(VmError) as info:
        instance.up()
    return info.value


@pytest.fixture
def project(vm_env: VmEnv, request: pytest.FixtureRequest) -> Iterator[Path]:
    path = vm_env.project(request.node.name[:30])
    yield path
    Instance(path).clean()


NO_KVM_QEMU = """\
#!/bin/sh
# qemu in a private mount namespace (in a user namespace unless root) whose /dev has the usual
# nodes but, as /dev/kvm, a mode-000 file; qemu runs without the capabilities that ignore modes.
ns="--mount"; [ "$(id -u)" = 0 ] || ns="--user --map-root-user --mount"
exec unshare $ns sh -c '
  set -e
  mount --rbind /dev "$0"
  mount -t tmpfs -o mode=755 no-kvm /dev
  for n in null zero full random urandom tty; do : > /dev/$n; mount --bind "$0/$n" /dev/$n; done
  mkdir /dev/pts /dev/shm && mount --rbind "$0/pts" /dev/pts && mount --rbind "$0/shm" /dev/shm
  : > /dev/kvm && chmod 000 /dev/kvm
  exec setpriv --inh-caps=-dac_override,-dac_read_search \\
    --bounding-set=-dac_override,-dac_read_search qemu-system-x86_64 "$@"' {real_dev} "$@"
"""


def test_no_kvm_permission(
    vm_env: VmEnv, tiny_image: BootImage, project: Path, tmp_path: Path
) -> None:
    # Whoever runs the suite, and whether this host's /dev/kvm is absent, usable or not: qemu
    # gets a /dev/kvm it may not open.
    real_dev = tmp_path / "real-dev"
    real_dev.mkdir()
    wrapper = tmp_path / "qemu-without-kvm"
    wrapper.write_text(NO_KVM_QEMU.format(real_dev=real_dev))
    wrapper.chmod(0o755)
    vm = vm_env.instance(project, tiny_image, accel="kvm", qemu_binary=str(wrapper))
    err = failed_up(vm)
    assert "failed to initialize kvm: Permission denied" in err.brief
    assert_diagnosed(err, "kvm-permission", vm.dir.qemu_log)
    assert vm.dir.status() is Status.CRASHED
    assert vm.dir.lock.holder() is None  # a dead launch leaves no lock behind


def test_port_in_use(vm_env: VmEnv, tiny_image: BootImage, project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        vm = vm_env.instance(project, tiny_image, ssh_port=port)
        err = failed_up(vm)
    assert f"Could not set up host forwarding rule 'tcp:127.0.0.1:{port}-:22'" in err.brief
    assert_diagnosed(err, "port-in-use", vm.dir.qemu_log)


def test_out_of_memory(vm_env: VmEnv, tiny_image: BootImage, project: Path) -> None:
    vm = vm_env.instance(project, tiny_image, memory="100000G")
    err = failed_up(vm)
    assert "cannot set up guest memory" in err.brief
    assert_diagnosed(err, "out-of-memory", vm.dir.qemu_log)


def test_guest_kernel_panic(vm_env: VmEnv, tiny_image: BootImage, project: Path) -> None:
    vm = vm_env.instance(project, tiny_image, extra_append="rdinit=/nonexistent root=/dev/nowhere")
    err = failed_up(vm)
    assert "qemu exited" in err.brief  # panic=-1 and -no-reboot: no waiting for SSH
    assert_diagnosed(err, "kernel-panic", vm.dir.serial_log)
    assert err.details is not None
    assert "matched: " in err.details
    assert "Kernel panic - not syncing" in err.details


def test_no_9p_in_the_guest(vm_env: VmEnv, tiny_image: BootImage, project: Path) -> None:
    vm = vm_env.instance(project, tiny_image, extra_append="module_blacklist=9p,9pnet_virtio")
    err = failed_up(vm)
    assert "cannot mount the project on /project" in err.brief
    assert_diagnosed(err, "no-9p", vm.dir.serial_log)
    assert vm.dir.status() is Status.FAILED  # kept up for debugging
    assert vm.exec(["sh", "-c", "dmesg | grep -c 'is blacklisted'"]).stdout.strip() != "0"


def test_overlay_corrupt_and_missing(vm_env: VmEnv, tiny_image: BootImage, project: Path) -> None:
    vm = vm_env.instance(project, tiny_image)
    vm.up()
    vm.down()
    good = vm.dir.overlay.read_bytes()
    vm.dir.overlay.write_bytes(good[:100])  # truncated inside the qcow2 header
    err = failed_up(vm)
    assert "qcow2 header too short" in err.brief
    assert_diagnosed(err, "overlay-corrupt", vm.dir.qemu_log)
    vm.dir.overlay.write_bytes(b"")
    err = failed_up(vm)
    assert "Image is not in qcow2 format" in err.brief
    assert_diagnosed(err, "overlay-corrupt", vm.dir.qemu_log)
    vm.dir.overlay.unlink()
    assert vm.dir.status() is Status.BROKEN
    err = failed_up(vm)
    assert "overlay.qcow2': No such file or directory" in err.brief
    assert_diagnosed(err, "overlay-missing", vm.dir.qemu_log)


def test_backing_file_missing(
    vm_env: VmEnv, tiny_image: BootImage, project: Path, tmp_path: Path
) -> None:
    base = tmp_path / "base.qcow2"
    shutil.copyfile(tiny_image.disk, base)
    image = replace(tiny_image, disk=base)
    vm = vm_env.instance(project, image)
    vm.up()
    vm.down()
    base.unlink()
    err = failed_up(vm)
    assert f"Could not open backing file: Could not open '{base}'" in err.brief
    assert_diagnosed(err, "backing-missing", vm.dir.qemu_log)


def test_guest_disk_full(vm_env: VmEnv, tiny_image: BootImage, project: Path) -> None:
    vm = vm_env.instance(project, tiny_image)
    vm.up()
    fill = vm.exec(["dd", "if=/dev/zero", "of=/fill", "bs=1M"], timeout=600)
    assert fill.exit_status != 0
    assert "No space left on device" in fill.stderr
    with pytest.raises(BuildError) as info:
        vm.exec(["sh", "-c", "echo more > /more"], check=True)
    assert_diagnosed(info.value, "disk-full", vm.dir.serial_log)
    diagnosis = vm.explain(fill.stderr)
    assert diagnosis is not None
    assert diagnosis.failure.key == "disk-full"


def test_ssh_never_up(vm_env: VmEnv, tiny_image: BootImage, project: Path) -> None:
    vm = vm_env.instance(project, tiny_image)
    vm.up()
    # Freeze the listening dropbear (init would respawn a killed one) and save that state: the
    # warm start resumes a guest whose SSH server accepts TCP but never says a word.
    vm.exec(
        [
            "sh",
            "-c",
            "for p in $(pidof dropbear); do "
            '[ "$(cut -d" " -f4 /proc/$p/stat)" = 1 ] && kill -STOP $p; done',
        ],
        check=True,
    )
    vm.down(save=True)
    frozen = vm_env.instance(project, tiny_image, timeouts=Timeouts(banner=15))
    err = failed_up(frozen)
    assert "the guest's SSH server never answered" in err.brief
    assert_diagnosed(err, "ssh-never-up", vm.dir.serial_log)
    assert frozen.dir.status() is Status.FAILED


def test_snapshot_incompatible(vm_env: VmEnv, tiny_image: BootImage, project: Path) -> None:
    vm = vm_env.instance(project, tiny_image)
    vm.up()
    vm.snapshot("s")
    vm.down(save=True)

    # 1. Other memory: the warm state is not loaded, the boot is cold, the user is told why.
    vm_env.notices.clear()
    bigger = vm_env.instance(project, tiny_image, memory="448M")
    bigger.up()
    assert any(
        "cold boot: the saved state does not match (memory mib 384 != 448)" in n
        for n in vm_env.notices
    )
    state = bigger.dir.load_state()
    assert state is not None
    assert "-loadvm" not in state.argv

    # 2. Loading a mismatching snapshot by name is refused before qemu is asked.
    with pytest.raises(VmError) as info:
        bigger.load_snapshot("s")
    assert "snapshot s does not match this instance: memory mib 384 != 448" in info.value.brief
    assert_diagnosed(info.value, "snapshot-incompatible", bigger.dir.serial_log)

    # 3. A tag that lies (edited on disk) reaches qemu, which refuses: diagnosed the same way.
    raw = json.loads(bigger.dir.state_file.read_text())
    raw["snapshots"]["s"]["memory_mib"] = 448
    bigger.dir.state_file.write_text(json.dumps(raw))
    with pytest.raises(VmError) as info:
        bigger.load_snapshot("s")
    assert "qemu refused `loadvm s`: Size mismatch" in info.value.brief
    assert_diagnosed(info.value, "snapshot-incompatible", bigger.dir.serial_log)


def test_a_warm_state_qemu_cannot_load_falls_back_to_a_cold_boot(
    vm_env: VmEnv, tiny_image: BootImage, project: Path
) -> None:
    vm = vm_env.instance(project, tiny_image)
    vm.up()
    vm.down(save=True)
    raw = json.loads(vm.dir.state_file.read_text())
    raw["snapshots"]["warm"]["memory_mib"] = 448  # the tag lies; qemu finds out at -loadvm
    vm.dir.state_file.write_text(json.dumps(raw))
    vm_env.notices.clear()
    bigger = vm_env.instance(project, tiny_image, memory="448M")
    bigger.up()
    fallback = [n for n in vm_env.notices if "qemu could not load the saved state" in n]
    assert fallback, vm_env.notices
    assert "mismatch" in fallback[0] or "while loading VM state" in fallback[0]
    state = bigger.dir.load_state()
    assert state is not None
    assert "-loadvm" not in state.argv
    assert bigger.exec(["true"]).exit_status == 0
    with Qmp(bigger.dir.qmp_socket).connect() as qmp:
        assert qmp.status() == "running"
