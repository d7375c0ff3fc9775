"""Where the filesystems of a raw disk image are: its GUID partition table and ext labels (pure).

:func:`parse_header` and :func:`parse_entries` read a GPT (512-byte sectors, as cloud images use),
checking its signature and CRCs; :func:`ext_label` reads the volume label of an ext2/3/4
superblock. :func:`filesystems` combines them over a file: the ext filesystems of a partitioned
disk in partition order, or the whole disk when it holds one filesystem and no partition table.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from workbench.errors import VmError

SECTOR = 512
SIGNATURE = b"EFI PART"
HEADER = struct.Struct("<8sIIIIQQQQ16sQIII")
ENTRY = struct.Struct("<16s16sQQQ72s")
EXT_SUPERBLOCK = 1024  # bytes from the start of the filesystem
EXT_MAGIC = 0xEF53
MAX_ENTRIES_BYTES = 1 << 20  # a GPT claiming more entries than this is refused


@dataclass(frozen=True)
class GptHeader:
    """What a GPT header says about its partition entries."""

    entries_lba: int
    count: int
    entry_size: int
    entries_crc: int


@dataclass(frozen=True)
class Partition:
    """One used GPT entry: its number (1-based), type, byte range and name."""

    number: int
    type_guid: str
    first_lba: int
    last_lba: int
    name: str

    @property
    def offset(self) -> int:
        return self.first_lba * SECTOR


@dataclass(frozen=True)
class Filesystem:
    """An ext filesystem found on a disk: where it starts, its label, its partition (if any)."""

    offset: int
    label: str
    partition: int | None


def parse_header(sector: bytes) -> GptHeader | None:
    """The GPT header in ``sector`` (LBA 1), None when there is no GPT; VmError when corrupt."""
    if len(sector) < HEADER.size or not sector.startswith(SIGNATURE):
        return None
    fields = HEADER.unpack_from(sector)
    header_size, header_crc = fields[2], fields[3]
    if not HEADER.size <= header_size <= len(sector):
        raise VmError(f"corrupt GPT: header size {header_size}", hint="the disk image is damaged")
    zeroed = sector[:16] + b"\0\0\0\0" + sector[20:header_size]
    if zlib.crc32(zeroed) != header_crc:
        raise VmError("corrupt GPT: header checksum mismatch", hint="the disk image is damaged")
    entries_lba, count, entry_size, entries_crc = fields[10:14]
    if entry_size < ENTRY.size or count * entry_size > MAX_ENTRIES_BYTES:
        raise VmError(
            f"corrupt GPT: {count} entries of {entry_size} bytes", hint="the disk image is damaged"
        )
    return GptHeader(entries_lba, count, entry_size, entries_crc)


def parse_entries(header: GptHeader, data: bytes) -> list[Partition]:
    """The used partitions in the entry array ``data`` that ``header`` describes."""
    size = header.count * header.entry_size
    if len(data) < size or zlib.crc32(data[:size]) != header.entries_crc:
        raise VmError("corrupt GPT: partition entries checksum mismatch", hint="damaged disk")
    partitions = []
    for index in range(header.count):
        raw = data[index * header.entry_size : index * header.entry_size + ENTRY.size]
        type_guid, _unique, first, last, _attributes, name = ENTRY.unpack(raw)
        if type_guid == bytes(16):
            continue
        partitions.append(
            Partition(
                number=index + 1,
                type_guid=str(uuid.UUID(bytes_le=type_guid)),
                first_lba=first,
                last_lba=last,
                name=name.decode("utf-16-le", errors="replace").rstrip("\0"),
            )
        )
    return partitions


def ext_label(superblock: bytes) -> str | None:
    """The volume label of the ext superblock ``superblock`` (None: not an ext filesystem)."""
    if len(superblock) < 136 or struct.unpack_from("<H", superblock, 56)[0] != EXT_MAGIC:
        return None
    return superblock[120:136].split(b"\0", 1)[0].decode("utf-8", errors="replace")


def _read(disk: BinaryIO, offset: int, size: int) -> bytes:
    disk.seek(offset)
    return disk.read(size)


def filesystems(path: Path) -> list[Filesystem]:
    """The ext filesystems of the raw disk image ``path``: its GPT partitions' in partition
    order, else the whole disk's."""
    with path.open("rb") as disk:
        header = parse_header(_read(disk, SECTOR, SECTOR))
        if header is None:
            label = ext_label(_read(disk, EXT_SUPERBLOCK, SECTOR))
            return [] if label is None else [Filesystem(0, label, None)]
        data = _read(disk, header.entries_lba * SECTOR, header.count * header.entry_size)
        found = []
        for part in parse_entries(header, data):
            label = ext_label(_read(disk, part.offset + EXT_SUPERBLOCK, SECTOR))
            if label is not None:
                found.append(Filesystem(part.offset, label, part.number))
        return found
