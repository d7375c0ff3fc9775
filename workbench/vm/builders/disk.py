"""A root directory turned into a base disk: ``mkfs.ext4 -d`` on a sparse file, then qcow2.

The filesystem UUID and directory hash seed come from the recipe digest and the superblock times
are fixed; inode change times still come from the build, so a rebuild is equal in content, not
byte for byte.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

from workbench.vm.builders.recipe import Recipe
from workbench.vm.builders.session import BuildSession
from workbench.vm.builders.tree import EPOCH

LABEL = "rootfs"


def fs_uuid(digest: str) -> str:
    """A filesystem UUID derived from a recipe digest."""
    return str(uuid.UUID(digest[:32]))


def mkfs_argv(rootfs: Path, raw: Path, *, size_mib: int, label: str, digest: str) -> list[str]:
    """The ``mkfs.ext4`` command line that fills ``raw`` from ``rootfs`` (pure)."""
    fixed = fs_uuid(digest)
    return [
        "mkfs.ext4",
        "-q",
        "-F",
        "-L",
        label,
        "-U",
        fixed,
        "-E",
        f"hash_seed={fixed},root_owner=0:0",
        "-d",
        str(rootfs),
        str(raw),
        f"{size_mib}M",
    ]


def scratch_file(path: Path, *, shared: bool = False) -> Path:
    """An empty file at ``path``; ``shared``: writable by a user namespace's root (not us)."""
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    if shared:
        path.chmod(0o666)
    return path


def make_disk(
    session: BuildSession,
    rootfs: Path,
    out: Path,
    recipe: Recipe,
    wrap: Callable[[list[str]], list[str]] | None = None,
) -> None:
    """Write ``out/disk.qcow2`` holding an ext4 filesystem with the contents of ``rootfs``, of
    the size the recipe's ``disk_mib`` input says, its UUID from the recipe's digest.

    ``wrap`` runs mkfs where ``rootfs`` can be read with its true owners (a user namespace).
    """
    disk = out / "disk.qcow2"
    raw = scratch_file(out / "disk.raw", shared=wrap is not None)
    env = {**os.environ, "E2FSPROGS_FAKE_TIME": str(EPOCH)}
    size_mib = int(recipe.inputs["disk_mib"])
    mkfs = mkfs_argv(rootfs, raw, size_mib=size_mib, label=LABEL, digest=recipe.digest)
    try:
        session.run(wrap(mkfs) if wrap else mkfs, env=env)
        session.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(disk)])
    finally:
        raw.unlink(missing_ok=True)
