"""The SSH host provider: ``--host`` parsing, host key pinning, and a real build over a real sshd.

The slow test boots a debian-12 guest with the qemu provider and then uses its forwarded SSH
port as a plain SSH host (``workbench@127.0.0.1:PORT``, the instance's key as ``--identity``):
an unconfirmed first contact is refused and pins nothing, the right fingerprint pins it, the
c-make example builds there through the CLI and its .snap arrives with the binary, a snapshot
is refused in one line, and a changed host key is refused.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko
import pytest

from workbench.errors import UsageError, VmError
from workbench.vm import pins
from workbench.vm.config import Timeouts
from workbench.vm.executor import Command
from workbench.vm.hostkeys import HostKeyUnknown, fingerprint, refusing
from workbench.vm.images import ensure_image
from workbench.vm.pins import HostTarget, ensure_pinned, pin, pinned_fingerprints
from workbench.vm.provider import Layout

if TYPE_CHECKING:
    from vm_fixtures import VmEnv

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "build" / "c-make"


# -- fast: parsing, pins, layout ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alice@board", ("alice", "board", 22)),
        ("root@10.0.0.7:2222", ("root", "10.0.0.7", 2222)),
        ("bob@[fe80::1]:22", ("bob", "fe80::1", 22)),
        ("b.o-b_1@host.example", ("b.o-b_1", "host.example", 22)),
    ],
)
def test_host_targets_parse(text: str, expected: tuple[str, str, int]) -> None:
    target = HostTarget.parse(text)
    assert (target.user, target.host, target.port) == expected
    assert HostTarget.parse(str(target)) == target


@pytest.mark.parametrize(
    "text", ["board", "@board", "alice@", "alice@board:0", "alice@board:70000", "a@b:c", "a b@c"]
)
def test_bad_host_targets_are_user_errors(text: str) -> None:
    with pytest.raises(UsageError, match="invalid --host"):
        HostTarget.parse(text)


def test_known_hosts_names_follow_openssh() -> None:
    assert HostTarget.parse("a@host").known_hosts_name == "host"
    assert HostTarget.parse("a@127.0.0.1:2222").known_hosts_name == "[127.0.0.1]:2222"


def test_the_identity_defaults_to_the_users_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(UsageError, match="no SSH key"):
        HostTarget.parse("a@h").key_file()
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_rsa").write_text("x")
    assert HostTarget.parse("a@h").key_file() == tmp_path / ".ssh" / "id_rsa"
    (tmp_path / ".ssh" / "id_ed25519").write_text("x")
    assert HostTarget.parse("a@h").key_file() == tmp_path / ".ssh" / "id_ed25519"
    chosen = HostTarget.parse("a@h", identity=Path("/k"))
    assert chosen.key_file() == Path("/k")


@pytest.fixture
def offered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[paramiko.PKey], HostTarget]:
    """A private pins file, and a host that offers the key a test says (no network)."""
    monkeypatch.setenv("WORKBENCH_CONFIG_DIR", str(tmp_path / "config"))
    target = HostTarget.parse("alice@203.0.113.9:2200")

    def offer(key: paramiko.PKey) -> HostTarget:
        monkeypatch.setattr(pins, "fetch_host_key", lambda _target: key)
        return target

    return offer


def test_an_unknown_key_is_never_pinned_without_a_yes(
    offered: Callable[[paramiko.PKey], HostTarget],
) -> None:
    key = paramiko.ECDSAKey.generate()
    target = offered(key)
    asked: list[str] = []
    for confirm in (None, lambda fp: asked.append(fp) is not None):  # nobody, then a "no"
        with pytest.raises(UsageError, match="not pinned") as caught:
            ensure_pinned(target, confirm=confirm)
        assert fingerprint(key) in str(caught.value)
        assert not pins.pins_file().exists()
    assert asked == [fingerprint(key)]
    wrong = "SHA256:" + "A" * 43
    with pytest.raises(UsageError, match=r"not the .* accepted"):
        ensure_pinned(target, accept=wrong)
    with pytest.raises(UsageError, match="invalid --accept-host-key"):
        ensure_pinned(target, accept="yes")
    assert not pins.pins_file().exists()
    ensure_pinned(target, accept=fingerprint(key))
    assert pinned_fingerprints(target, pins.pins_file()) == {fingerprint(key)}
    assert stat.S_IMODE(pins.pins_file().stat().st_mode) == 0o600


def test_a_yes_pins_and_a_changed_key_is_refused_even_when_accepted(
    offered: Callable[[paramiko.PKey], HostTarget],
) -> None:
    first, second = paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
    target = offered(first)
    ensure_pinned(target, confirm=lambda fp: fp == fingerprint(first))
    ensure_pinned(target)  # pinned and equal: no question asked
    before = pins.pins_file().read_text()
    offered(second)
    for accept in (None, fingerprint(second)):
        with pytest.raises(UsageError, match="changed") as caught:
            ensure_pinned(target, accept=accept, confirm=lambda _fp: True)
        assert caught.value.exit_code == 2
    assert pins.pins_file().read_text() == before


def test_pins_keep_other_hosts(tmp_path: Path) -> None:
    file = tmp_path / "known_hosts"
    one, two = HostTarget.parse("a@one"), HostTarget.parse("a@two:2222")
    pin(one, paramiko.ECDSAKey.generate(), file)
    pin(two, paramiko.ECDSAKey.generate(), file)
    assert [line.split()[0] for line in file.read_text().splitlines()] == ["one", "[two]:2222"]


def test_the_missing_host_key_policy_refuses() -> None:
    key = paramiko.ECDSAKey.generate()
    with pytest.raises(HostKeyUnknown) as caught:
        refusing("a@h:22").missing_host_key(paramiko.SSHClient(), "h", key)
    assert caught.value.fingerprint == fingerprint(key)


def test_the_layout_runs_root_steps_through_sudo_unless_root() -> None:
    command = Command(["python", "-m", "x"], env={"A": "1"}, cwd="/w", stdin=b"{}")
    assert Layout().as_root(command) == command
    user = Layout(login_user="alice", build_user="alice")
    assert user.as_root(command) == Command(
        ["sudo", "-n", "env", "A=1", "python", "-m", "x"], cwd="/w", stdin=b"{}"
    )
    assert user.as_build_user(["make"]) == ["make"]
    assert Layout().as_build_user(["make"]) == ["runuser", "-u", "workbench", "--", "make"]


# -- slow: a real sshd (a debian-12 guest used as a plain SSH host) -------------------------------


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "WORKBENCH_CONFIG_DIR": str(config)},
        timeout=3600,
        check=False,
    )


@pytest.mark.slow
def test_build_on_an_ssh_host(vm_env: VmEnv, tmp_path: Path) -> None:
    image = ensure_image("debian-12")
    guest = vm_env.instance(
        vm_env.project("ssh-host"),
        image,
        memory="2G",
        cpus=2,
        timeouts=Timeouts(banner=1200, ready=1800),  # a loaded 2-core host under TCG
    )
    try:
        guest.up()
        port = guest.status().port
        key = guest.dir.ssh_key
        expected = fingerprint(paramiko.PKey.from_path(guest.dir.host_key))
        project = tmp_path / "c-make"
        shutil.copytree(EXAMPLE, project)
        config = tmp_path / "config"
        host = ["--host", f"{image.user}@127.0.0.1:{port}", "--identity", str(key)]

        refused = _cli(config, "build", str(project), *host)
        assert refused.returncode == 2, refused.stderr
        assert "not pinned" in refused.stderr
        assert expected in refused.stderr
        assert not (config / "known_hosts").exists()

        built = _cli(config, "build", str(project), *host, "--accept-host-key", expected)
        assert built.returncode == 0, built.stderr
        assert stat.S_IMODE((config / "known_hosts").stat().st_mode) == 0o600
        snap = project / "hello-make_1.0_amd64.snap"
        assert snap.is_file()
        listing = subprocess.run(
            ["unsquashfs", "-l", str(snap)], capture_output=True, text=True, check=True
        ).stdout
        assert "squashfs-root/usr/bin/hello" in listing

        ran = _cli(config, "vm", *host, "exec", "--", "id", "-un")
        assert (ran.returncode, ran.stdout) == (0, f"{image.user}\n"), ran.stderr
        snapshot = _cli(config, "vm", *host, "snapshot", "save")
        assert snapshot.returncode == 2
        assert len(snapshot.stderr.strip().splitlines()) == 1
        assert "no snapshots" in snapshot.stderr

        other = paramiko.ECDSAKey.generate()
        (config / "known_hosts").write_text(
            f"[127.0.0.1]:{port} {other.get_name()} {other.get_base64()}\n"
        )
        changed = _cli(config, "vm", *host, "exec", "--", "true")
        assert changed.returncode == 2
        assert "changed" in changed.stderr
        assert expected in changed.stderr
    finally:
        guest.clean()


def test_a_login_to_an_unpinned_host_is_refused_before_authenticating(tmp_path: Path) -> None:
    """No sshd needed: a closed port is a VmError, never a prompt or a pin."""
    target = HostTarget.parse("a@127.0.0.1:1")
    with pytest.raises(VmError, match="cannot reach"):
        pins.fetch_host_key(target, timeout=2)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["build", str(EXAMPLE), "--host", "nohost"], "invalid --host 'nohost'"),
        (["vm", "--host", "a@127.0.0.1:1", "snapshot", "save"], "has no snapshots"),
        (["vm", "--host", "a@127.0.0.1:1", "up"], "is for qemu VMs, not an SSH host"),
        (
            ["build", str(EXAMPLE), "--host", "a@h", "--accept-host-key", "yes", "--identity", "k"],
            "invalid --accept-host-key",
        ),
    ],
)
def test_host_user_errors_are_one_line_exit_2(tmp_path: Path, args: list[str], said: str) -> None:
    done = _cli(tmp_path / "config", *args)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert said in done.stderr
    assert not (tmp_path / "config").exists()  # nothing pinned, nothing written
