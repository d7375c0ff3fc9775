"""The security review's claims (docs/security.md), asserted on a real instance and on the source.

One tiny guest is booted for the module. Claims already asserted elsewhere are not repeated here:
a swapped guest host key and a foreign known_hosts entry are refused in
``test_vm_runtime.py::test_a_changed_guest_host_key_is_refused`` and
``::test_a_known_hosts_entry_for_another_key_is_refused``; guest commands are quoted word by word
in ``test_vm_units.py::test_command_line_quotes_every_word``.
"""

from __future__ import annotations

import ast
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko
import pytest

from workbench.errors import VmError
from workbench.vm.images import BootImage
from workbench.vm.keys import generate_ed25519
from workbench.vm.local import Instance
from workbench.vm.ssh import SshExecutor

if TYPE_CHECKING:
    from vm_fixtures import VmEnv


PACKAGE = Path(__file__).resolve().parents[1] / "workbench"
LOOPBACK_V4 = "0100007F"  # 127.0.0.1 as /proc/net/tcp prints it (little-endian hex)
TCP_LISTEN = "0A"
UNIX_LISTENING = "00010000"  # the __SO_ACCEPTCON flag of /proc/net/unix


@pytest.fixture(scope="module")
def running(vm_env: VmEnv, tiny_image: BootImage) -> Iterator[Instance]:
    wheels = vm_env.project("wheels", {"wheel.txt": "read only\n"})
    project = vm_env.project("secure", {"inside.txt": "in the project\n"})
    vm = vm_env.instance(project, tiny_image, shares={"wheels": wheels})
    try:
        vm.up()
        yield vm
    finally:
        vm.clean()


def qemu_pid(vm: Instance) -> int:
    state = vm.dir.load_state()
    assert state is not None
    assert state.pid is not None
    return state.pid


