"""A rebuild with nothing changed is skipped: the fingerprint, the guest's record, the pack's."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest

from workbench.lifecycle import uptodate
from workbench.lifecycle.guest import GuestSpec
from workbench.vm.executor import Completed
from workbench.vm.provider import Machine

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "build" / "two-sources"


class LocalMachine:
    """Runs the record commands on this host, for real (what the guest's shell would do)."""

    def exec(self, argv: Sequence[str], *, check: bool = False, **_: Any) -> Completed:
        done = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=60)
        result = Completed(list(argv), done.returncode, done.stdout, done.stderr)
        return result.check() if check else result


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "two-sources"
    shutil.copytree(EXAMPLE, root)
    return root


@pytest.fixture
def spec(tmp_path: Path) -> GuestSpec:
    (tmp_path / "work").mkdir()
    return GuestSpec(
        name="two-sources", parts={"hello": {}}, work_dir=str(tmp_path / "work"), cache_dir="/cache"
    )


def test_the_fingerprint_follows_the_sources_the_options_and_the_release(
    project: Path, spec: GuestSpec
) -> None:
    first = uptodate.fingerprint(spec, "0.1.0-a", project)
    assert uptodate.fingerprint(spec, "0.1.0-a", project) == first  # stable
    source = project / "src" / "hello.c"
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # touched
    touched = uptodate.fingerprint(spec, "0.1.0-a", project)
    assert touched != first
    (project / "data" / "new.txt").write_text("x")
    assert uptodate.fingerprint(spec, "0.1.0-a", project) != touched
    assert uptodate.fingerprint(replace(spec, target="build"), "0.1.0-a", project) != touched
    assert uptodate.fingerprint(spec, "0.1.0-b", project) != uptodate.fingerprint(
        spec, "0.1.0-a", project
    )


def test_outputs_and_work_areas_at_the_top_do_not_count(project: Path, spec: GuestSpec) -> None:
    first = uptodate.fingerprint(spec, "k", project)
    (project / "two-sources_1.0_amd64.snap").write_bytes(b"snap")
    (project / "prime" / "usr").mkdir(parents=True)  # --export-prime
    (project / ".workbench-work").mkdir()
    assert uptodate.fingerprint(spec, "k", project) == first
    (project / "src" / "prime").mkdir()  # a source directory that happens to be named so
    assert uptodate.fingerprint(spec, "k", project) != first


def test_the_guest_record_is_written_read_and_forgotten(spec: GuestSpec) -> None:
    machine = cast(Machine, LocalMachine())
    assert uptodate.recorded(machine, spec) is None
    uptodate.record(machine, spec, "ab" * 32)
    assert uptodate.recorded(machine, spec) == "ab" * 32
    assert Path(uptodate.record_path(spec)).read_text() == "ab" * 32 + "\n"
    uptodate.forget(machine, spec)
    assert uptodate.recorded(machine, spec) is None
    uptodate.forget(machine, spec)  # nothing to forget is fine


def test_a_pack_is_current_only_for_its_fingerprint_and_its_unchanged_file(tmp_path: Path) -> None:
    snap = tmp_path / "p_1.0_amd64.snap"
    snap.write_bytes(b"squashfs")
    uptodate.remember_pack(tmp_path, "f1", snap)
    assert uptodate.pack_is_current(tmp_path, "f1", snap)
    assert not uptodate.pack_is_current(tmp_path, "f2", snap)  # packed from another state
    assert not uptodate.pack_is_current(tmp_path, "f1", tmp_path / "other.snap")
    snap.write_bytes(b"changed by hand")
    assert not uptodate.pack_is_current(tmp_path, "f1", snap)
    snap.unlink()
    assert not uptodate.pack_is_current(tmp_path, "f1", snap)  # gone: pack again
    (tmp_path / uptodate.PACKED_NAME).write_text("{not json")
    assert not uptodate.pack_is_current(tmp_path, "f1", snap)
