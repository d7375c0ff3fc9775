"""State on the host survives interruptions and concurrency (issue 13, items 5 and 6): atomic
writes with explicit modes, a locked and atomic copy of the base instance, the build spec on
standard input, the console log bounded."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from workbench.errors import VmError
from workbench.files import PRIVATE, write_atomic
from workbench.lifecycle import base_instance
from workbench.lifecycle.base_instance import seed_instance
from workbench.lifecycle.guest import GuestSpec
from workbench.lifecycle.wheelhouse import Wheelhouse
from workbench.vm import keys, watchdog
from workbench.vm.images import BootImage
from workbench.vm.local import Instance
from workbench.vm.state import InstanceDir, InstanceState


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_and_state_get_their_modes_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        keys.generate_ed25519(tmp_path / "keys" / "ssh_key", "test")
        d = InstanceDir(tmp_path / "inst")
        d.create()
        d.save_state(InstanceState("/p", "tiny", "0" * 64, 1, 1))
        write_atomic(tmp_path / "secret", "s", mode=PRIVATE)
    finally:
        os.umask(old)
    assert mode(tmp_path / "keys") == 0o700
    assert mode(tmp_path / "keys" / "ssh_key") == 0o600
    assert mode(tmp_path / "keys" / "ssh_key.pub") == 0o644
    assert mode(d.state_file) == 0o644
    assert mode(tmp_path / "secret") == 0o600
    os.umask(0o077)
    try:
        write_atomic(tmp_path / "public", "p")
    finally:
        os.umask(old)
    assert mode(tmp_path / "public") == 0o644


def _write_many(path: str, tag: str) -> None:
    for n in range(200):
        write_atomic(Path(path), json.dumps({"writer": tag, "n": n}) * 50)


def test_concurrent_writers_never_leave_a_torn_or_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_write_many, args=(str(target), t)) for t in "abc"]
    for proc in writers:
        proc.start()
    seen = 0
    while any(proc.is_alive() for proc in writers):
        if target.exists():
            text = target.read_text()
            assert text.count("{") == 50  # whole: one writer's 50 copies, never a mix
            seen += 1
    for proc in writers:
        proc.join()
        assert proc.exitcode == 0
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    assert seen > 0


def saved_base(root: Path) -> InstanceDir:
    """A base instance directory as ``ensure_base`` leaves it (small stand-in files)."""
    base = InstanceDir(root / "base")
    base.create()
    for path in (base.overlay, base.seed_iso, base.known_hosts, base.injected_marker):
        path.write_bytes(os.urandom(1 << 16))
    keys.generate_ed25519(base.ssh_key, "base")
    keys.generate_ed25519(base.host_key, "host")
    base.save_state(InstanceState("/base", "tiny", "0" * 64, 1, 1, state="saved"))
    return base


def _seed(base: str, target: str, project: str) -> None:
    seed_instance(InstanceDir(Path(base)), InstanceDir(Path(target)), Path(project))


def test_copying_the_base_is_locked_atomic_and_marks_a_rekey(tmp_path: Path) -> None:
    base = saved_base(tmp_path)
    target = InstanceDir(tmp_path / "instances" / "proj")
    ctx = multiprocessing.get_context("fork")
    copies = [
        ctx.Process(target=_seed, args=(str(base.root), str(target.root), "/proj"))
        for _ in range(4)
    ]
    for proc in copies:
        proc.start()
    for proc in copies:
        proc.join()
        assert proc.exitcode == 0
    state = target.load_state()
    assert state is not None
    assert state.project == "/proj"
    assert state.state == "saved"
    assert target.overlay.read_bytes() == base.overlay.read_bytes()
    assert target.rekey_marker.exists()
    assert mode(target.ssh_key) == 0o600
    assert not list(target.root.glob(".seed.new*"))


def test_an_interrupted_copy_leaves_no_instance_and_the_next_copy_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = saved_base(tmp_path)
    target = InstanceDir(tmp_path / "instances" / "proj")
    real_copy = shutil.copy2
    calls = []

    def copy_then_interrupt(src: object, dst: object) -> object:
        calls.append(src)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_copy(src, dst)

    monkeypatch.setattr("workbench.lifecycle.base_instance.shutil.copy2", copy_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        seed_instance(base, target, Path("/proj"))
    assert target.load_state() is None  # no instance: status absent, the next build copies
    assert not target.overlay.exists()
    monkeypatch.undo()
    seed_instance(base, target, Path("/proj"))
    assert target.load_state() is not None
    assert target.overlay.read_bytes() == base.overlay.read_bytes()


def test_the_guest_runner_reads_a_spec_larger_than_one_argument_from_stdin(tmp_path: Path) -> None:
    """A 300 KiB spec: as one argv word it would pass the kernel's 128 KiB limit (E2BIG)."""
    prime = tmp_path / "work" / "prime"
    (prime / "bin").mkdir(parents=True)
    (prime / "bin" / "hello").write_text("#!/bin/sh\n")
    (prime / "bin" / "hello").chmod(0o755)
    apps = {f"app{n}": {"command": "bin/hello", "description": "x" * 3000} for n in range(100)}
    spec = GuestSpec(
        name="big",
        parts={},
        work_dir=str(tmp_path / "work"),
        cache_dir=str(tmp_path / "cache"),
        snap_yaml="name: big\nversion: '1'\n",
        apps=apps,
        snap_file="big_1_amd64.snap",
    ).to_json()
    assert len(spec) > 300_000
    runner = [sys.executable, "-m", "workbench.lifecycle.guest", "pack"]
    with pytest.raises(OSError, match="Argument list too long"):
        subprocess.run([*runner, spec], capture_output=True, check=False)
    done = subprocess.run(
        [*runner, "-"], input=spec, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "work" / "snap" / "big_1_amd64.snap").stat().st_size > 0


