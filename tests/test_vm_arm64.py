"""The arm64 build VM, emulated: tiny-arm64 built from Debian's arm64 packages, booted under TCG.

The module builds tiny-arm64 from scratch into its own cache (about 15 s: the packages are
downloaded, nothing arm64 runs but busybox listing its applets through qemu-user) and boots one
guest of it (an emulated boot costs CPU) that every test gets running: SSH with the pinned host
key, the read-only project share, a warm start from a saved state; and a start on a host without
the arm64 system emulator. The pure parts (the arm64 qemu command line, apt's pins, the kernel
release, the builder without qemu-user) are fast tests in test_vm_units.py and test_vm_images.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from vm_fixtures import VmEnv, assert_another_host_key_is_refused, private_cache

from workbench import dirs
from workbench.errors import VmError
from workbench.progress import Progress
from workbench.vm import keys, qemu
from workbench.vm.arch import guest_arch, host_arch
from workbench.vm.builders import tiny_arm64
from workbench.vm.config import Timeouts
from workbench.vm.images import BootImage, ensure_image, verify
from workbench.vm.launch import login, plan_boot
from workbench.vm.local import Instance
from workbench.vm.snapshots import WARM, SnapshotTag
from workbench.vm.state import Phase, Status

pytestmark = pytest.mark.slow

ARCH = guest_arch("arm64")
IMAGE = "tiny-arm64"
EMULATED = Timeouts(banner=300, ready=300, powerdown=30)
"""Deadlines for an emulated boot on a busy host (they bound a hang; no test checks speed)."""
HELLO = "hello from the host\n"


@dataclass(frozen=True)
class Built:
    """The image this module built and the progress its build reported."""

    image: BootImage
    events: list[Progress]


@pytest.fixture(scope="module")
def arm64_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmEnv]:
    """A cache of this module's own (no images: tiny-arm64 is built in it). An arm64 guest is
    emulated whatever ``WORKBENCH_ACCEL`` forces for the host's own guests."""
    with (
        private_cache(tmp_path_factory.mktemp("arm64"), machine_images=False) as env,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.delenv("WORKBENCH_ACCEL", raising=False)
        yield env


@pytest.fixture(scope="module")
def built(arm64_env: VmEnv) -> Built:
    events: list[Progress] = []
    return Built(ensure_image(IMAGE, listener=events.append), events)


@pytest.fixture(scope="module")
def booted(arm64_env: VmEnv, built: Built) -> Iterator[Instance]:
    vm = arm64_env.instance(
        arm64_env.project("arm", {"hello.txt": HELLO}), IMAGE, timeouts=EMULATED
    )
    yield vm
    vm.clean()


@pytest.fixture
def vm(booted: Instance) -> Instance:
    """The module's guest, running (started again, cold or warm, when a test before stopped it)."""
    if booted.dir.status() is not Status.RUNNING:
        booted.up()
    return booted


def test_tiny_arm64_builds_from_scratch_from_debian_arm64_packages(built: Built) -> None:
    image = built.image
    assert image.arch == "arm64"
    assert {e.message for e in built.events} == set(tiny_arm64.STEPS)
    assert [e.message for e in built.events if e.finished] == ["disk image"]
    verify(image)
    recipe = tiny_arm64.recipe()
    record = json.loads((dirs.images_dir() / "index.json").read_text())["images"][IMAGE]
    assert record["recipe"] == recipe.digest
    assert record["sha256"] == image.sha256
    log = (dirs.images_dir() / IMAGE / "build.log").read_text()
    # the exact kernel package the metapackage pins, downloaded, its modules indexed
    versions = dict(item.split("=", 1) for item in recipe.inputs["packages"].split())
    release = tiny_arm64.kernel_release(versions)
    assert f" linux-image-{release}:arm64={versions[f'linux-image-{release}']} " in log
    assert f"packages {release}\n" in log  # depmod -b .../packages RELEASE
    assert image.kernel.read_bytes()[0x38:0x3C] == b"ARM\x64"  # an arm64 Linux Image
    assert not (image.disk.parent.parent / "packages").exists()  # the unpacked tree is gone
    assert ensure_image(IMAGE) == image  # cached: the recipe still matches


def test_boots_emulated_with_ssh_pinned_to_the_guest_host_key(
    vm: Instance, arm64_env: VmEnv, tmp_path: Path
) -> None:
    reason = f"an arm64 guest is emulated on this {host_arch()} host"
    assert f"using TCG (slow software emulation): {reason}" in arm64_env.notices
    report = vm.status()
    assert (report.status, report.accel, report.image) == (Status.RUNNING, "tcg", IMAGE)
    assert vm.dir.name.endswith("-arm64")
    state = vm.dir.load_state()
    assert state is not None
    assert state.argv[0] == ARCH.qemu_binary
    words = " ".join(state.argv)
    assert "-machine virt -accel tcg -cpu cortex-a57 " in words
    assert f"console={ARCH.console} " in words
    assert vm.exec(["uname", "-m"]).stdout == "aarch64\n"
    if state.argv[-2:] != ["-loadvm", WARM]:  # a cold boot: the kernel's banner on ttyAMA0
        assert "Linux version" in vm.dir.serial_log.read_text(errors="replace")

    assert state.port is not None
    pinned = vm.dir.known_hosts.read_text().split()
    assert pinned[1:3] == keys.public_line(vm.dir.host_key).split()[:2]
    fresh = login(vm.dir, state.port)
    assert fresh.run(["true"]).exit_status == 0
    fresh.close()
    assert_another_host_key_is_refused(vm.dir, state.port, tmp_path)


def test_the_project_is_shared_read_only(vm: Instance) -> None:
    assert vm.exec(["cat", "/project/hello.txt"]).stdout == HELLO
    mounts = vm.exec(["cat", "/proc/mounts"]).stdout
    assert "project /project 9p ro," in mounts
    for write in ("echo changed > /project/hello.txt", "echo new > /project/new.txt"):
        result = vm.exec(["sh", "-c", write])
        assert result.exit_status != 0
        assert "Read-only file system" in result.stderr
    assert (vm.project / "hello.txt").read_text() == HELLO
    assert not (vm.project / "new.txt").exists()


def test_a_saved_state_of_the_virt_machine_is_loaded_by_the_next_start(
    vm: Instance, arm64_env: VmEnv
) -> None:
    vm.exec(["sh", "-c", "echo kept > /root/state"], check=True)
    assert vm.down(save=True) == "quit"
    assert vm.dir.status() is Status.SAVED
    state = vm.dir.load_state()
    assert state is not None
    tag = SnapshotTag.from_json(state.snapshots[WARM])
    assert tag is not None
    assert tag.machine == "virt"
    assert tag.qemu_version == qemu.qemu_version(ARCH.qemu_binary)
    assert [(s.name, s.loadable) for s in vm.snapshots()] == [(WARM, True)]

    # the start plans a warm start from the state; one saved on another machine type is refused
    image = ensure_image(IMAGE)
    notes: list[str] = []
    assert plan_boot(image, state, vm.config, notes.append).warm == WARM
    q35 = replace(state, snapshots={WARM: replace(tag, machine="q35").to_json()})
    assert plan_boot(image, q35, vm.config, notes.append).warm is None
    assert notes[-1] == "cold boot: the saved state does not match (machine q35 != virt)"

    events: list[Progress] = []
    again = arm64_env.instance(vm.project, IMAGE, timeouts=EMULATED, listener=events.append)
    again.up()
    assert {e.task for e in events} == {f"warm start {again.dir.name}"}
    started = again.dir.load_state()
    assert started is not None
    assert started.state is Phase.RUNNING
    assert started.argv[-2:] == ["-loadvm", WARM]
    assert again.exec(["cat", "/root/state"]).stdout == "kept\n"
    assert again.exec(["cat", "/project/hello.txt"]).stdout == HELLO  # mounted again
    again.close()


def test_a_missing_system_emulator_names_its_package(
    arm64_env: VmEnv, built: Built, tmp_path: Path
) -> None:
    missing = tmp_path / "bin" / ARCH.qemu_binary
    vm = arm64_env.instance(arm64_env.project("no-emulator"), IMAGE, qemu_binary=str(missing))
    try:
        with pytest.raises(VmError) as err:
            vm.up()
        assert str(err.value) == (  # the one line the CLI prints
            f"error: cannot run {missing}: No such file or directory"
            " (install qemu-system-arm (./dev does))"
        )
        assert vm.dir.status() is not Status.RUNNING
        assert vm.dir.lock.holder() is None
    finally:
        vm.clean()
