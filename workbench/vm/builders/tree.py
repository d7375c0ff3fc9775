"""A guest file tree as data: directories, files, symlinks and device nodes.

Builders describe what goes into an image as a list of :class:`Node`; :func:`write_tree` turns it
into a directory (for ``mkfs.ext4 -d``) and :func:`cpio_newc` into an initramfs archive (byte for
byte the same for the same entries: fixed timestamps, owners root, entries in the given order).
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

EPOCH = 1_700_000_000
"""The timestamp every file in a built image gets (reproducible builds)."""


@dataclass(frozen=True)
class Node:
    """One node: ``kind`` is ``dir``, ``file``, ``symlink`` or ``chardev``.

    A file takes its bytes from ``source`` (a host path) or ``data``; a symlink points at
    ``target``; a character device has ``major``/``minor``.
    """

    path: str
    kind: str
    mode: int = 0o755
    source: Path | None = None
    data: bytes | None = None
    target: str | None = None
    major: int = 0
    minor: int = 0

    def content(self) -> bytes:
        if self.kind == "symlink":
            return (self.target or "").encode()
        if self.kind != "file":
            return b""
        if self.data is not None:
            return self.data
        assert self.source is not None, f"file entry {self.path} has no content"
        return self.source.read_bytes()

    def file_type(self) -> int:
        return {
            "dir": stat.S_IFDIR,
            "file": stat.S_IFREG,
            "symlink": stat.S_IFLNK,
            "chardev": stat.S_IFCHR,
        }[self.kind]


def directory(path: str, mode: int = 0o755) -> Node:
    return Node(path, "dir", mode)


def host_file(path: str, source: Path, mode: int | None = None) -> Node:
    """A copy of host file ``source`` (its mode unless ``mode`` is given)."""
    return Node(path, "file", stat.S_IMODE(source.stat().st_mode) if mode is None else mode, source)


def text_file(path: str, text: str, mode: int = 0o644) -> Node:
    return Node(path, "file", mode, data=text.encode())


def symlink(path: str, target: str) -> Node:
    return Node(path, "symlink", 0o777, target=target)


def with_parents(entries: list[Node]) -> list[Node]:
    """``entries`` preceded by a ``dir`` entry for every missing parent directory."""
    declared = {e.path for e in entries if e.kind == "dir"}
    out: list[Node] = []
    for entry in entries:
        for parent in reversed(PurePosixPath(entry.path).parents):
            name = str(parent)
            if name not in ("/", ".") and name not in declared:
                declared.add(name)
                out.append(directory(name))
        out.append(entry)
    return out


def write_tree(entries: list[Node], root: Path) -> None:
    """Create ``entries`` under ``root`` (device nodes are skipped: devtmpfs provides them)."""
    for entry in with_parents(entries):
        dest = root / entry.path.lstrip("/")
        if entry.kind == "dir":
            dest.mkdir(parents=True, exist_ok=True)
        elif entry.kind == "symlink":
            dest.unlink(missing_ok=True)
            dest.symlink_to(entry.target or "")
        elif entry.kind == "file":
            if entry.source is not None:
                shutil.copyfile(entry.source, dest)
            else:
                dest.write_bytes(entry.content())
        else:
            continue
        if entry.kind != "symlink":
            dest.chmod(entry.mode)
    set_times(root)


def set_times(root: Path) -> None:
    """Give every path under ``root`` (and ``root``) the fixed :data:`EPOCH` timestamps."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (EPOCH, EPOCH), follow_symlinks=False)
    os.utime(root, (EPOCH, EPOCH))


def _cpio_record(ino: int, entry: Node, name: str, body: bytes) -> bytes:
    fields = (
        ino,
        entry.file_type() | entry.mode,
        0,
        0,
        2 if entry.kind == "dir" else 1,
        EPOCH,
        len(body),
        0,
        0,
        entry.major,
        entry.minor,
        len(name) + 1,
        0,
    )
    header = b"070701" + b"".join(b"%08X" % f for f in fields)
    raw = header + name.encode() + b"\0"
    raw += b"\0" * (-len(raw) % 4)
    return raw + body + b"\0" * (-len(body) % 4)


def cpio_newc(entries: list[Node]) -> bytes:
    """An uncompressed ``newc`` cpio archive (the kernel's initramfs format) of ``entries``."""
    chunks = [
        _cpio_record(ino, entry, entry.path.lstrip("/"), entry.content())
        for ino, entry in enumerate(with_parents(entries), start=1)
    ]
    chunks.append(_cpio_record(0, Node("TRAILER!!!", "file", 0, data=b""), "TRAILER!!!", b""))
    archive = b"".join(chunks)
    return archive + b"\0" * (-len(archive) % 512)
