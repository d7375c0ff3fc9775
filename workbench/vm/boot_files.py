"""The kernel and initrd of a downloaded disk image, read from its filesystems.

Ubuntu cloud images boot through their own bootloader; the workbench boots a kernel and initrd
directly. For an index entry whose source is the disk alone, :func:`extract` copies them out of
the verified disk: ``qemu-img convert`` to a sparse raw file, its ext filesystems found from the
partition table (:mod:`workbench.vm.gpt`), then ``debugfs`` (e2fsprogs, no root needed) reads
``/boot/vmlinuz`` and ``/boot/initrd.img``, or ``/vmlinuz`` and ``/initrd.img`` at the top of a
separate boot filesystem (Ubuntu 24.04), following their symbolic links within the filesystem.
Paths are passed to ``debugfs`` only when made of plain characters, so a link in the image
cannot change the request.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import VmError
from workbench.vm import gpt

NAMES = {"kernel": "vmlinuz", "initrd": "initrd.img"}
DIRECTORIES = ("/boot/", "/")
MAX_LINKS = 8
TIMEOUT = 600.0  # seconds for one qemu-img or debugfs command
SYSTEM_PATH = "/usr/sbin:/sbin"  # where e2fsprogs lives, outside an ordinary user's PATH
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._+/-]*")
_TYPE = re.compile(r"\bType: (\S+)")
_SIZE = re.compile(r"\bGroup:\s*\d+\s+(?:Project:\s*\d+\s+)?Size: (\d+)")
_FAST_LINK = re.compile(r'Fast link dest: "(.*)"')


@dataclass(frozen=True)
class Inode:
    """What ``debugfs stat`` says of a path: its type (None: not found), size and, for a short
    symbolic link, its target."""

    kind: str | None
    size: int
    link: str | None = None


def parse_stat(text: str) -> Inode:
    """The inode ``debugfs -R "stat PATH"`` printed in ``text`` (pure)."""
    kind = _TYPE.search(text)
    size = _SIZE.search(text)
    link = _FAST_LINK.search(text)
    return Inode(
        kind.group(1) if kind else None,
        int(size.group(1)) if size else 0,
        link.group(1) if link else None,
    )


def follow(path: str, target: str) -> str:
    """Where the link at ``path`` to ``target`` leads, within the same filesystem (pure)."""
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if not _SAFE_PATH.fullmatch(resolved):
        raise VmError(
            f"unexpected link target {target!r} at {path} in the disk image",
            hint="a disk-only image needs plain kernel and initrd paths; give their URLs instead",
        )
    return resolved


def _tool(name: str) -> str:
    found = shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + SYSTEM_PATH)
    if found is None:
        package = "e2fsprogs" if name == "debugfs" else "qemu-utils"
        raise VmError(f"{name} is not installed", hint=f"install {package} (./dev installs it)")
    return found


def _run(argv: list[str], cwd: Path) -> str:
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise VmError(f"{argv[0]} took more than {TIMEOUT:.0f}s", hint="retry") from exc
    if proc.returncode != 0:
        raise VmError(
            f"{Path(argv[0]).name} exited with status {proc.returncode}",
            hint="see the details",
            details=proc.stderr.strip(),
        )
    return proc.stdout


class _Filesystem:
    """One ext filesystem of the raw disk ``raw``, read with debugfs (in ``raw``'s directory)."""

    def __init__(self, raw: Path, found: gpt.Filesystem) -> None:
        self.raw = raw
        self.found = found
        self.debugfs = _tool("debugfs")

    def request(self, request: str) -> str:
        device = f"{self.raw.name}?offset={self.found.offset}"
        return _run([self.debugfs, "-R", request, device], self.raw.parent)

    def resolve(self, path: str) -> tuple[str, Inode] | None:
        """The regular file ``path`` leads to (links followed), and its inode; None if none."""
        for _ in range(MAX_LINKS):
            inode = parse_stat(self.request(f"stat {path}"))
            if inode.kind == "regular":
                return path, inode
            if inode.kind != "symlink":
                return None
            target = inode.link if inode.link is not None else self.request(f"cat {path}")
            path = follow(path, target)
        return None

    def boot_files(self) -> dict[str, tuple[str, Inode]] | None:
        """The kernel and initrd in the first of :data:`DIRECTORIES` that has both."""
        for directory in DIRECTORIES:
            files = {role: self.resolve(directory + name) for role, name in NAMES.items()}
            if all(files.values()):
                return {role: found for role, found in files.items() if found is not None}
        return None

    def dump(self, path: str, inode: Inode, dest: Path) -> None:
        """Copy the regular file ``path`` to ``dest`` (in the raw disk's directory)."""
        self.request(f"dump {path} {dest.name}")
        if not dest.is_file() or dest.stat().st_size != inode.size:
            raise VmError(
                f"debugfs could not copy {path} out of the disk image",
                hint="the disk image may be damaged: rebuild the image",
            )


def extract(disk: Path, outputs: Mapping[str, Path]) -> str:
    """Write the kernel and initrd of the qcow2 ``disk`` to ``outputs["kernel"]`` and
    ``outputs["initrd"]``; the paths they had in the image (for the log)."""
    work = Path(tempfile.mkdtemp(prefix=".extract-", dir=disk.parent))
    try:
        raw = work / "disk.raw"
        convert = [_tool("qemu-img"), "convert", "-q", "-f", "qcow2", "-O", "raw"]
        _run([*convert, str(disk), str(raw)], work)
        found = gpt.filesystems(raw)
        for fs in (_Filesystem(raw, each) for each in found):
            files = fs.boot_files()
            if files is None:
                continue
            for role, (path, inode) in files.items():
                fs.dump(path, inode, work / role)
                os.replace(work / role, outputs[role])
            paths = " and ".join(path for path, _ in files.values())
            return f"{paths} of the filesystem labelled {fs.found.label!r}"
        raise VmError(
            f"no kernel and initrd in {disk}: looked for /boot/vmlinuz and /boot/initrd.img "
            f"(or /vmlinuz and /initrd.img) on {len(found)} ext filesystem(s)",
            hint="give the image's kernel and initrd URLs in the index",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
