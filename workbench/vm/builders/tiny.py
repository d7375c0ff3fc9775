"""The ``tiny`` image: the host's Debian kernel, busybox, dropbear and sftp-server on a small ext4.

Boot: the cpio initramfs of :mod:`~workbench.vm.builders.initramfs` loads the virtio and ext4
modules (those not built into the kernel) and switch_roots to ``/dev/vda``; busybox init runs
``tiny-boot.sh`` (mounts, the modules listed in ``/etc/workbench/modules``, network by udhcpc, the
NoCloud seed for the authorized key and the pinned host key, busybox ``acpid``, which powers off on
the power key) and keeps dropbear running (``tiny-sshd.sh``).

The image is described from a tree of the guest architecture's files, :class:`Inputs`: here the
host's own ``/`` (:func:`find_inputs`); ``tiny-arm64`` (:mod:`~workbench.vm.builders.tiny_arm64`)
gives Debian's arm64 packages unpacked. The pure functions :func:`initrd_modules` and
:func:`rootfs_entries` describe the two trees and :func:`build_image` writes them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import VmError
from workbench.vm.arch import GuestArch, foreign, guest_arch
from workbench.vm.builders import disk as disk_mod
from workbench.vm.builders import elf, initramfs, tree
from workbench.vm.builders import recipe as recipe_mod
from workbench.vm.builders.initramfs import (
    ROOT_MODULES,
    Module,
    load_order,
    parse_builtin,
    parse_modules_dep,
)
from workbench.vm.builders.recipe import Recipe, files_digest, sha256_file
from workbench.vm.builders.session import BuildSession
from workbench.vm.builders.tree import Node, directory, host_file, symlink, text_file

HERE = Path(__file__).parent
SCRIPTS = {
    "boot": HERE / "tiny-boot.sh",
    "sshd": HERE / "tiny-sshd.sh",
    "udhcpc": HERE / "tiny-udhcpc.sh",
    "seed": HERE / "tiny-seed.sh",
}
SOURCES = (
    Path(__file__),
    Path(tree.__file__),
    Path(elf.__file__),
    Path(initramfs.__file__),
    initramfs.INIT,
    Path(disk_mod.__file__),
    Path(recipe_mod.__file__),
    *SCRIPTS.values(),
)

GUEST_MODULES = ("virtio_net", "isofs", "9pnet_virtio", "9p", "evdev")
"""Loaded by the real init (``tiny-boot.sh``); 9p brings netfs and fscache."""
POWER_KEY_MODULES = {"amd64": ("button",), "arm64": ("gpio_keys",)}
"""The driver of the power key ``system_powerdown`` presses: ACPI's power button on q35, a
gpio-keys key on the PL061 GPIO of arm ``virt`` (a guest booted with a device tree)."""
MODULE_INDEXES = ("modules.order", "modules.builtin", "modules.builtin.modinfo")
"""Copied from the kernel's tree so that depmod and modprobe know the built-in modules."""
BUSYBOX = "/bin/busybox"
PROGRAMS = ("/usr/sbin/dropbear", "/usr/bin/dropbearconvert", "/usr/lib/openssh/sftp-server")
DISK_MIB = 1024
STEPS = ("initramfs", "root filesystem", "disk image")

INITTAB = """\
::sysinit:/etc/workbench/boot
::respawn:/etc/workbench/sshd
::shutdown:/bin/sync
::shutdown:/bin/umount -a -r
"""
POWER_BUTTON = "#!/bin/sh\nexec /sbin/poweroff\n"
OS_RELEASE = 'NAME="workbench tiny"\nID=workbench-tiny\nPRETTY_NAME="workbench tiny guest"\n'


@dataclass(frozen=True)
class Inputs:
    """Everything a tiny image is made of, found in ``root``: a tree of ``arch``'s files."""

    arch: GuestArch
    root: Path
    release: str
    modules: dict[str, Module]
    builtin: frozenset[str]
    applets: tuple[str, ...]
    libraries: tuple[tuple[str, Path], ...]

    def source(self, path: str) -> Path:
        """The file in ``root`` that the guest path ``path`` names."""
        found = elf.locate(self.root, path)
        if found is None:
            raise VmError(f"{path} is missing from {self.root}")
        return found

    @property
    def kernel(self) -> Path:
        return self.source(f"/boot/vmlinuz-{self.release}")

    @property
    def modules_dir(self) -> Path:
        return self.root / "lib/modules" / self.release

    def load_order(self, wanted: tuple[str, ...]) -> list[str]:
        """``wanted`` and their dependencies that are modules (not built in), in load order."""
        return load_order(wanted, self.modules, self.builtin)

    @property
    def guest_modules(self) -> tuple[str, ...]:
        """The modules the real init loads (those built in need no loading)."""
        wanted = GUEST_MODULES + POWER_KEY_MODULES[self.arch.name]
        return tuple(m for m in wanted if m not in self.builtin)


