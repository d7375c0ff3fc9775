"""The ``tiny`` image: the host's Debian kernel, busybox, dropbear and sftp-server on a small ext4.

Boot: the cpio initramfs of :mod:`~workbench.vm.builders.initramfs` loads the virtio and ext4
modules and switch_roots to ``/dev/vda``; busybox init runs ``tiny-boot.sh`` (mounts, network by
udhcpc, the NoCloud seed for the authorized key and the pinned host key, 9p modules) and keeps
dropbear running (``tiny-sshd.sh``). Everything comes from host files, listed by
:func:`find_inputs`; the pure functions :func:`initrd_modules` and :func:`rootfs_entries` describe
the two trees.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import VmError
from workbench.vm.builders import disk as disk_mod
from workbench.vm.builders import initramfs, tree
from workbench.vm.builders import recipe as recipe_mod
from workbench.vm.builders.initramfs import ROOT_MODULES, Module, load_order, parse_modules_dep
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
    Path(initramfs.__file__),
    initramfs.INIT,
    Path(disk_mod.__file__),
    Path(recipe_mod.__file__),
    *SCRIPTS.values(),
)

GUEST_MODULES = ("virtio_net", "isofs", "9pnet_virtio", "9p", "button", "evdev")
"""Loaded by the real init (``tiny-boot.sh``); 9p brings netfs and fscache."""
MODULE_INDEXES = ("modules.order", "modules.builtin", "modules.builtin.modinfo")
"""Copied from the host so that depmod and modprobe know the built-in modules."""
BUSYBOX = Path("/bin/busybox")
PROGRAMS = (
    Path("/usr/sbin/dropbear"),
    Path("/usr/bin/dropbearconvert"),
    Path("/usr/lib/openssh/sftp-server"),
)
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
class HostInputs:
    """Everything the tiny image is made of, found on the host."""

    kernel: Path
    release: str
    modules: dict[str, Module]
    applets: tuple[str, ...]
    libraries: tuple[tuple[str, Path], ...]

    @property
    def modules_dir(self) -> Path:
        return Path("/lib/modules") / self.release


_LDD_LINE = re.compile(r"(?:\S+ => )?(/\S+) \(0x[0-9a-f]+\)")


def parse_ldd(text: str) -> list[str]:
    """The absolute library paths in ``ldd`` output."""
    return [m.group(1) for m in map(_LDD_LINE.search, text.splitlines()) if m]


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


def find_inputs() -> HostInputs:
    """Locate the kernel, modules, busybox applets and shared libraries on the host."""
    kernel = newest_kernel()
    release = kernel.name.removeprefix("vmlinuz-")
    deps_file = Path("/lib/modules") / release / "modules.dep"
    missing = [p for p in (deps_file, BUSYBOX, *PROGRAMS) if not p.exists()]
    if missing:
        raise VmError(
            f"cannot build the tiny image: missing {', '.join(map(str, missing))}",
            hint="install linux-image-amd64 busybox-static dropbear-bin openssh-sftp-server",
        )
    applets = subprocess.run(
        [str(BUSYBOX), "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    libraries: dict[str, Path] = {}
    for program in PROGRAMS:
        ldd = subprocess.run(["ldd", str(program)], capture_output=True, text=True, check=True)
        for lib in parse_ldd(ldd.stdout):
            libraries[lib] = Path(lib).resolve()
    return HostInputs(
        kernel=kernel,
        release=release,
        modules=parse_modules_dep(deps_file.read_text()),
        applets=tuple(applets),
        libraries=tuple(sorted(libraries.items())),
    )


def recipe(inputs: HostInputs | None = None) -> Recipe:
    """The tiny recipe: the digests of every host file that goes in, and of this builder."""
    inputs = inputs or find_inputs()
    modules = load_order(ROOT_MODULES + GUEST_MODULES, inputs.modules)
    return Recipe(
        "tiny",
        {
            "release": inputs.release,
            "kernel": sha256_file(inputs.kernel),
            "modules": files_digest(
                [inputs.modules_dir / inputs.modules[m].path for m in modules]
                + [inputs.modules_dir / name for name in MODULE_INDEXES]
            ),
            "programs": files_digest((BUSYBOX, *PROGRAMS, *(p for _, p in inputs.libraries))),
            "applets": " ".join(inputs.applets),
            "builder": files_digest(SOURCES),
            "disk_mib": str(DISK_MIB),
        },
    )


def initrd_modules(inputs: HostInputs) -> list[tuple[str, Path]]:
    """The root disk's modules on the host, in load order."""
    order = load_order(ROOT_MODULES, inputs.modules)
    return [(m, inputs.modules_dir / inputs.modules[m].path) for m in order]


def rootfs_entries(inputs: HostInputs) -> list[Node]:
    """The root filesystem: busybox applets, dropbear, sftp-server, modules, init and config."""
    entries = [
        directory("/root", 0o700),
        directory("/tmp", 0o1777),
        *(directory(d) for d in ("/dev", "/proc", "/sys", "/run", "/home", "/project", "/var")),
        directory("/var/log"),
        host_file("/bin/busybox", BUSYBOX, 0o755),
    ]
    entries += [
        symlink("/" + applet, "/bin/busybox")
        for applet in inputs.applets
        if applet != "bin/busybox"
    ]
    entries += [host_file(str(p), p, 0o755) for p in PROGRAMS]
    entries.append(symlink("/usr/lib/sftp-server", "/usr/lib/openssh/sftp-server"))
    entries += [host_file(guest, host, 0o755) for guest, host in inputs.libraries]
    modules = load_order(ROOT_MODULES + GUEST_MODULES, inputs.modules)
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


def build(session: BuildSession, out: Path, recipe: Recipe) -> None:
    """Write ``vmlinuz``, ``initrd.img`` and ``disk.qcow2`` into ``out``."""
    inputs = find_inputs()
    with session.step("initramfs"):
        shutil.copyfile(inputs.kernel, out / "vmlinuz")
        (out / "initrd.img").write_bytes(
            tree.cpio_newc(initramfs.entries(BUSYBOX, initrd_modules(inputs)))
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