def test_the_console_log_is_cut_in_place_keeping_its_tail(tmp_path: Path) -> None:
    log = tmp_path / "serial.log"
    with log.open("ab") as appender:  # as qemu holds it: open for appending all along
        appender.write(b"boot line\n" * 5000)
        appender.flush()
        assert not watchdog.cap_log(log, cap=100_000, keep=1000)
        appender.write(b"more\n" * 20_000)
        appender.flush()
        assert watchdog.cap_log(log, cap=100_000, keep=1000)
        appender.write(b"after the cut\n")
        appender.flush()
    text = log.read_text()
    assert text.startswith("[workbench: ")
    assert "bytes of earlier console output dropped]" in text.splitlines()[0]
    assert text.endswith("more\nafter the cut\n")
    assert log.stat().st_size < 2000


def test_a_base_that_failed_to_boot_keeps_its_logs_until_it_is_made_again(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_wheelhouse: Wheelhouse,
    request: pytest.FixtureRequest,
) -> None:
    cache = Path(tempfile.mkdtemp(prefix="wb-", dir="/tmp"))  # a unix socket path fits
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(cache))
    request.addfinalizer(lambda: shutil.rmtree(cache, ignore_errors=True))
    image = BootImage(
        "tiny", "amd64", tmp_path / "d", tmp_path / "k", tmp_path / "i", "", "u", [], "ab"
    )
    monkeypatch.setattr(base_instance, "ensure_image", lambda name: image)
    boots: list[tuple[str, bool]] = []

    def up(self: Instance, **_: object) -> None:
        boots.append((str(self.dir.root), self.dir.serial_log.exists()))
        self.dir.create()
        self.dir.serial_log.write_text("login:\n")
        self.dir.save_state(InstanceState("/base", "tiny", "ab", 1, 1, state="stopped"))
        raise VmError("the guest's SSH server never answered")

    monkeypatch.setattr(Instance, "up", up)
    said: list[str] = []

    def make() -> None:
        with pytest.raises(VmError, match="never answered"):
            base_instance.ensure_base(
                "tiny", memory_mib=1, cpus=1, house=fake_wheelhouse, notify=said.append
            )

    make()
    first = InstanceDir(Path(boots[0][0]))
    assert first.serial_log.read_text() == "login:\n"  # still there to be read
    make()
    assert any("left half-made" in line for line in said)
    assert boots[1] == (boots[0][0], False)  # the next attempt started afresh
