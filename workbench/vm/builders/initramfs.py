"""The initramfs of the local images: busybox, ``/init`` and the root disk's kernel modules.

``initrd-init.sh`` (the ``/init``) loads :data:`ROOT_MODULES` with their dependencies (those the
kernel does not have built in), mounts ``root=`` and switch_roots to its ``/sbin/init``: no udev,
no module scan, a few MiB to unpack, which is what a virtio-only machine under TCG needs. The tiny
image takes the host's kernel and modules, tiny-arm64 and the debian-12 image their own;
:func:`parse_modules_dep`, :func:`parse_builtin` and :func:`load_order` say which files go in,
:func:`entries` lists the archive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import VmError
from workbench.vm.builders.tree import Node, directory, host_file, text_file

INIT = Path(__file__).with_name("initrd-init.sh")
ROOT_MODULES = ("virtio_pci", "virtio_blk", "crc32c_generic", "ext4")
"""Loaded by the initramfs, in this order (with their dependencies first)."""


@dataclass(frozen=True)
class Module:
    """A kernel module: its path under ``/lib/modules/RELEASE`` and the modules it needs."""

    path: str
    deps: tuple[str, ...]


def module_name(path: str) -> str:
    """``kernel/fs/9p/9p.ko`` -> ``9p``; dashes become underscores, as the kernel does."""
    return Path(path).name.split(".ko")[0].replace("-", "_")


def parse_modules_dep(text: str) -> dict[str, Module]:
    """Parse a ``modules.dep`` file into modules by name."""
    modules = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        path, _, deps = line.partition(":")
        modules[module_name(path)] = Module(path, tuple(module_name(d) for d in deps.split()))
    return modules


def parse_builtin(text: str) -> frozenset[str]:
    """The names of the modules a ``modules.builtin`` file lists (built into the kernel)."""
    return frozenset(module_name(line) for line in text.split())


def load_order(
    wanted: tuple[str, ...], modules: dict[str, Module], builtin: frozenset[str] = frozenset()
) -> list[str]:
    """``wanted`` and their dependencies, each after everything it needs; those ``builtin``
    (into the kernel) are left out."""
    order: list[str] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in order or name in builtin:
            return
        if name not in modules:
            raise VmError(
                f"kernel module {name} not found",
                hint="the image's kernel neither builds it in nor ships it as a module",
            )
        if name in chain:
            raise VmError(f"kernel module dependency loop: {' -> '.join((*chain, name))}")
        for dep in modules[name].deps:
            visit(dep, (*chain, name))
        order.append(name)

    for name in wanted:
        visit(name, ())
    return order


def entries(busybox: Path, modules: Sequence[tuple[str, Path]]) -> list[Node]:
    """The archive: a static ``busybox``, ``/init`` and ``modules`` (name, file) in load order."""
    listed = [
        directory("/bin"),
        directory("/dev"),
        Node("/dev/console", "chardev", 0o600, major=5, minor=1),
        directory("/proc"),
        directory("/sys"),
        directory("/newroot"),
        host_file("/bin/busybox", busybox, 0o755),
        host_file("/init", INIT, 0o755),
    ]
    listed += [host_file(f"/modules/{name}.ko", source, 0o644) for name, source in modules]
    listed.append(text_file("/modules/order", "".join(f"{name}.ko\n" for name, _ in modules)))
    return listed
