"""The build's outputs, brought from the guest into the project by the host.

The guest never writes the project (it is mounted read-only). After ``pack`` the host fetches
the .snap over SFTP into the instance directory and moves it into the project atomically, mode
0644 (:func:`deliver`). For ``--export-prime`` it fetches prime as a tar file and unpacks it
(:func:`export_prime`) through tarfile's ``tar`` filter (no absolute or escaping paths; setuid,
setgid, sticky, group- and world-write bits cleared), without device files or FIFOs, owned by
the host user, into a fresh directory that then replaces only an earlier export.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from workbench.errors import BuildError
from workbench.files import atomic_output
from workbench.vm.provider import Machine

EXPORT_DIR = "prime"
EXPORT_MARKER = ".workbench-export"
"""A file marking a prime/ exported by the workbench: only such a directory is replaced."""


def deliver(snap: Path, output: Path) -> Path:
    """Copy ``snap`` to ``output`` atomically (unique temp file, fsync, rename), mode 0644."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(output) as out, snap.open("rb") as src:
        shutil.copyfileobj(src, out)
    return output


def _host_owned(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """The ``tar`` filter, minus device files and FIFOs, owned by the user unpacking."""
    member = tarfile.tar_filter(member, dest)
    if member.ischr() or member.isblk() or member.isfifo():
        return None
    return member.replace(uid=os.getuid(), gid=os.getgid(), uname="", gname="", deep=False)


def export_prime(tar: Path, destination: Path) -> Path:
    """Unpack the prime ``tar`` as ``destination`` (replacing only an earlier export)."""
    if destination.exists() and not (destination / EXPORT_MARKER).exists():
        raise BuildError(
            f"{destination} exists and was not exported by the workbench",
            hint="move it away, or build without --export-prime",
        )
    fresh = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        try:
            with tarfile.open(tar) as archive:
                archive.extractall(fresh, filter=_host_owned)
        except tarfile.TarError as err:
            raise BuildError(
                f"refused prime from the guest: {err}", hint="see the part that made it"
            ) from err
        (fresh / EXPORT_MARKER).write_text("exported by workbench build --export-prime\n")
        fresh.chmod(0o755)
        if destination.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old.", dir=destination.parent))
            destination.rename(old / destination.name)
            fresh.rename(destination)
            shutil.rmtree(old)
        else:
            fresh.rename(destination)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    return destination


def fetch(machine: Machine, guest_file: Path, install: Callable[[Path], Path]) -> Path:
    """Pull ``guest_file`` from the machine into a private scratch directory of its instance
    directory, then ``install`` it (e.g. :func:`deliver`); what ``install`` returns."""
    scratch = Path(tempfile.mkdtemp(prefix="outputs.", dir=machine.dir.root))
    try:
        got = scratch / guest_file.name
        machine.pull(str(guest_file), got)
        return install(got)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
