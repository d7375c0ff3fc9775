"""The qemu process: a pure command-line builder (:func:`qemu_argv`) and a thin starter.

The guest boots its kernel and initrd directly (no firmware: an arm64 kernel gets its device
tree from qemu) from the overlay disk (``/dev/vda``) with the seed ISO as the second virtio drive,
user networking with SSH forwarded from ``127.0.0.1`` only, the serial console appended to
``serial.log``, QMP on a unix socket (no HMP monitor), the project on 9p (read-only unless asked
otherwise), and optional extra 9p shares that the guest can only read (``readonly=on``: e.g. the
wheelhouse). The emulator, the machine type and the CPU model under TCG follow the guest's
architecture (:mod:`workbench.vm.arch`: ``q35`` for amd64, ``virt`` for arm64, whose PCI bus
takes the same virtio devices).

Every value spliced into a qemu option string (``key=value,key=value``) goes through
:func:`escape_opt`, which doubles commas: qemu reads ``,,`` as a literal comma, so a project path
such as ``/tmp/x,path=/home`` stays one path instead of adding options of its own.

9p security model: ``none``. Files the guest writes land on the host with the guest's mode bits,
owned by the user running qemu, so the host can use what the guest builds as is. ``mapped-xattr``
would keep guest owners and modes in ``user.virtfs.*`` xattrs and leave host files ``0600``, and
files created on the host would show their raw mode in the guest; it only pays off when the guest
needs ownership that the host user cannot hold.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import VmError
from workbench.vm.accel import accel_args, cpu_model
from workbench.vm.arch import GuestArch, emulator_hint, guest_arch

SHARE_MODES = ("ro", "rw")
"""How the guest gets the project: read-only (default) or writable (``--share-mode rw``)."""


@dataclass(frozen=True)
class QemuConfig:
    """Everything one launch needs; the command line follows from it alone."""

    name: str
    kernel: Path
    initrd: Path
    append: str
    overlay: Path
    seed_iso: Path
    qmp_socket: Path
    serial_log: Path
    ssh_port: int
    project: Path | None
    accel: str = "tcg"
    memory_mib: int = 1024
    cpus: int = 2
    arch: str = "amd64"  # the guest's Debian architecture
    binary: str | None = None  # None: the architecture's emulator (a wrapper, in tests)
    loadvm: str | None = None
    shares: tuple[tuple[str, Path], ...] = ()  # read-only 9p exports: (mount tag, host path)
    project_writable: bool = False  # the guest may write the project share (--share-mode rw)

    @property
    def guest(self) -> GuestArch:
        return guest_arch(self.arch)

    @property
    def emulator(self) -> str:
        return self.binary or self.guest.qemu_binary

    @property
    def machine(self) -> str:
        return self.guest.machine


def escape_opt(value: str | Path) -> str:
    """``value`` escaped for a qemu option string: each ``,`` doubled (qemu's own escape)."""
    return str(value).replace(",", ",,")


def split_opts(text: str) -> list[tuple[str, str]]:
    """The ``key=value`` pairs of a qemu option string, unescaping ``,,`` (pure)."""
    items = [""]
    rest = text
    while rest:
        head, comma, rest = rest.partition(",")
        items[-1] += head
        if comma and rest.startswith(","):
            items[-1] += ","
            rest = rest[1:]
        elif comma:
            items.append("")
    return [(key, value) for key, _, value in (item.partition("=") for item in items if item)]


def kernel_append(append: str) -> str:
    """The image's command line, plus ``panic=-1`` so a panicking guest ends qemu (-no-reboot)."""
    return append if re.search(r"(^|\s)panic=", append) else f"{append} panic=-1".strip()


def qemu_argv(cfg: QemuConfig) -> list[str]:
    """The full qemu command line for ``cfg`` (pure)."""
    argv = [
        cfg.emulator,
        "-name",
        escape_opt(f"workbench-{cfg.name}"),
        "-machine",
        cfg.machine,
        *accel_args(cfg.accel, cpu_model(cfg.accel, cfg.guest)),
        "-m",
        f"{cfg.memory_mib}M",
        "-smp",
        str(cfg.cpus),
        "-nodefaults",
        "-display",
        "none",
        "-no-reboot",
        "-kernel",
        str(cfg.kernel),
        "-initrd",
        str(cfg.initrd),
        "-append",
        kernel_append(cfg.append),
        "-drive",
        f"file={escape_opt(cfg.overlay)},if=virtio,format=qcow2",
        "-drive",
        f"file={escape_opt(cfg.seed_iso)},if=virtio,format=raw,readonly=on,media=cdrom",
        "-netdev",
        f"user,id=net0,hostfwd=tcp:127.0.0.1:{cfg.ssh_port}-:22",
        "-device",
        "virtio-net-pci,netdev=net0",
        "-chardev",
        f"file,id=serial0,path={escape_opt(cfg.serial_log)},append=on",
        "-serial",
        "chardev:serial0",
        "-chardev",
        f"socket,id=qmp0,path={escape_opt(cfg.qmp_socket)},server=on,wait=off",
        "-mon",
        "chardev=qmp0,mode=control",
        "-monitor",
        "none",
    ]
    shares = [(tag, path, False) for tag, path in cfg.shares]
    if cfg.project is not None:
        shares.insert(0, ("project", cfg.project, cfg.project_writable))
    for tag, path, writable in shares:
        argv += [
            "-virtfs",
            f"local,path={escape_opt(path)},mount_tag={escape_opt(tag)},security_model=none"
            f"{'' if writable else ',readonly=on'},id={escape_opt(tag)}",
        ]
    if cfg.loadvm:
        argv += ["-loadvm", cfg.loadvm]
    return argv


def machine_of(argv: list[str]) -> str:
    """The ``-machine`` of a qemu command line (pure; part of every snapshot tag: a saved state
    only loads on the same machine type)."""
    return next((v for word, v in itertools.pairwise(argv) if word == "-machine"), "")


def _virtfs(argv: list[str]) -> list[dict[str, str]]:
    """The options of each ``-virtfs`` of a qemu command line (pure)."""
    return [dict(split_opts(v)) for word, v in itertools.pairwise(argv) if word == "-virtfs"]


def share_tags(argv: list[str]) -> list[str]:
    """The 9p mount tags of a qemu command line, sorted (pure; part of every snapshot tag: a
    saved state only loads with the same 9p devices; read-only or not does not matter, the
    shares being unmounted while a state is saved)."""
    return sorted(opts["mount_tag"] for opts in _virtfs(argv))


def project_writable(argv: list[str]) -> bool:
    """Whether a qemu command line exports the project share writable (pure)."""
    return any(o["mount_tag"] == "project" and "readonly" not in o for o in _virtfs(argv))


def start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start qemu in its own session with stdout and stderr going to ``log`` (truncated)."""
    with log.open("wb") as out:
        try:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise VmError(
                f"cannot run {argv[0]}: {exc.strerror}", hint=emulator_hint(argv[0])
            ) from exc


@functools.cache
def qemu_version(binary: str) -> str:
    """The version qemu reports, e.g. ``7.2.22`` (part of every snapshot tag)."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise VmError(f"cannot run {binary} --version: {exc}", hint=emulator_hint(binary)) from exc
    match = re.search(r"version (\S+)", out)
    return match.group(1) if match else out.strip()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _qemu_img(argv: list[str], *, failure: str, hint: str) -> str:
    """Run ``qemu-img ARGV``; its stdout, or a VmError ``failure: stderr`` with ``hint``."""
    try:
        done = subprocess.run(
            ["qemu-img", *argv], capture_output=True, text=True, check=True, timeout=60
        )
    except subprocess.CalledProcessError as exc:
        raise VmError(f"{failure}: {exc.stderr.strip()}", hint=hint) from exc
    except OSError as exc:
        raise VmError(f"cannot run qemu-img: {exc.strerror}", hint="install qemu-utils") from exc
    return done.stdout


def create_overlay(overlay: Path, base: Path, size_mib: int | None = None) -> None:
    """``qemu-img create`` a qcow2 overlay of ``base`` (backing format given explicitly), of
    virtual size ``size_mib`` (default: the base's)."""
    _qemu_img(
        ["create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(overlay)]
        + ([f"{size_mib}M"] if size_mib else []),
        failure=f"cannot create the overlay {overlay}",
        hint="check that the base image exists (vm image build)",
    )


def grow_overlay(overlay: Path, size_mib: int) -> None:
    """Grow the virtual disk ``overlay`` to ``size_mib`` (qemu must not be running)."""
    _qemu_img(
        ["resize", "-q", "-f", "qcow2", str(overlay), f"{size_mib}M"],
        failure=f"cannot resize the overlay {overlay}",
        hint="run `vm down` first",
    )


def _info(image: Path, what: str) -> dict[str, Any]:
    return dict(
        json.loads(
            _qemu_img(
                ["info", "-U", "--output=json", str(image)],
                failure=f"cannot read the {what} {image}",
                hint="run `vm clean` then `vm up` to recreate the instance",
            )
        )
    )


def backing_file(overlay: Path) -> str | None:
    """The backing file name recorded in ``overlay``'s header (None: a standalone image)."""
    name = _info(overlay, "overlay").get("backing-filename")
    return str(name) if name else None


def virtual_mib(image: Path) -> int:
    """The virtual size of the disk image ``image`` in MiB (rounded up)."""
    return -(-int(_info(image, "disk image")["virtual-size"]) // 2**20)


def check_disk(overlay: Path) -> str | None:
    """What ``qemu-img check`` finds wrong in ``overlay`` or its backing chain; None: usable.

    Leaked clusters alone (exit status 3, e.g. after qemu was killed) waste space but lose no data.
    """
    try:
        done = subprocess.run(
            ["qemu-img", "check", "-f", "qcow2", str(overlay)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise VmError(f"cannot run qemu-img check: {exc}", hint="install qemu-utils") from exc
    if done.returncode in (0, 3):
        return None
    return (done.stderr.strip() + "\n" + done.stdout.strip()).strip() or (
        f"qemu-img check {overlay} exited with status {done.returncode}"
    )


def repoint_overlay(overlay: Path, base: Path) -> None:
    """Point ``overlay`` at ``base`` without copying data: only for a base of identical content."""
    _qemu_img(
        ["rebase", "-u", "-F", "qcow2", "-b", str(base), str(overlay)],
        failure=f"cannot point the overlay {overlay} at {base}",
        hint="run `vm clean` then `vm up` to recreate the instance",
    )
