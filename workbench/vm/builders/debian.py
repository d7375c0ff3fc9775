"""The ``debian-12`` images: Debian bookworm by mmdebstrap, a real cloud-init NoCloud guest, for
amd64 (``debian-12``) and arm64 (``debian-12-arm64``: Debian's generic arm64 kernel, which has 9p;
the cloud one has none).

A foreign architecture's tree is filled through qemu-user-static (:mod:`workbench.vm.binfmt`):
its maintainer scripts run emulated. No initramfs is made in the tree (``update-initramfs`` is
diverted to a no-op before the kernel installs): the image boots the initramfs of
:mod:`~workbench.vm.builders.initramfs`, and mkinitramfs would be minutes of emulated shell.

mmdebstrap runs in ``root`` mode as root and in ``unshare`` mode otherwise; in unshare mode the
tree's owners are only right inside mmdebstrap's user namespace, so the steps that read the tree
(copying the kernel and modules out, ``mkfs.ext4 -d``, removing it) run through ``mmdebstrap
--unshare-helper`` into files created writable beforehand. The image's SSH host keys are deleted:
cloud-init installs the seeded one on first boot.

Made to boot fast under TCG (:data:`GUEST_FILES`, :data:`MASKED`): the initramfs of
:mod:`~workbench.vm.builders.initramfs` (no udev); eth0 by systemd-networkd's DHCP, which nothing
waits for, the DNS server fixed at qemu user networking's 10.0.2.3; cloud-init reading only the
NoCloud seed and running only the modules its user-data uses, all in its ``init`` stage (before
sshd starts): no ``init-local`` or ``config`` stage. The kernel command line (``images.json``)
adds ``quiet`` (errors and panics still reach serial.log) and ``mitigations=off``: the guest's
processes all belong to the one build, the VM is the boundary (docs/security.md). A build VM
needs no periodic apt, e2scrub, console getty or DRM, and no message of the day: ``pam_motd`` ran
``/etc/update-motd.d`` at every SSH login (0.4 s under TCG).
The seed's CA bundle (the host's) costs no minute under TCG. Debian's certificates move into one
file, ``/usr/local/share/ca-certificates/debian.crt``, and ``ca-certificates.conf`` lists none, so
the ``update-ca-certificates`` that cloud-init runs makes ``ca-certificates.crt`` (Debian's and the
seeded ones, as before) from two files instead of forking four programs for each of ~140
certificates; and as the image already holds the two files' links in ``/etc/ssl/certs``, nothing
is added there, so the script skips its ``test`` per link and ``openssl rehash`` (which skips a
many-certificate file anyway). Debian's certificates keep their own hashed links.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import VmError
from workbench.vm import binfmt
from workbench.vm.builders import disk as disk_mod
from workbench.vm.builders import initramfs, tree
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
    "initramfs-tools",
    "sudo",
    "dbus",
    "netbase",
    # what snap builds need inside the guest
    "build-essential",
    "squashfs-tools",
    "python3-apt",
    "openssh-sftp-server",
    # the initramfs's shell (initramfs.py)
    "busybox-static",
)
HOSTNAME = "workbench"
CLOUD_CFG = """\
# workbench: only the NoCloud seed, only the modules its user-data uses, all before sshd starts
datasource_list: [NoCloud, None]
network: {config: disabled}
cloud_init_modules:
  - resizefs
  - set_hostname
  - update_hostname
  - update_etc_hosts
  - ca-certs
  - users-groups
  - ssh
  - locale
  - set-passwords