def newest_kernel(boot: Path = Path("/boot")) -> Path:
    """The host's newest ``/boot/vmlinuz-*`` (Debian's linux-image-amd64)."""

    def version(path: Path) -> list[int]:
        return [int(n) for n in re.findall(r"\d+", path.name)]

    kernels = sorted(boot.glob("vmlinuz-*"), key=version)
    if not kernels:
        raise VmError(
            f"no kernel in {boot} to build the tiny image",
            hint="install linux-image-amd64 (./dev does)",
        )
    return kernels[-1]


def applets(busybox: Path, arch: GuestArch) -> tuple[str, ...]:
    """The applets of the ``busybox`` of ``arch`` with their paths (``usr/bin/env``...), as it
    lists them itself: through qemu's user-mode emulator when ``arch`` is not the host's."""
    argv = [str(busybox), "--list-full"]
    if foreign(arch.name):
        argv.insert(0, arch.qemu_user)
    try:
        listed = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise VmError(
            f"cannot list the applets of {busybox}: {exc}",
            hint="install qemu-user-static (./dev does)" if foreign(arch.name) else None,
        ) from exc
    return tuple(listed.split())


def read_inputs(arch: GuestArch, root: Path, release: str, *, hint: str) -> Inputs:
    """The inputs of a tiny image for ``arch`` in the tree ``root`` with kernel ``release``
    (its modules indexed by depmod); ``hint``: what to do when a file is missing."""
    modules_dir = root / "lib/modules" / release
    wanted = [f"/boot/vmlinuz-{release}", BUSYBOX, *PROGRAMS]
    missing = [p for p in wanted if elf.locate(root, p) is None]
    missing += (
        [str(modules_dir / "modules.dep")] if not (modules_dir / "modules.dep").is_file() else []
    )
    if missing:
        raise VmError(
            f"cannot build the tiny image: missing {', '.join(missing)} in {root}", hint=hint
        )
    busybox = elf.locate(root, BUSYBOX)
    assert busybox is not None
    return Inputs(
        arch=arch,
        root=root,
        release=release,
        modules=parse_modules_dep((modules_dir / "modules.dep").read_text()),
        builtin=parse_builtin((modules_dir / "modules.builtin").read_text()),
        applets=applets(busybox, arch),
        libraries=tuple(elf.closure(PROGRAMS, root, arch)),
    )


def find_inputs() -> Inputs:
    """The inputs of the tiny image on the host: its newest kernel, its own programs."""
    release = newest_kernel().name.removeprefix("vmlinuz-")
    return read_inputs(
        guest_arch("amd64"),
        Path("/"),
        release,
        hint="install linux-image-amd64 busybox-static dropbear-bin openssh-sftp-server",
    )


def recipe(inputs: Inputs | None = None) -> Recipe:
    """The tiny recipe: the digests of every host file that goes in, and of this builder."""
    inputs = inputs or find_inputs()
    modules = inputs.load_order(ROOT_MODULES + inputs.guest_modules)
    return Recipe(
        "tiny",
        {
            "release": inputs.release,
            "kernel": sha256_file(inputs.kernel),
            "modules": files_digest(
                [inputs.modules_dir / inputs.modules[m].path for m in modules]
                + [inputs.modules_dir / name for name in MODULE_INDEXES]
            ),
            "programs": files_digest(
                [inputs.source(p) for p in (BUSYBOX, *PROGRAMS)] + [p for _, p in inputs.libraries]
            ),
            "applets": " ".join(inputs.applets),
            "builder": files_digest(SOURCES),
            "disk_mib": str(DISK_MIB),
        },
    )