def socket_inodes(pid: int) -> set[str]:
    """The inodes of every socket the process ``pid`` holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with_target = os.readlink(fd)
        if with_target.startswith("socket:["):
            inodes.add(with_target[len("socket:[") : -1])
    return inodes


def tcp_listeners(inodes: set[str]) -> list[tuple[str, str, int]]:
    """(table, address hex, port) of every listening TCP socket among ``inodes``."""
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] == TCP_LISTEN and fields[9] in inodes:
                found.append((table, address, int(port, 16)))
    return found


def unix_listeners(inodes: set[str]) -> list[str]:
    """The paths of every listening unix socket among ``inodes``."""
    found = []
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == UNIX_LISTENING and fields[6] in inodes and len(fields) > 7:
            found.append(fields[7])
    return found


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.mark.slow
def test_instance_files_are_private(running: Instance) -> None:
    d = running.dir
    assert mode(d.root) == 0o700
    assert mode(d.qmp_dir) == 0o700
    assert mode(d.ssh_key) == 0o600
    assert mode(d.host_key) == 0o600
    assert stat.S_ISSOCK(d.qmp_socket.lstat().st_mode)
    assert d.qmp_socket.parent == d.qmp_dir
    for path in [d.root, *d.root.rglob("*")]:
        assert path.lstat().st_uid == os.getuid(), path
        if not path.is_symlink():
            assert mode(path) & 0o022 == 0, f"{path} is writable by others"


@pytest.mark.slow
def test_the_qemu_command_line_forwards_loopback_only_and_exports_only_the_shares(
    running: Instance,
) -> None:
    argv = Path(f"/proc/{qemu_pid(running)}/cmdline").read_bytes().decode().split("\0")[:-1]
    netdevs = [argv[i + 1] for i, word in enumerate(argv) if word == "-netdev"]
    forwards = [item for netdev in netdevs for item in netdev.split(",") if "fwd=" in item]
    assert forwards
    assert all(item.startswith("hostfwd=tcp:127.0.0.1:") for item in forwards)
    shares = [argv[i + 1] for i, word in enumerate(argv) if word == "-virtfs"]
    wheels = dict(running.config.shares)["wheels"]
    assert shares == [
        f"local,path={running.project},mount_tag=project,security_model=none,readonly=on,id=project",
        f"local,path={wheels},mount_tag=wheels,security_model=none,readonly=on,id=wheels",
    ]
    assert argv[argv.index("-monitor") + 1] == "none"
    assert f"socket,id=qmp0,path={running.dir.qmp_socket},server=on,wait=off" in argv
    assert argv[argv.index("-mon") + 1] == "chardev=qmp0,mode=control"
    assert not {"-vnc", "-spice", "-gdb", "-s"} & set(argv)


@pytest.mark.slow
def test_qemu_listens_on_127_0_0_1_only(running: Instance) -> None:
    state = running.dir.load_state()
    assert state is not None
    inodes = socket_inodes(qemu_pid(running))
    tcp = tcp_listeners(inodes)
    assert ("tcp", LOOPBACK_V4, state.port) in tcp
    assert all(table == "tcp" and address == LOOPBACK_V4 for table, address, _ in tcp), tcp
    assert unix_listeners(inodes) == [str(running.dir.qmp_socket)]


@pytest.mark.slow
def test_the_guest_sees_the_project_and_nothing_else_of_the_host(
    running: Instance, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("host secret\n")
    link = running.project / "escape"
    link.symlink_to(outside)
    try:
        mounts = running.exec(["cat", "/proc/mounts"], check=True).stdout
        assert [line.split()[1] for line in mounts.splitlines() if " 9p " in line] == ["/project"]
        assert running.exec(["cat", "/project/inside.txt"]).stdout == "in the project\n"
        escaped = running.exec(["cat", "/project/escape"])  # resolved in the guest's own tree
        assert escaped.exit_status != 0
        assert "host secret" not in escaped.stdout
        climbed = running.exec(["ls", "/project/../"]).stdout.split()
        assert "inside.txt" not in climbed
        assert "secret.txt" not in climbed
    finally:
        link.unlink()


@pytest.mark.slow
def test_a_read_only_share_cannot_be_written_by_the_guest(running: Instance) -> None:
    wheels = dict(running.config.shares)["wheels"]
    mount = "mkdir -p /wheels && mount -t 9p -o trans=virtio,version=9p2000.L wheels /wheels"
    running.exec(["sh", "-c", mount], check=True)
    try:
        assert running.exec(["cat", "/wheels/wheel.txt"]).stdout == "read only\n"
        for attempt in (["touch", "/wheels/new"], ["rm", "/wheels/wheel.txt"]):
            result = running.exec(attempt)
            assert result.exit_status != 0
            assert "Read-only" in result.stderr, result
    finally:
        running.exec(["umount", "/wheels"], check=True)  # the other tests see /project alone
    assert sorted(path.name for path in wheels.iterdir()) == ["wheel.txt"]


@pytest.mark.slow
def test_the_guest_can_reach_host_loopback_services_through_the_gateway(
    running: Instance,
) -> None:
    """A documented limit (docs/security.md), asserted so that the document stays true."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        answered = threading.Event()

        def answer() -> None:
            connection, _ = server.accept()
            with connection:
                connection.sendall(b"host loopback service\n")
            answered.set()

        threading.Thread(target=answer, daemon=True).start()
        result = running.exec(["sh", "-c", f"nc 10.0.2.2 {port} </dev/null"], timeout=60)
        assert answered.wait(30)
    assert "host loopback service" in result.stdout


DISPLAY_OPTIONS = {"-vnc", "-spice", "-sdl", "-curses", "-full-screen", "-gtk", "-cocoa"}


@pytest.mark.slow
def test_qemu_has_no_display_and_no_default_devices(running: Instance) -> None:
    argv = Path(f"/proc/{qemu_pid(running)}/cmdline").read_bytes().decode().split("\0")[:-1]
    assert argv[argv.index("-display") + 1] == "none"
    assert argv.count("-display") == 1
    assert "-nodefaults" in argv
    assert not DISPLAY_OPTIONS & set(argv)
    for i, word in enumerate(argv[:-1]):
        if word in ("-device", "-vga", "-chardev", "-spice", "-audiodev"):
            value = argv[i + 1]
            assert not any(ui in value for ui in ("vnc", "spice", "sdl", "gtk", "qxl")), value
    assert "vga" not in " ".join(argv).lower().replace("-vga none", "")


@contextmanager
def agent_socket(path: Path) -> Iterator[list[socket.socket]]:
    """A unix socket at ``path`` where an SSH agent would listen; yields the connections it got."""
    callers: list[socket.socket] = []
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()
    listener.settimeout(0.2)
    stop = threading.Event()

    def record() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            callers.append(connection)
            connection.close()

    recorder = threading.Thread(target=record, daemon=True)
    recorder.start()
    try:
        yield callers
    finally:
        stop.set()
        recorder.join()
        listener.close()


