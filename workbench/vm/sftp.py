"""Copying single files to and from a machine over an open SFTP session."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import VmError
from workbench.files import atomic_output

if TYPE_CHECKING:
    import paramiko

CHUNK = 1 << 20


def push(sftp: paramiko.SFTPClient, src: Path, dst: str) -> None:
    """Copy the host file ``src`` to ``dst`` in the guest, with its permission bits."""
    try:
        sftp.put(str(src), dst)
        sftp.chmod(dst, src.stat().st_mode & 0o7777)
    except OSError as exc:
        raise VmError(f"cannot push {src} to {dst}: {exc}") from exc


def pull(sftp: paramiko.SFTPClient, src: str, dst: Path, max_bytes: int) -> None:
    """Copy the guest file ``src`` to the host path ``dst``, whole or not at all.

    The bytes go to a temporary file next to ``dst`` that replaces it only once exactly the
    size the guest stated arrived. Not a regular file, over ``max_bytes``, changed while
    copied, a lost connection or an interrupt: a VmError (or the interrupt), ``dst`` as it was.
    """
    import paramiko  # noqa: PLC0415 (heavy: loaded on the first connection only)

    try:
        info = sftp.stat(src)
        size = info.st_size or 0
        if not stat.S_ISREG(info.st_mode or 0):
            raise VmError(f"cannot pull {src}: not a regular file")
        if size > max_bytes:
            raise VmError(
                f"cannot pull {src}: its {size} bytes exceed the limit of {max_bytes}",
                hint="pass a higher max_bytes if the file is expected to be that big",
            )
        with sftp.open(src, "rb") as remote, atomic_output(dst) as out:
            got = 0
            while chunk := remote.read(min(CHUNK, size + 1 - got)):
                got += len(chunk)
                if got > size:
                    break
                out.write(chunk)
            if got != size:
                raise VmError(
                    f"cannot pull {src}: it changed while it was copied "
                    f"({size} bytes stated, {got} read)",
                    hint="pull it again once nothing writes it",
                )
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise VmError(f"cannot pull {src} to {dst}: {exc}") from exc
