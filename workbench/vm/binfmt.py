"""Running foreign programs on the host: qemu-user-static registered with binfmt_misc.

Filling a root filesystem of another architecture (mmdebstrap runs its packages' maintainer
scripts) needs the kernel to hand that architecture's programs to ``qemu-ARCH-static``. Debian's
qemu-user-static registers itself where systemd-binfmt or binfmt-support run; in a container the
``binfmt_misc`` filesystem may not even be mounted. :func:`ensure_foreign` checks the registration
and, as root, mounts the filesystem and writes the package's rule (``/usr/lib/binfmt.d``) to its
``register`` file, as ``systemd-binfmt`` would; an ordinary user gets an error saying what to run
once.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from workbench.errors import VmError
from workbench.vm.arch import guest_arch, host_arch

BINFMT = Path("/proc/sys/fs/binfmt_misc")
CONFIGS = Path("/usr/lib/binfmt.d")


def registered(arch: str, binfmt: Path = BINFMT) -> bool:
    """Whether programs of ``arch`` run on this host (natively, or through binfmt_misc)."""
    if arch == host_arch():
        return True
    entry = binfmt / f"qemu-{guest_arch(arch).uname}"
    try:
        return entry.read_text(encoding="ascii").startswith("enabled")
    except OSError:
        return False


def ensure_foreign(arch: str) -> None:
    """Make programs of ``arch`` run on this host, or raise VmError saying how."""
    if registered(arch):
        return
    name = guest_arch(arch).uname
    config = CONFIGS / f"qemu-{name}.conf"
    register = BINFMT / "register"
    hint = (
        f"install qemu-user-static, then as root: mount -t binfmt_misc binfmt_misc {BINFMT};"
        f" grep '^:' {config} > {register} (./dev does both)"
    )
    if os.geteuid() != 0 or not config.is_file():
        raise VmError(
            f"{arch} programs do not run on this host (qemu-{name} not registered)", hint=hint
        )
    try:
        if not register.exists():
            argv = ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)]
            subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
        rules = [line for line in config.read_text().splitlines() if line.startswith(":")]
        register.write_text(rules[0])
    except (OSError, IndexError, subprocess.SubprocessError) as exc:
        said = getattr(exc, "stderr", None) or str(exc)
        raise VmError(
            f"cannot register qemu-{name} with binfmt_misc: {said.strip()}", hint=hint
        ) from exc
    if not registered(arch):
        raise VmError(f"qemu-{name} is still not registered with binfmt_misc", hint=hint)
