"""Writing state files safely: the one way every state, index and key file is written.

:func:`write_atomic` writes a unique temporary file in the destination's directory, sets its
mode explicitly (so the umask never decides who may read a key), flushes it to disk and renames
it over the destination: a reader sees the old file or the new one, never a half-written one,
and two writers never share a temporary file. :func:`atomic_output` does the same for a file
written as a stream (a download, a pull).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

PRIVATE = 0o600
"""Mode of secrets (private keys) and of files only the owner needs."""
PUBLIC = 0o644
"""Mode of files others may read (public keys, state the owner's other tools read)."""


def write_atomic(path: Path, data: str | bytes, *, mode: int = PUBLIC) -> Path:
    """Replace ``path`` with ``data`` (str: UTF-8) atomically, with permission bits ``mode``."""
    with atomic_output(path, mode=mode) as out:
        out.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path


@contextlib.contextmanager
def atomic_output(path: Path, *, mode: int = PUBLIC) -> Iterator[BinaryIO]:
    """A binary file whose contents replace ``path`` as :func:`write_atomic` does when the block
    ends normally; an exception or an interrupt in it leaves ``path`` as it was."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