cloud_config_modules: []
cloud_final_modules: [final-message]
"""
"""Every boot: no probing for other clouds, no network config (eth0 is the image's), the disk
grown to its size; first boot: hostname, hosts, CAs, users, SSH keys, locale, no passwords."""
GUEST_FILES = {
    "etc/cloud/cloud.cfg.d/90-workbench.cfg": CLOUD_CFG,
    "etc/systemd/network/20-eth0.network": "[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n",
    "etc/resolv.conf": "nameserver 10.0.2.3\n",
    "etc/default/locale": "LANG=C.UTF-8\n",
    "etc/ca-certificates.conf": "# workbench: Debian's are in /usr/local/share (debian.py)\n",
}
"""Written over the installed tree (paths relative to its root)."""
DEBIAN_CAS = "usr/local/share/ca-certificates/debian.crt"
CA_LINKS = {
    "etc/ssl/certs/debian.pem": f"/{DEBIAN_CAS}",
    "etc/ssl/certs/cloud-init-ca-certs.pem": "/usr/share/ca-certificates/cloud-init-ca-certs.crt",
}
"""The links ``update-ca-certificates`` would add for Debian's and the seeded bundle (above)."""
MASKED = (
    "cloud-init-local.service",
    "cloud-config.service",
    "systemd-networkd-wait-online.service",
    "e2scrub_reap.service",
    "e2scrub_all.timer",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "getty@tty1.service",
    "modprobe@drm.service",
)
"""systemd units the build VM does not run."""
DISK_MIB = 8192
STEPS = ("mmdebstrap", "kernel and initrd", "disk image")
SOURCES = (
    Path(__file__),
    Path(disk_mod.__file__),
    Path(recipe_mod.__file__),
    Path(initramfs.__file__),
    initramfs.INIT,
)
BUSYBOX = "bin/busybox"
MODULES = "lib/modules"


def unshare_helper(argv: list[str]) -> list[str]:
    """``argv`` run inside mmdebstrap's user namespace, where the tree's owners are right."""
    return ["mmdebstrap", "--unshare-helper", *argv]


def guest_files_tar() -> bytes:
    """:data:`GUEST_FILES`, :data:`CA_LINKS` and the :data:`MASKED` links as a tar owned by root
    (pure)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        links = {**CA_LINKS, **{f"etc/systemd/system/{unit}": "/dev/null" for unit in MASKED}}
        for name, text in [*GUEST_FILES.items(), *links.items()]:
            info = tarfile.TarInfo(name)
            info.mtime = tree.EPOCH
            if name in links:
                info.type, info.linkname = tarfile.SYMTYPE, text
                tar.addfile(info)
            else:
                data = text.encode()
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass(frozen=True)
class DebianImage:
    """One architecture's Debian 12 image: its name in the index and its kernel package."""

    name: str
    arch: str
    kernel: str

    @property
    def packages(self) -> tuple[str, ...]:
        return (*PACKAGES, self.kernel)


IMAGES = {
    "amd64": DebianImage("debian-12", "amd64", "linux-image-amd64"),
    "arm64": DebianImage("debian-12-arm64", "arm64", "linux-image-arm64"),
}
NO_INITRAMFS = "/usr/sbin/update-initramfs"
ESSENTIAL_HOOKS = (
    f'chroot "$1" dpkg-divert --quiet --local --rename --add {NO_INITRAMFS}',
    f'printf "#!/bin/sh\\nexit 0\\n" > "$1{NO_INITRAMFS}"',
    f'chmod 755 "$1{NO_INITRAMFS}"',
)
"""Before the other packages: ``update-initramfs`` diverted to a no-op (no initrd in the tree)."""


def mmdebstrap_argv(rootfs: Path, files: Path, *, root: bool, arch: str = "amd64") -> list[str]:
    """The mmdebstrap command line that creates the ``arch`` guest tree in ``rootfs``, with the
    tar ``files`` (:func:`guest_files_tar`) unpacked over it (pure)."""
    hooks = (
        'echo "/dev/vda / ext4 defaults 0 1" > "$1/etc/fstab"',
        f'echo {HOSTNAME} > "$1/etc/hostname"',
        'rm -f "$1"/etc/ssh/ssh_host_*',
        'sed -i "/pam_motd/d" "$1/etc/pam.d/sshd"',
        f'cp "$1/etc/ssl/certs/ca-certificates.crt" "$1/{DEBIAN_CAS}"',
        f"tar-in {files} /",
        'chroot "$1" systemctl enable systemd-networkd.service',
    )
    return [
        "mmdebstrap",
        f"--mode={'root' if root else 'unshare'}",
        "--variant=apt",
        "--format=directory",
        f"--architectures={arch}",
        "--include=" + ",".join(IMAGES[arch].packages),
        *(f"--essential-hook={hook}" for hook in ESSENTIAL_HOOKS),
        *(f"--customize-hook={hook}" for hook in hooks),
        SUITE,
        str(rootfs),
        MIRROR,
    ]


def recipe() -> Recipe:
    """The debian-12 (amd64) recipe."""
    return recipe_for("amd64")


def build(session: BuildSession, out: Path, recipe: Recipe) -> None:
    """Write debian-12's (amd64) ``vmlinuz``, ``initrd.img`` and ``disk.qcow2`` into ``out``."""
    build_for("amd64", session, out, recipe)


def recipe_for(arch: str) -> Recipe:
    """The recipe of ``arch``'s image: suite, mirror, architecture, packages, mmdebstrap version,
    this builder."""
    try:
        version = subprocess.run(
            ["mmdebstrap", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise VmError(
            "cannot build debian-12: mmdebstrap does not run", hint="install mmdebstrap (./dev)"
        ) from exc
    image = IMAGES[arch]
    return Recipe(
        image.name,
        {
            "suite": SUITE,
            "mirror": MIRROR,
            **({} if arch == "amd64" else {"arch": arch}),  # debian-12's recipe as it was
            "packages": ",".join(image.packages),
            "essential_hooks": "\n".join(ESSENTIAL_HOOKS),
            "cloud_cfg": CLOUD_CFG,
            "mmdebstrap": version,
            "builder": files_digest(SOURCES),
            "disk_mib": str(DISK_MIB),
        },
    )


def build_for(arch: str, session: BuildSession, out: Path, recipe: Recipe) -> None:
    """Write ``arch``'s ``vmlinuz``, ``initrd.img`` and ``disk.qcow2`` into ``out``."""
    binfmt.ensure_foreign(arch)
    root = os.geteuid() == 0
    inside = None if root else unshare_helper

    def run(argv: list[str]) -> None:
        session.run(inside(argv) if inside else argv)

    def copy_out(path: Path, dest: Path) -> Path:
        """``path`` of the guest tree copied to ``dest`` (ours, readable)."""
        run(["cp", str(path), str(disk_mod.scratch_file(dest, shared=not root))])
        dest.chmod(0o644)
        return dest

    rootfs = out / "rootfs"
    try:
        with session.step("mmdebstrap"):
            files = out / "guest-files.tar"
            files.write_bytes(guest_files_tar())
            session.run(mmdebstrap_argv(rootfs, files, root=root, arch=arch))
            files.unlink()
        with session.step("kernel and initrd"):
            kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
            if not kernels:
                session.fail("no /boot/vmlinuz-* in the guest tree")
            copy_out(kernels[-1], out / "vmlinuz")
            release = kernels[-1].name.removeprefix("vmlinuz-")
            modules_dir = rootfs / MODULES / release
            depends = copy_out(modules_dir / "modules.dep", out / "modules.dep")
            modules = initramfs.parse_modules_dep(depends.read_text())
            depends.unlink()
            order = initramfs.load_order(initramfs.ROOT_MODULES, modules)
            copies = [(m, copy_out(modules_dir / modules[m].path, out / f"{m}.ko")) for m in order]
            busybox = copy_out(rootfs / BUSYBOX, out / "busybox")
            (out / "initrd.img").write_bytes(tree.cpio_newc(initramfs.entries(busybox, copies)))
            for _, path in copies:
                path.unlink()
            busybox.unlink()
        with session.step("disk image"):
            disk_mod.make_disk(session, rootfs, out, recipe, inside)
    finally:
        if rootfs.exists():
            run(["rm", "-rf", str(rootfs)])