def initrd_modules(inputs: Inputs) -> list[tuple[str, Path]]:
    """The root disk's modules in the kernel's tree, in load order."""
    order = inputs.load_order(ROOT_MODULES)
    return [(m, inputs.modules_dir / inputs.modules[m].path) for m in order]


def rootfs_entries(inputs: Inputs) -> list[Node]:
    """The root filesystem: busybox applets, dropbear, sftp-server, modules, init and config."""
    entries = [
        directory("/root", 0o700),
        directory("/tmp", 0o1777),
        *(directory(d) for d in ("/dev", "/proc", "/sys", "/run", "/home", "/project", "/var")),
        directory("/var/log"),
        host_file(BUSYBOX, inputs.source(BUSYBOX), 0o755),
    ]
    entries += [
        symlink("/" + applet, BUSYBOX) for applet in inputs.applets if "/" + applet != BUSYBOX
    ]
    entries += [host_file(p, inputs.source(p), 0o755) for p in PROGRAMS]
    entries.append(symlink("/usr/lib/sftp-server", "/usr/lib/openssh/sftp-server"))
    entries += [host_file(guest, source, 0o755) for guest, source in inputs.libraries]
    modules = inputs.load_order(ROOT_MODULES + inputs.guest_modules)
    entries += [
        host_file(
            f"/lib/modules/{inputs.release}/{inputs.modules[m].path}",
            inputs.modules_dir / inputs.modules[m].path,
            0o644,
        )
        for m in modules
    ]
    entries += [
        host_file(f"/lib/modules/{inputs.release}/{name}", inputs.modules_dir / name, 0o644)
        for name in MODULE_INDEXES
    ]
    entries += [
        text_file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
        text_file("/etc/shadow", "root:*:19000:0:99999:7:::\n", 0o600),
        text_file("/etc/group", "root:x:0:\ntty:x:5:\n"),
        text_file("/etc/shells", "/bin/sh\n/bin/ash\n"),
        text_file("/etc/inittab", INITTAB),
        text_file("/etc/hostname", "tiny\n"),
        text_file("/etc/hosts", "127.0.0.1 localhost tiny\n"),
        text_file("/etc/os-release", OS_RELEASE),
        symlink("/etc/resolv.conf", "/run/resolv.conf"),
        directory("/etc/dropbear", 0o700),
        text_file("/etc/acpi/PWRF/00000080", POWER_BUTTON, 0o755),
        text_file("/etc/workbench/modules", "".join(f"{m}\n" for m in inputs.guest_modules)),
        host_file("/etc/workbench/boot", SCRIPTS["boot"], 0o755),
        host_file("/etc/workbench/sshd", SCRIPTS["sshd"], 0o755),
        host_file("/etc/workbench/udhcpc", SCRIPTS["udhcpc"], 0o755),
        host_file("/usr/lib/workbench/seed-parse", SCRIPTS["seed"], 0o755),
    ]
    return entries


def _as_root(argv: list[str]) -> list[str]:
    """``argv`` in a user namespace where we are root: a tree written by an ordinary user is
    root's on the disk (the guest's sshd refuses a /root that another user owns)."""
    return ["unshare", "--user", "--map-root-user", *argv]


def build_image(session: BuildSession, out: Path, recipe: Recipe, inputs: Inputs) -> None:
    """Write ``vmlinuz``, ``initrd.img`` and ``disk.qcow2`` made of ``inputs`` into ``out``."""
    with session.step("initramfs"):
        shutil.copyfile(inputs.kernel, out / "vmlinuz")
        (out / "initrd.img").write_bytes(
            tree.cpio_newc(initramfs.entries(inputs.source(BUSYBOX), initrd_modules(inputs)))
        )
    rootfs = out / "rootfs"
    try:
        with session.step("root filesystem"):
            tree.write_tree(rootfs_entries(inputs), rootfs)
            session.run(["depmod", "-b", str(rootfs), inputs.release])
            tree.set_times(rootfs)
        with session.step("disk image"):
            disk_mod.make_disk(
                session, rootfs, out, recipe, None if os.geteuid() == 0 else _as_root
            )
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


def build(session: BuildSession, out: Path, recipe: Recipe) -> None:
    """Write ``vmlinuz``, ``initrd.img`` and ``disk.qcow2`` of the host's files into ``out``."""
    build_image(session, out, recipe, find_inputs())