def user_keys(ssh_dir: Path) -> dict[Path, str]:
    """An ed25519 and an RSA key pair in ``ssh_dir`` (as in ``~/.ssh``): private path -> public
    line."""
    ssh_dir.mkdir(parents=True)
    ed25519 = ssh_dir / "id_ed25519"
    rsa = paramiko.RSAKey.generate(2048)
    rsa.write_private_key_file(str(ssh_dir / "id_rsa"))
    return {
        ed25519: generate_ed25519(ed25519, "user@host"),
        ssh_dir / "id_rsa": f"ssh-rsa {rsa.get_base64()} user-rsa@host",
    }


def login(key: Path, port: int, known_hosts: Path) -> None:
    """Log in as root with ``key``, plain paramiko (again while dropbear turns away a burst)."""
    end = time.monotonic() + 60
    while True:
        client = paramiko.SSHClient()
        client.get_host_keys().load(str(known_hosts))
        try:
            client.connect(
                "127.0.0.1",
                port,
                "root",
                pkey=paramiko.PKey.from_path(key),
                look_for_keys=False,
                allow_agent=False,
                timeout=20,
            )
            return
        except paramiko.SSHException as exc:
            if "protocol banner" not in str(exc) or time.monotonic() > end:
                raise
            time.sleep(0.5)
        finally:
            client.close()


@pytest.mark.slow
def test_the_ssh_client_never_uses_the_users_keys_or_agent(
    running: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys in ``~/.ssh`` that the guest accepts, and an agent, are never used: a login with the
    wrong instance key fails, and the agent never hears from the client."""
    home = tmp_path / "home"
    users = user_keys(home / ".ssh")
    generate_ed25519(tmp_path / "wrong", "not the instance key")
    state = running.dir.load_state()
    assert state is not None
    assert state.port is not None
    known = running.dir.known_hosts

    def executor(key: Path) -> SshExecutor:
        return SshExecutor(port=state.port or 0, user="root", key=key, known_hosts=known)

    keys = "/root/.ssh/authorized_keys"
    running.exec(["cp", keys, f"{keys}.orig"], check=True)
    try:
        add = f"printf '%s\\n' \"$@\" >> {keys}"
        running.exec(["sh", "-c", add, "sh", *users.values()], check=True)
        for path in users:  # the guest accepts the user's own keys...
            login(path, state.port, known)
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "agent.sock"))
        with agent_socket(tmp_path / "agent.sock") as callers:
            refused = r"SSH login as root@127\.0\.0\.1:\d+ failed: Authentication failed"
            with pytest.raises(VmError, match=refused):  # ...but it never offers them
                executor(tmp_path / "wrong").connect(timeout=20)
            right = executor(running.dir.ssh_key)
            right.connect()
            assert right.run(["true"]).exit_status == 0
            right.close()
        assert callers == []
    finally:
        running.exec(["mv", f"{keys}.orig", keys], check=True)


def calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def sources() -> Iterator[tuple[Path, str, ast.AST]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        yield path, text, ast.parse(text, str(path))


def test_no_shell_true_and_no_command_strings() -> None:
    for path, text, tree in sources():
        assert "from subprocess import" not in text, f"{path}: call subprocess.NAME, checked here"
        for call in calls(tree):
            name = ast.unparse(call.func)
            spawns = name.startswith(("subprocess.", "asyncio.create_subprocess"))
            for keyword in call.keywords:
                if keyword.arg == "shell":  # shell=True anywhere; any shell= to a spawn
                    value = ast.unparse(keyword.value)
                    assert value != "True", path
                    assert value == "False" or not spawns, path
            assert name not in ("os.system", "os.popen"), f"{path}:{call.lineno}: {name}"
            if name.startswith("subprocess.") and call.args:
                first = call.args[0]
                literal = isinstance(first, ast.Constant | ast.JoinedStr)
                assert not literal, f"{path}:{call.lineno}: a command string, not an argv list"


def test_paramiko_only_ever_rejects_unknown_host_keys() -> None:
    policies = []
    for path, text, tree in sources():
        assert "AutoAddPolicy" not in text, path
        assert "WarningPolicy" not in text, path
        for call in calls(tree):
            if ast.unparse(call.func).endswith("set_missing_host_key_policy"):
                policies.append(ast.unparse(call.args[0]))
    assert policies == ["refusing(self.address)"]  # raises HostKeyUnknown, adds nothing
