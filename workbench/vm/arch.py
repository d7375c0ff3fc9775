"""Guest architectures: what a build VM of each Debian architecture runs on and serves.

One :class:`GuestArch` per architecture a build VM can have: the qemu system emulator and the
Debian package that ships it, the machine type, the CPU model under TCG, the serial console (and
the kernel's early console on it), the wheel platforms of its Python packages, the ELF machine and
multiarch directory of its programs, the qemu user-mode emulator that runs one of them on another
host, and the build-on architectures it serves (an amd64 VM also builds on i386; an arm64 VM only
on arm64). A VM whose architecture is not the host's always runs under TCG (emulation): KVM only
runs the host's own.

The arm64 CPU under TCG is ``cortex-a57`` (ARMv8.0, Debian's arm64 baseline). ``max`` emulates
pointer authentication with its real algorithm (QARMA), which Debian's arm64 kernels use on every
function call: a kernel boot took 12 s instead of 2 s. ``max,pauth-impdef=on`` (a cheap
algorithm) and ``max,pauth=off`` boot within noise of ``cortex-a57``; the
build VM needs no feature past the baseline, and a fixed model keeps saved states loadable
across qemu releases' changes to ``max``.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

from workbench.errors import UsageError


@dataclass(frozen=True)
class GuestArch:
    """A build VM architecture (Debian name) and how qemu runs it."""

    name: str
    uname: str  # the kernel's name of the machine (``uname -m``), and qemu-user's
    qemu_binary: str
    qemu_package: str
    machine: str
    tcg_cpu: str
    console: str
    early_console: str
    wheel_platforms: tuple[str, ...]
    elf_machine: int
    multiarch: str
    qemu_user: str
    serves: tuple[str, ...]

    @property
    def install_hint(self) -> str:
        """What to install to run this architecture's guests."""
        return f"install {self.qemu_package} (./dev does)"


DEFAULT_ARCH = "amd64"
"""A VM's architecture when nothing says otherwise (an image or a build-on does); instance names
of other architectures carry theirs."""

ARCHS = {
    "amd64": GuestArch(
        name="amd64",
        uname="x86_64",
        qemu_binary="qemu-system-x86_64",
        qemu_package="qemu-system-x86",
        machine="q35",
        tcg_cpu="max",
        console="ttyS0",
        early_console="earlyprintk=ttyS0",
        wheel_platforms=("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64"),
        elf_machine=62,  # EM_X86_64
        multiarch="x86_64-linux-gnu",
        qemu_user="qemu-x86_64-static",
        serves=("amd64", "i386"),
    ),
    "arm64": GuestArch(
        name="arm64",
        uname="aarch64",
        qemu_binary="qemu-system-aarch64",
        qemu_package="qemu-system-arm",
        machine="virt",
        tcg_cpu="cortex-a57",  # see the module docstring
        console="ttyAMA0",
        early_console="earlycon",
        wheel_platforms=(
            "manylinux2014_aarch64",
            "manylinux_2_17_aarch64",
            "manylinux_2_28_aarch64",
        ),
        elf_machine=183,  # EM_AARCH64
        multiarch="aarch64-linux-gnu",
        qemu_user="qemu-aarch64-static",
        serves=("arm64",),
    ),
}
"""Every architecture a build VM can have, by Debian name."""

_MACHINES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def guest_arch(name: str) -> GuestArch:
    """The build VM architecture ``name`` (a UsageError naming the ones there are)."""
    try:
        return ARCHS[name]
    except KeyError:
        raise UsageError(
            f"no build VM architecture {name!r}",
            hint=f"build VMs run {', '.join(ARCHS)}",
        ) from None


def host_arch() -> str:
    """The host's Debian architecture name (``amd64`` on x86_64)."""
    machine = platform.machine()
    return _MACHINES.get(machine, machine)


def emulator_arch(binary: str) -> GuestArch | None:
    """The architecture whose qemu system emulator ``binary`` (a name or path) is, if any."""
    name = binary.rsplit("/", 1)[-1]
    return next((arch for arch in ARCHS.values() if arch.qemu_binary == name), None)


def emulator_hint(binary: str) -> str:
    """What to install to get the qemu system emulator ``binary``."""
    arch = emulator_arch(binary)
    return arch.install_hint if arch is not None else f"install the qemu that provides {binary}"


def foreign(name: str) -> bool:
    """Whether a guest of architecture ``name`` is emulated here (not the host's own)."""
    return name != host_arch()


def vm_arch_for(build_on: str) -> str:
    """The VM architecture that builds on ``build_on`` (i386 on amd64)."""
    for arch in ARCHS.values():
        if build_on in arch.serves:
            return arch.name
    served = sorted(a for arch in ARCHS.values() for a in arch.serves)
    raise UsageError(
        f"no build VM can build on {build_on}",
        hint=f"build VMs build on {', '.join(served)}",
    )
