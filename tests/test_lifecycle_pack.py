"""Packing prime (real mksquashfs on the host, the same code the guest runs) and its delivery."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from workbench.errors import BuildError
from workbench.lifecycle.outputs import EXPORT_MARKER, deliver, export_prime
from workbench.lifecycle.pack import (
    PackError,
    SnapMeta,
    missing_commands,
    mksquashfs_argv,
    pack,
)


def prime_tree(root: Path) -> Path:
    prime = root / "prime"
    (prime / "bin").mkdir(parents=True)
    tool = prime / "bin" / "hello"
    tool.write_text("#!/bin/sh\necho hi\n")
    tool.chmod(0o755)
    return prime


def test_missing_commands_names_app_and_key(tmp_path: Path) -> None:
    prime = prime_tree(tmp_path)
    apps = {
        "ok": {"command": "bin/hello --flag"},
        "snapvar": {"command": "$SNAP/bin/hello"},
        "bad": {"command": "bin/nope", "command-chain": ["snap/launch"]},
    }
    assert missing_commands(apps, prime) == [
        "bad: command 'bin/nope'",
        "bad: command-chain 'snap/launch'",
    ]


def test_pack_squashes_prime_with_snap_yaml(tmp_path: Path) -> None:
    prime = prime_tree(tmp_path)
    scratch = tmp_path / "scratch" / "hello_1_amd64.snap"
    made = pack(
        prime, SnapMeta("name: hello\nversion: '1'\n", {"hello": {"command": "bin/hello"}}), scratch
    )
    assert made == scratch
    scratch.chmod(0o600)
    out = deliver(scratch, tmp_path / "project" / "hello_1_amd64.snap")
    assert out == tmp_path / "project" / "hello_1_amd64.snap"
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # readable by all, whatever umask made
    listing = subprocess.run(
        ["unsquashfs", "-lls", str(out)], capture_output=True, text=True, check=True
    ).stdout
    assert "squashfs-root/meta/snap.yaml" in listing
    assert "-rwxr-xr-x root/root" in listing  # -all-root, modes kept
    assert not (tmp_path / "project" / "hello_1_amd64.snap.part").exists()


def test_pack_refuses_a_missing_command(tmp_path: Path) -> None:
    prime = prime_tree(tmp_path)
    with pytest.raises(PackError, match="not found in prime: a: command 'bin/a'"):
        pack(prime, SnapMeta("", {"a": {"command": "bin/a"}}), tmp_path / "s.snap")
    assert not (tmp_path / "s.snap").exists()


def test_mksquashfs_argv_matches_snapd_packing() -> None:
    argv = mksquashfs_argv(Path("/p"), Path("/o.snap"))
    assert argv[:3] == ["mksquashfs", "/p", "/o.snap"]
    assert {"-noappend", "-no-fragments", "-all-root", "-no-xattrs"} <= set(argv)
    assert argv[argv.index("-comp") + 1] == "xz"


def prime_tar(root: Path, prime: Path) -> Path:
    """prime as the guest's ``export`` command tars it."""
    tar = root / "prime.tar"
    with tarfile.open(tar, "w") as archive:
        archive.add(prime, arcname=".")
    return tar


def test_export_prime_replaces_only_its_own_export(tmp_path: Path) -> None:
    tar = prime_tar(tmp_path, prime_tree(tmp_path))
    dest = tmp_path / "project" / "prime"
    dest.parent.mkdir()
    export_prime(tar, dest)
    assert (dest / EXPORT_MARKER).exists()
    assert stat.S_IMODE((dest / "bin" / "hello").stat().st_mode) == 0o755
    (dest / "stale").write_text("from the last export")
    export_prime(tar, dest)  # an earlier export is replaced whole
    assert not (dest / "stale").exists()
    assert [p.name for p in dest.parent.iterdir()] == ["prime"]  # no staging left behind
    (dest / EXPORT_MARKER).unlink()
    with pytest.raises(BuildError, match="not exported by the workbench"):
        export_prime(tar, dest)


def test_export_prime_plants_nothing_the_guest_chose(tmp_path: Path) -> None:
    """A hostile prime tar: setuid, world-writable, a device node, a FIFO, an escaping path."""
    tar = tmp_path / "hostile.tar"
    with tarfile.open(tar, "w") as archive:

        def member(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.uid, info.gid = kind, mode, 4242, 4242
            archive.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)

        member("./bin/su", mode=0o4755)
        member("./bin/sg", mode=0o2755)
        member("./open", mode=0o666)
        member("./dev/null", tarfile.CHRTYPE)
        member("./fifo", tarfile.FIFOTYPE)
    dest = tmp_path / "project" / "prime"
    dest.parent.mkdir()
    export_prime(tar, dest)
    modes = {p.name: stat.S_IMODE(p.lstat().st_mode) for p in dest.rglob("*") if p.is_file()}
    assert modes["su"] == 0o755
    assert modes["sg"] == 0o755
    assert modes["open"] == 0o644
    assert not (dest / "dev" / "null").exists()
    assert not (dest / "fifo").exists()
    assert {p.lstat().st_uid for p in dest.rglob("*")} == {os.getuid()}
    with tarfile.open(tmp_path / "escape.tar", "w") as archive:
        archive.addfile(tarfile.TarInfo("../../outside"), io.BytesIO(b""))
    with pytest.raises(BuildError, match="refused prime from the guest"):
        export_prime(tmp_path / "escape.tar", dest)
    assert not (tmp_path / "outside").exists()
    assert (dest / EXPORT_MARKER).exists()  # the earlier export is untouched
