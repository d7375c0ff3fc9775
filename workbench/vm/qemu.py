"""The qemu process: a pure command-line builder (:func:`qemu_argv`) and a thin starter.

The guest boots its kernel and initrd directly from the overlay disk (``/dev/vda``) with the seed
ISO as the second virtio drive, user networking with SSH forwarded from ``127.0.0.1`` only, the
serial console to ``serial.log``, QMP on a unix socket (no HMP monitor), and the project on 9p.

9p security model: ``none``. Files the guest writes land on the host with the guest's mode bits,
owned by the user running qemu, so the host can use what the guest builds as is. ``mapped-xattr``
would keep guest owners and modes in ``user.virtfs.*`` xattrs and leave host files ``0600``, and
files created on the host would show their raw mode in the guest; it only pays off when the guest
needs ownership that the host user cannot hold.
"""

from __future__ import annotations

import functools
import json
import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import VmError
from workbench.vm.accel import accel_args

MACHINE = "q35"  # part of every snapshot tag: a saved state only loads on the same machine type
_ARCH_BINARIES = {"amd64": "qemu-system-x86_64", "x86_64": "qemu-system-x86_64"}


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
    machine: str = MACHINE
    binary: str = "qemu-system-x86_64"
    loadvm: str | None = None


def binary_for(arch: str) -> str:
    """The qemu-system binary for a Debian architecture name."""
    try:
        return _ARCH_BINARIES[arch]
    except KeyError:
        raise VmError(
            f"no qemu system emulator known for architecture {arch!r}",
            hint=f"supported: {', '.join(sorted(_ARCH_BINARIES))}",
        ) from None


def kernel_append(append: str) -> str:
    """The image's command line, plus ``panic=-1`` so a panicking guest ends qemu (-no-reboot)."""
    return append if re.search(r"(^|\s)panic=", append) else f"{append} panic=-1".strip()


def qemu_argv(cfg: QemuConfig) -> list[str]:
    """The full qemu command line for ``cfg`` (pure)."""
    argv = [
        cfg.binary,
        "-name",
        f"workbench-{cfg.name}",
        "-machine",
        cfg.machine,
        *accel_args(cfg.accel),
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
        f"file={cfg.overlay},if=virtio,format=qcow2",
        "-drive",
        f"file={cfg.seed_iso},if=virtio,format=raw,readonly=on,media=cdrom",
        "-netdev",
        f"user,id=net0,hostfwd=tcp:127.0.0.1:{cfg.ssh_port}-:22",
        "-device",
        "virtio-net-pci,netdev=net0",
        "-serial",
        f"file:{cfg.serial_log}",
        "-qmp",
        f"unix:{cfg.qmp_socket},server=on,wait=off",
        "-monitor",
        "none",
    ]
    if cfg.project is not None:
        argv += [
            "-virtfs",
            f"local,path={cfg.project},mount_tag=project,security_model=none,id=project",
        ]
    if cfg.loadvm:
        argv += ["-loadvm", cfg.loadvm]
    return argv


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
                f"cannot run {argv[0]}: {exc.strerror}",
                hint="install qemu-system-x86 (./dev does)",
            ) from exc


@functools.cache
def qemu_version(binary: str) -> str:
    """The version qemu reports, e.g. ``7.2.22`` (part of every snapshot tag)."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise VmError(f"cannot run {binary} --version: {exc}", hint="install qemu") from exc
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


def create_overlay(overlay: Path, base: Path) -> None:
    """``qemu-img create`` a qcow2 overlay of ``base`` (backing format given explicitly)."""
    _qemu_img(
        ["create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(overlay)],
        failure=f"cannot create the overlay {overlay}",
        hint="check that the base image exists (vm image build)",
    )


def backing_file(overlay: Path) -> str | None:
    """The backing file name recorded in ``overlay``'s header (None: a standalone image)."""
    info = json.loads(
        _qemu_img(
            ["info", "-U", "--output=json", str(overlay)],
            failure=f"cannot read the overlay {overlay}",
            hint="run `vm clean` then `vm up` to recreate the instance",
        )
    )
    name = info.get("backing-filename")
    return str(name) if name else None


def repoint_overlay(overlay: Path, base: Path) -> None:
    """Point ``overlay`` at ``base`` without copying data: only for a base of identical content."""
    _qemu_img(
        ["rebase", "-u", "-F", "qcow2", "-b", str(base), str(overlay)],
        failure=f"cannot point the overlay {overlay} at {base}",
        hint="run `vm clean` then `vm up` to recreate the instance",
    )
