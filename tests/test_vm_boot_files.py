"""Kernel and initrd out of a disk image: the partition table and ext labels (pure), debugfs's
answers and link targets (pure), then the extraction for real (``mkfs.ext4 -d``, a GPT written
here and checked with ``partx``, ``qemu-img``, ``debugfs``), as a disk-only index entry is
downloaded from a local HTTP server (a URL that is gone, then its mirror) and cached.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import uuid
import zlib
from pathlib import Path

import pytest
from http_fixtures import Served, sha

from workbench import dirs
from workbench.errors import VmError
from workbench.progress import Progress
from workbench.vm import boot_files, gpt, image_index, images

LINUX_FS = uuid.UUID("0fc63daf-8483-4772-8e79-3d69d8477de4")
EFI_SYSTEM = uuid.UUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
KERNEL = b"\x7fkernel 5.15.0-1-generic" * 1000
INITRD = b"initrd 5.15.0-1-generic" * 3000
LONG = "initrd.img-6.8.0-58-generic-" + "x" * 60  # a link target too long for the inode: a
# "slow" symbolic link, which debugfs reads with `cat`

Tree = dict[str, bytes | str]
"""Files of a filesystem: bytes are a file's contents, a str a symbolic link's target."""


def system_tool(name: str) -> str:
    found = shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin")
    assert found is not None, f"{name} is needed (e2fsprogs, util-linux)"
    return found


def ext4(tmp_path: Path, label: str, tree: Tree) -> bytes:
    """An 8 MiB ext4 filesystem labelled ``label`` holding ``tree`` (mkfs.ext4 -d, no root)."""
    root = tmp_path / f"tree-{label}"
    root.mkdir()
    for name, content in tree.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.symlink_to(content)
        else:
            path.write_bytes(content)
    image = tmp_path / f"{label}.ext4"
    mkfs = [system_tool("mkfs.ext4"), "-q", "-F", "-L", label, "-d", str(root), str(image), "8M"]
    subprocess.run(mkfs, check=True)
    return image.read_bytes()


def gpt_disk(path: Path, parts: dict[int, tuple[uuid.UUID, bytes]]) -> dict[int, int]:
    """A raw GPT disk (protective MBR, header, 128 entries) holding ``parts`` by partition
    number; the first sector of each partition."""
    entries = bytearray(128 * 128)
    lba, starts = 2048, {}
    for number, (type_guid, data) in sorted(parts.items()):
        count = -(-len(data) // 512)
        name = f"part{number}".encode("utf-16-le")
        unique = uuid.uuid4().bytes_le
        record = (type_guid.bytes_le, unique, lba, lba + count - 1, 0, name)
        struct.pack_into("<16s16sQQQ72s", entries, (number - 1) * 128, *record)
        starts[number], lba = lba, lba + count
    total = lba + 34
    header = bytearray(
        struct.pack(
            "<8sIIIIQQQQ16sQIII",
            *(b"EFI PART", 0x10000, 92, 0, 0, 1, total - 1, 34, lba - 1),
            *(uuid.uuid4().bytes_le, 2, 128, 128, zlib.crc32(entries)),
        )
    )
    struct.pack_into("<I", header, 16, zlib.crc32(header))
    mbr = bytearray(512)
    struct.pack_into("<B3sB3sII", mbr, 446, 0, b"\0\2\0", 0xEE, b"\xff\xff\xff", 1, total - 1)
    mbr[510:] = b"\x55\xaa"
    with path.open("wb") as out:
        out.truncate(total * 512)
        for offset, data in [(0, mbr), (512, header), (1024, entries)] + [
            (starts[n] * 512, parts[n][1]) for n in parts
        ]:
            out.seek(offset)
            out.write(data)
    return starts


def qcow2(raw: Path) -> Path:
    disk = raw.with_suffix(".qcow2")
    convert = [system_tool("qemu-img"), "convert", "-q", "-f", "raw", "-O", "qcow2"]
    subprocess.run([*convert, str(raw), str(disk)], check=True)
    return disk


UBUNTU_22_04_ROOT: Tree = {
    "/etc/hostname": b"ubuntu\n",
    "/boot/vmlinuz-5.15.0-1-generic": KERNEL,
    "/boot/initrd.img-5.15.0-1-generic": INITRD,
    "/boot/vmlinuz": "vmlinuz-5.15.0-1-generic",
    "/boot/initrd.img": "initrd.img-5.15.0-1-generic",
}


def ubuntu_22_04_disk(tmp_path: Path) -> Path:
    """Ubuntu 22.04's layout: the root filesystem (partition 1) holds /boot; 15 is the ESP."""
    root = ext4(tmp_path, "cloudimg-rootfs", UBUNTU_22_04_ROOT)
    raw = tmp_path / "jammy.raw"
    gpt_disk(raw, {1: (LINUX_FS, root), 15: (EFI_SYSTEM, bytes(1 << 20))})
    return qcow2(raw)


