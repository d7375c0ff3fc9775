"""The ``debian-12`` image: Debian bookworm by mmdebstrap, a real cloud-init NoCloud guest.

mmdebstrap runs in ``root`` mode as root and in ``unshare`` mode otherwise; in unshare mode the
tree's owners are only right inside mmdebstrap's user namespace, so the steps that read the tree
(copying the kernel out, ``mkfs.ext4 -d``, removing it) run through ``mmdebstrap
--unshare-helper`` into files created writable beforehand. The image's SSH host keys are deleted:
cloud-init installs the seeded one on first boot.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from workbench.errors import VmError
from workbench.vm.builders import disk as disk_mod
from workbench.vm.builders import recipe as recipe_mod
from workbench.vm.builders.recipe import Recipe, files_digest
from workbench.vm.builders.session import BuildSession

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = (
    # measured minimum for a clean cloud-init first boot (notes §1.1)
    "systemd-sysv",
    "openssh-server",
    "cloud-init",
    "python3",
    "python3-venv",
    "ca-certificates",
    "e2fsprogs",
    "locales",
    "iproute2",
    "kmod",
    "udev",
    "linux-image-amd64",
    "initramfs-tools",
    "ifupdown",
    "isc-dhcp-client",
    "sudo",
    "dbus",
    "netbase",
    # what snap builds need inside the guest
    "build-essential",
    "squashfs-tools",
    "python3-apt",
    "openssh-sftp-server",
)
HOSTNAME = "workbench"
CLOUD_CFG = "datasource_list: [NoCloud, None]"
"""Only look for the seed: skips probing for other clouds on every boot."""
DISK_MIB = 8192
STEPS = ("mmdebstrap", "kernel and initrd", "disk image")
SOURCES = (Path(__file__), Path(disk_mod.__file__), Path(recipe_mod.__file__))


def unshare_helper(argv: list[str]) -> list[str]:
    """``argv`` run inside mmdebstrap's user namespace, where the tree's owners are right."""
    return ["mmdebstrap", "--unshare-helper", *argv]


def mmdebstrap_argv(rootfs: Path, *, root: bool) -> list[str]:
    """The mmdebstrap command line that creates the guest tree in ``rootfs`` (pure)."""
    hooks = (
        'echo "/dev/vda / ext4 defaults 0 1" > "$1/etc/fstab"',
        f'echo {HOSTNAME} > "$1/etc/hostname"',
        'rm -f "$1"/etc/ssh/ssh_host_*',
        f'echo "{CLOUD_CFG}" > "$1/etc/cloud/cloud.cfg.d/90-workbench.cfg"',
    )
    return [
        "mmdebstrap",
        f"--mode={'root' if root else 'unshare'}",
        "--variant=apt",
        "--format=directory",
        "--include=" + ",".join(PACKAGES),
        *(f"--customize-hook={hook}" for hook in hooks),
        SUITE,
        str(rootfs),
        MIRROR,
    ]


def recipe() -> Recipe:
    """The debian-12 recipe: suite, mirror, packages, mmdebstrap version, this builder."""
    try:
        version = subprocess.run(
            ["mmdebstrap", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise VmError(
            "cannot build debian-12: mmdebstrap does not run", hint="install mmdebstrap (./dev)"
        ) from exc
    return Recipe(
        "debian-12",
        {
            "suite": SUITE,
            "mirror": MIRROR,
            "packages": ",".join(PACKAGES),
            "cloud_cfg": CLOUD_CFG,
            "mmdebstrap": version,
            "builder": files_digest(SOURCES),
            "disk_mib": str(DISK_MIB),
        },
    )


def build(session: BuildSession, out: Path, recipe: Recipe) -> None:
    """Write ``vmlinuz``, ``initrd.img`` and ``disk.qcow2`` into ``out``."""
    root = os.geteuid() == 0
    inside = None if root else unshare_helper

    def run(argv: list[str]) -> None:
        session.run(inside(argv) if inside else argv)

    rootfs = out / "rootfs"
    try:
        with session.step("mmdebstrap"):
            session.run(mmdebstrap_argv(rootfs, root=root))
        with session.step("kernel and initrd"):
            for prefix, name in (("vmlinuz-", "vmlinuz"), ("initrd.img-", "initrd.img")):
                found = sorted((rootfs / "boot").glob(prefix + "*"))
                if not found:
                    session.fail(f"no /boot/{prefix}* in the guest tree")
                dest = disk_mod.scratch_file(out / name, shared=not root)
                run(["cp", str(found[-1]), str(dest)])
                dest.chmod(0o644)
        with session.step("disk image"):
            disk_mod.make_disk(
                session, rootfs, out, size_mib=DISK_MIB, digest=recipe.digest, wrap=inside
            )
    finally:
        if rootfs.exists():
            run(["rm", "-rf", str(rootfs)])
