"""What a program needs to run, read from its ELF file: the dynamic loader and the libraries.

``ldd`` runs the program's loader, so it only answers for the host's own architecture; reading
``PT_INTERP`` and the ``DT_NEEDED`` entries of the file itself answers for any. :func:`closure`
finds the loader and every library a set of programs needs, transitively, in a guest file tree
(the host's ``/`` or unpacked packages of another architecture), following symbolic links inside
that tree. 64-bit little-endian files only: the build VM architectures (amd64, arm64).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from workbench.errors import VmError
from workbench.vm.arch import GuestArch

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB = 0, 1, 5
_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_PROGRAM = struct.Struct("<IIQQQQQQ")
_DYNAMIC = struct.Struct("<qQ")
MAX_LINKS = 40


@dataclass(frozen=True)
class ElfFile:
    """The facts about an ELF file that say what it needs to run."""

    machine: int
    interpreter: str | None
    needed: tuple[str, ...]


def parse_elf(data: bytes) -> ElfFile:
    """The machine, loader and needed libraries of the ELF image ``data`` (pure)."""
    if data[:4] != b"\x7fELF" or data[4:6] != b"\x02\x01":
        raise ValueError("not a 64-bit little-endian ELF file")
    header = _HEADER.unpack_from(data)
    machine, phoff, phentsize, phnum = header[2], header[5], header[9], header[10]
    programs = [_PROGRAM.unpack_from(data, phoff + i * phentsize) for i in range(phnum)]
    interpreter = None
    needed: list[int] = []
    strtab = None
    for p_type, _flags, offset, _vaddr, _paddr, filesz, _memsz, _align in programs:
        if p_type == PT_INTERP:
            interpreter = data[offset : offset + filesz].rstrip(b"\0").decode()
        elif p_type == PT_DYNAMIC:
            for at in range(offset, offset + filesz, _DYNAMIC.size):
                tag, value = _DYNAMIC.unpack_from(data, at)
                if tag == DT_NULL:
                    break
                if tag == DT_NEEDED:
                    needed.append(value)
                elif tag == DT_STRTAB:
                    strtab = value
    names: list[str] = []
    if needed:
        if strtab is None:
            raise ValueError("DT_NEEDED without a string table")
        base = _file_offset(programs, strtab)
        names = [data[base + n : data.index(b"\0", base + n)].decode() for n in needed]
    return ElfFile(machine, interpreter, tuple(names))


def _file_offset(programs: list[tuple[int, ...]], address: int) -> int:
    """The file offset of the virtual ``address`` in the loaded segments."""
    for p_type, _flags, offset, vaddr, _paddr, filesz, _memsz, _align in programs:
        if p_type == PT_LOAD and vaddr <= address < vaddr + filesz:
            return address - vaddr + offset
    raise ValueError(f"address {address:#x} is in no loaded segment")


def locate(root: Path, path: str) -> Path | None:
    """The file that the guest path ``path`` names in the tree ``root`` (symbolic links followed
    inside the tree, an absolute target taken from ``root``); None when there is none."""
    todo = list(PurePosixPath(path).parts[1:])
    current = PurePosixPath("/")
    links = 0
    while todo:
        part = todo.pop(0)
        if part in (".", ""):
            continue
        if part == "..":
            current = current.parent
            continue
        host = root / str(current / part).lstrip("/")
        if not host.is_symlink():
            current = current / part
            continue
        links += 1
        if links > MAX_LINKS:
            return None
        target = PurePosixPath(os.readlink(host))
        if target.is_absolute():
            current = PurePosixPath("/")
            todo = list(target.parts[1:]) + todo
        else:
            todo = list(target.parts) + todo
    found = root / str(current).lstrip("/")
    return found if found.is_file() else None


def read(root: Path, path: str, arch: GuestArch) -> ElfFile:
    """The ELF facts of the guest file ``path`` in ``root``, checked to be of ``arch``."""
    source = locate(root, path)
    if source is None:
        raise VmError(f"{path} is missing from {root}")
    try:
        elf = parse_elf(source.read_bytes())
    except (ValueError, struct.error, UnicodeDecodeError) as exc:
        raise VmError(f"{path} in {root} is not a program of this kind: {exc}") from exc
    if elf.machine != arch.elf_machine:
        raise VmError(
            f"{path} in {root} is for ELF machine {elf.machine}, not {arch.name}'s"
            f" ({arch.elf_machine})"
        )
    return elf


def closure(programs: Sequence[str], root: Path, arch: GuestArch) -> list[tuple[str, Path]]:
    """The loader and every library that ``programs`` (guest paths) need, transitively, as
    ``(guest path, file in root)`` sorted by guest path: a library is looked up in the
    architecture's multiarch directories, then ``/lib`` and ``/usr/lib``."""
    search = (f"/lib/{arch.multiarch}", f"/usr/lib/{arch.multiarch}", "/lib", "/usr/lib")
    found: dict[str, Path] = {}
    todo = list(programs)
    seen: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        elf = read(root, path, arch)
        wanted = [elf.interpreter] if elf.interpreter else []
        for name in elf.needed:
            where = next((f"{d}/{name}" for d in search if locate(root, f"{d}/{name}")), None)
            if where is None:
                raise VmError(f"{path} needs {name}, which is not in {root}")
            wanted.append(where)
        for library in wanted:
            source = locate(root, library)
            if source is None:
                raise VmError(f"{path} needs {library}, which is not in {root}")
            found[library] = source
            todo.append(library)
    return sorted(found.items())