# -- the partition table, labels, debugfs's answers: pure ----------------------------------------


def test_the_partition_table_reads_as_partx_reads_it(tmp_path: Path) -> None:
    root = ext4(tmp_path, "cloudimg-rootfs", {"/etc/hostname": b"x\n"})
    boot = ext4(tmp_path, "BOOT", {"/vmlinuz": b"k"})
    raw = tmp_path / "disk.raw"
    parts = {1: (LINUX_FS, root), 15: (EFI_SYSTEM, bytes(1 << 20)), 16: (LINUX_FS, boot)}
    starts = gpt_disk(raw, parts)
    listing = subprocess.run(
        [system_tool("partx"), "--raw", "--noheadings", "--output", "NR,START,TYPE", str(raw)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert listing == [
        str(field) for n in (1, 15, 16) for field in (n, starts[n], str(parts[n][0]))
    ]
    with raw.open("rb") as disk:
        disk.seek(512)
        header = gpt.parse_header(disk.read(512))
        assert header is not None
        disk.seek(header.entries_lba * 512)
        found = gpt.parse_entries(header, disk.read(header.count * header.entry_size))
    assert [(p.number, p.first_lba, p.type_guid, p.name) for p in found] == [
        (n, starts[n], str(parts[n][0]), f"part{n}") for n in (1, 15, 16)
    ]
    assert gpt.filesystems(raw) == [
        gpt.Filesystem(starts[1] * 512, "cloudimg-rootfs", 1),
        gpt.Filesystem(starts[16] * 512, "BOOT", 16),
    ]


def test_a_damaged_table_is_refused_and_a_bare_filesystem_is_the_whole_disk(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "disk.raw"
    gpt_disk(raw, {1: (LINUX_FS, ext4(tmp_path, "rootfs", {}))})
    data = bytearray(raw.read_bytes())
    header = bytes(data[512:1024])
    with pytest.raises(VmError, match="header checksum mismatch"):
        gpt.parse_header(header[:24] + b"\xff" + header[25:])
    parsed = gpt.parse_header(header)
    assert parsed is not None
    entries = bytes(data[1024 : 1024 + 128 * 128])
    with pytest.raises(VmError, match="entries checksum mismatch"):
        gpt.parse_entries(parsed, b"\1" + entries[1:])
    assert gpt.parse_header(bytes(512)) is None

    bare = tmp_path / "bare.ext4"
    bare.write_bytes(ext4(tmp_path, "plain", {}))
    assert gpt.filesystems(bare) == [gpt.Filesystem(0, "plain", None)]
    zeros = tmp_path / "zeros.raw"
    zeros.write_bytes(bytes(1 << 16))
    assert gpt.filesystems(zeros) == []
    superblock = bytearray(1024)
    struct.pack_into("<H", superblock, 56, 0xEF53)
    superblock[120:136] = b"cloudimg-rootfs\0"
    assert gpt.ext_label(bytes(superblock)) == "cloudimg-rootfs"
    assert gpt.ext_label(bytes(1024)) is None


def test_debugfs_stat_output_and_link_targets() -> None:
    link = 'Inode: 15   Type: symlink    Mode:  0777\nUser:     0   Group:     0   Project:     0   Size: 23\nFragment:  Address: 0    Number: 0    Size: 0\nFast link dest: "vmlinuz-6.8.0-1-generic"\n'  # noqa: E501
    assert boot_files.parse_stat(link) == boot_files.Inode("symlink", 23, "vmlinuz-6.8.0-1-generic")
    regular = "Inode: 13   Type: regular    Mode:  0644\nUser:     0   Group:     0   Size: 24000\n"
    assert boot_files.parse_stat(regular) == boot_files.Inode("regular", 24000)
    assert boot_files.parse_stat("") == boot_files.Inode(None, 0)

    assert boot_files.follow("/boot/vmlinuz", "vmlinuz-5.15") == "/boot/vmlinuz-5.15"
    assert boot_files.follow("/vmlinuz", "boot/vmlinuz-5.15") == "/boot/vmlinuz-5.15"
    assert boot_files.follow("/boot/vmlinuz", "/boot/../vmlinuz-x") == "/vmlinuz-x"
    assert boot_files.follow("/boot/vmlinuz", "../../../vmlinuz-x") == "/vmlinuz-x"
    for hostile in ("vmlinuz x", 'a"; dump /etc/shadow x', "a\nb", "vmlinuz$(id)"):
        with pytest.raises(VmError, match="unexpected link target"):
            boot_files.follow("/boot/vmlinuz", hostile)


# -- extraction for real -------------------------------------------------------------------------


def test_a_separate_boot_filesystem_and_a_slow_link(tmp_path: Path) -> None:
    """Ubuntu 24.04's layout: the root's /boot is empty (its /vmlinuz link leads nowhere there),
    the kernel and initrd are on the filesystem labelled BOOT (partition 16)."""
    root = ext4(tmp_path, "cloudimg-rootfs", {"/boot/.keep": b"", "/vmlinuz": "boot/vmlinuz-6.8"})
    boot = ext4(
        tmp_path,
        "BOOT",
        {
            "/vmlinuz-6.8": KERNEL,
            f"/{LONG}": INITRD,
            "/vmlinuz": "vmlinuz-6.8",
            "/initrd.img": LONG,
        },
    )
    raw = tmp_path / "noble.raw"
    gpt_disk(raw, {1: (LINUX_FS, root), 15: (EFI_SYSTEM, bytes(1 << 20)), 16: (LINUX_FS, boot)})
    disk = qcow2(raw)
    out = {"kernel": tmp_path / "vmlinuz", "initrd": tmp_path / "initrd.img"}
    found = boot_files.extract(disk, out)
    assert out["kernel"].read_bytes() == KERNEL
    assert out["initrd"].read_bytes() == INITRD
    assert found == f"/vmlinuz-6.8 and /{LONG} of the filesystem labelled 'BOOT'"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".extract")) == []


def test_a_disk_without_a_kernel_says_where_it_looked(tmp_path: Path) -> None:
    raw = tmp_path / "empty.raw"
    gpt_disk(raw, {1: (LINUX_FS, ext4(tmp_path, "cloudimg-rootfs", {"/etc/hostname": b"x"}))})
    disk = qcow2(raw)
    out = {"kernel": tmp_path / "vmlinuz", "initrd": tmp_path / "initrd.img"}
    with pytest.raises(VmError, match=r"no kernel and initrd in .*1 ext filesystem") as err:
        boot_files.extract(disk, out)
    assert err.value.hint is not None
    assert "kernel and initrd URLs" in err.value.hint
    assert not out["kernel"].exists()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBENCH_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


def test_disk_only_entry_downloads_verifies_and_extracts(
    cache: Path, server: tuple[str, Served]
) -> None:
    url, served = server
    disk = ubuntu_22_04_disk(cache)
    data = disk.read_bytes()
    served.files["/mirror/jammy.img"] = data
    entry = {
        "arch": "amd64",
        "python": "3.10",
        "source": {
            "disk": {
                "url": f"{url}/gone/jammy.img",
                "sha256": sha(data),
                "mirrors": [f"{url}/mirror/jammy.img"],
            }
        },
        "append": "root=LABEL=cloudimg-rootfs rw console=ttyS0",
        "user": "workbench",
        "ready_command": ["cloud-init", "status", "--wait"],
    }
    index = cache / "config" / "images.json"
    index.parent.mkdir(parents=True)
    index.write_text(json.dumps({"images": {"jammy": entry}}))
    listed = {info.name: info for info in images.list_images()}["jammy"]
    assert (listed.cached, listed.sha256, listed.python) == (False, None, "3.10")

    events: list[Progress] = []
    image = images.ensure_image("jammy", listener=events.append)
    assert image.kernel.read_bytes() == KERNEL
    assert image.initrd.read_bytes() == INITRD
    assert image.disk.read_bytes() == data
    assert [path for path, _ in served.requests] == ["/gone/jammy.img", "/mirror/jammy.img"]
    digests = {"disk": sha(data), "kernel": sha(KERNEL), "initrd": sha(INITRD)}
    assert image.sha256 == image_index.identity(digests)
    images.verify(image)
    extracted = [e for e in events if e.task == "extract jammy kernel and initrd"]
    assert extracted[-1].finished
    assert "/boot/vmlinuz-5.15.0-1-generic" in extracted[-1].message
    assert image.disk.parent == dirs.images_dir() / "jammy" / sha(data)[:16]
    assert sorted(p.name for p in image.disk.parent.iterdir()) == sorted(
        ["disk.qcow2", "vmlinuz", "initrd.img"]
    )
    assert {p.stat().st_mode & 0o777 for p in (image.kernel, image.initrd)} == {0o444}

    requests = len(served.requests)
    assert images.ensure_image("jammy") == image
    assert images.find_cached("jammy") == image
    assert len(served.requests) == requests
    listed = {info.name: info for info in images.list_images()}["jammy"]
    assert (listed.cached, listed.sha256) == (True, image.sha256)
