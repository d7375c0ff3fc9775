"""Image index, cache, downloads (against a local HTTP server) and the builders.

Fast tests use a real HTTP server on 127.0.0.1 (Range, cut connections, wrong bytes) and the pure
parts of the builders. Slow tests build the tiny image from scratch into a temporary cache and
boot it with a plain qemu command line, and build debian-12 into the real cache (shared with the
runtime's debian boot test) and wait for cloud-init.
"""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest
import yaml
from http_fixtures import Served, sha
from qemu.qmp.legacy import QEMUMonitorProtocol

from workbench import dirs
from workbench.errors import SourceError, UsageError, VmError
from workbench.progress import Progress
from workbench.vm import image_index, images, keys, seed
from workbench.vm.arch import guest_arch
from workbench.vm.builders import apt, debian, elf, initramfs, tiny, tiny_arm64, tree
from workbench.vm.builders.recipe import Recipe, sha256_file
from workbench.vm.builders.session import BuildSession
from workbench.vm.download import RemoteFile, download

PAYLOAD = os.urandom(3 * (1 << 20) + 12345)

# -- downloads -----------------------------------------------------------------------------------


def test_download_streams_with_progress_and_verifies(
    server: tuple[str, Served], tmp_path: Path
) -> None:
    url, served = server
    served.files["/disk"] = PAYLOAD
    events: list[Progress] = []
    dest = tmp_path / "disk.qcow2"
    download(RemoteFile(f"{url}/disk", sha(PAYLOAD)), dest, listener=events.append, task="dl")
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "disk.qcow2.part").exists()
    assert [e.done for e in events] == sorted(e.done for e in events)
    assert len(events) > 3
    assert events[-1].finished
    assert events[-1].done == events[-1].total == len(PAYLOAD)
    assert all(e.unit == "B" and e.task == "dl" for e in events)


def test_download_resumes_with_a_range_request(server: tuple[str, Served], tmp_path: Path) -> None:
    url, served = server
    served.files["/disk"] = PAYLOAD
    dest = tmp_path / "disk.qcow2"
    (tmp_path / "disk.qcow2.part").write_bytes(PAYLOAD[:1_000_000])
    download(RemoteFile(f"{url}/disk", sha(PAYLOAD)), dest)
    assert dest.read_bytes() == PAYLOAD
    assert served.requests == [("/disk", "bytes=1000000-")]


def test_interrupted_download_says_so_and_the_next_run_resumes(
    server: tuple[str, Served], tmp_path: Path
) -> None:
    url, served = server
    served.files["/disk"] = PAYLOAD
    served.cut_after = 2_000_000
    dest = tmp_path / "disk.qcow2"
    with pytest.raises(VmError, match="stopped after 2000000 bytes") as err:
        download(RemoteFile(f"{url}/disk", sha(PAYLOAD)), dest)
    assert err.value.hint is not None
    assert "resumes" in err.value.hint
    assert (tmp_path / "disk.qcow2.part").stat().st_size == 2_000_000
    download(RemoteFile(f"{url}/disk", sha(PAYLOAD), len(PAYLOAD)), dest)
    assert dest.read_bytes() == PAYLOAD
    assert served.requests[-1] == ("/disk", "bytes=2000000-")


def test_server_without_range_support_restarts_cleanly(
    server: tuple[str, Served], tmp_path: Path
) -> None:
    url, served = server
    served.files["/disk"] = PAYLOAD
    served.honour_range = False
    (tmp_path / "disk.qcow2.part").write_bytes(b"x" * 500)
    download(RemoteFile(f"{url}/disk", sha(PAYLOAD)), tmp_path / "disk.qcow2")
    assert (tmp_path / "disk.qcow2").read_bytes() == PAYLOAD


def test_sha256_mismatch_deletes_the_file_and_says_so(
    server: tuple[str, Served], tmp_path: Path
) -> None:
    url, served = server
    served.files["/disk"] = PAYLOAD
    dest = tmp_path / "disk.qcow2"
    with pytest.raises(VmError, match=r"sha256 mismatch.*deleted"):
        download(RemoteFile(f"{url}/disk", sha(b"something else")), dest)
    assert list(tmp_path.iterdir()) == []


def test_http_error_is_a_vm_error(server: tuple[str, Served], tmp_path: Path) -> None:
    url, _ = server
    with pytest.raises(VmError, match="HTTP 404"):
        download(RemoteFile(f"{url}/nope", sha(b"")), tmp_path / "x")


# -- the index -----------------------------------------------------------------------------------


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache and config directory."""
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBENCH_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


def test_packaged_index_names_tiny_and_debian(cache: Path) -> None:
    entries = image_index.catalog()
    assert entries["tiny"].builder == "tiny"
    assert entries["tiny"].ready_command == ("test", "-e", "/run/workbench/seeded")
    assert entries["debian-12"].ready_command == ("cloud-init", "status", "--wait")
    for item in (entries["tiny"], entries["debian-12"]):
        assert "root=/dev/vda" in item.append
        assert "console=ttyS0" in item.append
        assert item.arch == "amd64"
    listed = {info.name: info for info in images.list_images()}
    assert listed["tiny"].source == "builder:tiny"
    assert not listed["tiny"].cached
    assert listed["tiny"].path is None


REMOTE = {"disk": PAYLOAD, "kernel": b"kernel bytes", "initrd": b"initrd bytes"}


def write_user_index(cache: Path, url: str, files: dict[str, bytes], **extra: object) -> Path:
    entry = {
        "arch": "amd64",
        "source": {
            role: {"url": f"{url}/{role}", "sha256": sha(data), "size": len(data)}
            for role, data in files.items()
        },
        "append": "root=/dev/vda rw console=ttyS0",
        "user": "workbench",
        "ready_command": ["true"],
        **extra,
    }
    path = cache / "config" / "images.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": {"remote": entry}}, indent=2))
    return path


def test_user_index_adds_a_download_that_is_cached_and_verified(
    cache: Path, server: tuple[str, Served]
) -> None:
    url, served = server
    files = REMOTE
    served.files.update({f"/{role}": data for role, data in files.items()})
    write_user_index(cache, url, files)
    info = {i.name: i for i in images.list_images()}["remote"]
    assert info.source == f"{url}/disk"
    assert info.size == sum(map(len, files.values()))
    assert not info.cached

    image = images.ensure_image("remote")
    assert image.disk.read_bytes() == PAYLOAD
    assert image.sha256 == image_index.identity({r: sha(d) for r, d in files.items()})
    assert image.disk.parent.parent == dirs.images_dir() / "remote"
    images.verify(image)
    requests = len(served.requests)
    assert images.ensure_image("remote") == image
    assert len(served.requests) == requests
    info = {i.name: i for i in images.list_images()}["remote"]
    assert info.cached
    assert info.sha256 == image.sha256

    image.kernel.chmod(0o644)
    image.kernel.write_bytes(b"kernel bytez")
    with pytest.raises(VmError, match="image remote is corrupt"):
        images.verify(image)
    image.initrd.unlink()
    with pytest.raises(VmError, match=r"initrd\.img is missing"):
        images.verify(image)
    assert images.ensure_image("remote").initrd.read_bytes() == b"initrd bytes"


def test_mismatching_download_in_the_index_leaves_nothing_behind(
    cache: Path, server: tuple[str, Served]
) -> None:
    url, served = server
    files = REMOTE
    write_user_index(cache, url, files)
    served.files.update({f"/{role}": data for role, data in files.items()})
    served.files["/kernel"] = b"kernel bytez"  # the right size, the wrong bytes
    with pytest.raises(VmError, match=f"sha256 mismatch for {url}/kernel"):
        images.ensure_image("remote")
    leftovers = [p.name for p in (dirs.images_dir() / "remote").rglob("*") if p.is_file()]
    assert "vmlinuz" not in leftovers
    assert "vmlinuz.part" not in leftovers
    assert not {i.name: i for i in images.list_images()}["remote"].cached


def test_user_index_error_points_at_file_line_and_column(cache: Path) -> None:
    path = write_user_index(cache, "http://127.0.0.1:9", REMOTE)
    text = path.read_text()
    bad = text.replace(f'"sha256": "{sha(b"kernel bytes")}"', '"sha256": "abc"')
    path.write_text(bad)
    with pytest.raises(SourceError) as err:
        images.list_images()
    loc = err.value.location
    assert loc is not None
    assert loc.file == str(path)
    line = next(n for n, s in enumerate(bad.splitlines(), 1) if '"abc"' in s)
    assert loc.line == line
    assert "sha256 must be 64 hex digits" in str(err.value)
    assert str(err.value).startswith(f"{path}:{line}:")


def test_user_index_unknown_key_and_unknown_builder(cache: Path) -> None:
    path = write_user_index(cache, "http://127.0.0.1:9", REMOTE, colour="red")
    with pytest.raises(SourceError, match="unknown key 'colour'"):
        image_index.catalog()
    data = json.loads(path.read_text())
    del data["images"]["remote"]["colour"]
    data["images"]["remote"]["source"] = {"builder": "gentoo"}
    path.write_text(json.dumps(data))
    with pytest.raises(SourceError, match="unknown builder 'gentoo'"):
        image_index.catalog()


def test_user_index_overrides_a_packaged_entry(cache: Path) -> None:
    path = cache / "config" / "images.json"
    path.parent.mkdir(parents=True)
    packaged = json.loads(image_index.PACKAGED_INDEX.read_text())["images"]["tiny"]
    path.write_text(json.dumps({"images": {"tiny": {**packaged, "user": "alice"}}}))
    assert image_index.catalog()["tiny"].user == "alice"
    assert image_index.catalog()["debian-12"].user == "workbench"


def test_unknown_image_is_a_usage_error(cache: Path) -> None:
    with pytest.raises(UsageError, match="unknown image 'nope'") as err:
        images.ensure_image("nope")
    assert err.value.hint is not None
    assert "tiny" in err.value.hint


# -- builders: the pure parts --------------------------------------------------------------------


def test_load_order_puts_dependencies_first() -> None:
    modules = initramfs.parse_modules_dep(
        "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko "
        "kernel/fs/netfs/netfs.ko\n"
        "kernel/net/9p/9pnet.ko:\n"
        "kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko\n"
        "kernel/fs/netfs/netfs.ko:\n"
        "kernel/arch/x86/crypto/crc32c-intel.ko:\n"
    )
    assert modules["crc32c_intel"].path == "kernel/arch/x86/crypto/crc32c-intel.ko"
    order = initramfs.load_order(("9p", "crc32c_intel"), modules)
    assert order.index("netfs") < order.index("fscache") < order.index("9p")
    assert order.index("9pnet") < order.index("9p")
    assert sorted(order) == sorted(modules)
    with pytest.raises(VmError, match="kernel module virtio_gpu not found"):
        initramfs.load_order(("virtio_gpu",), modules)


def test_elf_closure_finds_the_loader_and_libraries_of_a_host_program() -> None:
    found = dict(elf.closure(["/bin/ls"], Path("/"), guest_arch("amd64")))
    assert "/lib64/ld-linux-x86-64.so.2" in found
    assert any(path.endswith("/libc.so.6") for path in found)
    assert all(source.is_file() for source in found.values())
    with pytest.raises(VmError, match="not arm64's"):
        elf.read(Path("/"), "/bin/ls", guest_arch("arm64"))


def test_elf_locate_follows_links_inside_the_tree(tmp_path: Path) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/real.so").write_bytes(b"x")
    (tmp_path / "lib").symlink_to("usr/lib")
    (tmp_path / "usr/lib/alias.so").symlink_to("/lib/real.so")
    assert elf.locate(tmp_path, "/lib/alias.so") == tmp_path / "usr/lib/real.so"
    assert elf.locate(tmp_path, "/lib/missing.so") is None


def test_cpio_is_deterministic_and_readable_by_cpio(tmp_path: Path) -> None:
    entries = [
        tree.text_file("/etc/hello", "hi\n"),
        tree.symlink("/bin/sh", "/bin/busybox"),
        tree.Node("/dev/console", "chardev", 0o600, major=5, minor=1),
    ]
    archive = tree.cpio_newc(entries)
    assert archive == tree.cpio_newc(entries)
    assert len(archive) % 512 == 0
    listing = subprocess.run(
        ["cpio", "-itv", "--quiet"], input=archive, capture_output=True, check=True
    ).stdout.decode()
    names = [
        line.split()[-1] if "->" not in line else line.split()[-3] for line in listing.splitlines()
    ]
    assert names == ["etc", "etc/hello", "bin", "bin/sh", "dev", "dev/console"]
    assert "5,   1" in listing or "5, 1" in listing


def test_write_tree_modes_links_and_fixed_times(tmp_path: Path) -> None:
    tree.write_tree(
        [
            tree.directory("/root", 0o700),
            tree.text_file("/etc/shadow", "root:*:1::::::\n", 0o600),
            tree.symlink("/bin/sh", "/bin/busybox"),
        ],
        tmp_path / "t",
    )
    root = tmp_path / "t"
    assert stat.S_IMODE((root / "root").stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "etc/shadow").stat().st_mode) == 0o600
    assert os.readlink(root / "bin/sh") == "/bin/busybox"
    assert {p.lstat().st_mtime for p in root.rglob("*")} == {tree.EPOCH}


def test_failed_build_command_raises_with_the_log_tail(tmp_path: Path) -> None:
    log_path = tmp_path / "build.log"
    with log_path.open("w") as log:
        session = BuildSession("demo", ["one"], log, log_path, lambda _e: None)
        with pytest.raises(
            VmError, match="building image demo failed: sh exited with status 3"
        ) as err:
            session.run(["sh", "-c", "echo boom; exit 3"])
        assert err.value.hint == f"see {log_path}"
        assert "boom" in (err.value.details or "")
        with pytest.raises(VmError, match="no-such-tool is not installed"):
            session.run(["no-such-tool"])


def test_recipe_digest_follows_its_inputs() -> None:
    a = Recipe("tiny", {"kernel": "1"})
    assert a.digest == Recipe("tiny", {"kernel": "1"}).digest
    assert a.digest != Recipe("tiny", {"kernel": "2"}).digest
    assert a.digest != Recipe("debian-12", {"kernel": "1"}).digest


def test_mmdebstrap_command_line() -> None:
    argv = debian.mmdebstrap_argv(Path("/x/rootfs"), Path("/x/files.tar"), root=True)
    assert argv[:4] == ["mmdebstrap", "--mode=root", "--variant=apt", "--format=directory"]
    assert argv[-3:] == ["bookworm", "/x/rootfs", "http://deb.debian.org/debian"]
    include = next(a for a in argv if a.startswith("--include=")).split("=", 1)[1].split(",")
    for package in ("cloud-init", "e2fsprogs", "locales", "build-essential", "sudo", "python3-apt"):
        assert package in include
    assert "busybox-static" in include  # the initramfs's shell
    assert any("ssh_host_" in a and "rm -f" in a for a in argv)
    assert "--customize-hook=tar-in /x/files.tar /" in argv
    assert "--mode=unshare" in debian.mmdebstrap_argv(Path("/x"), Path("/f"), root=False)
    assert "--architectures=arm64" not in argv


def test_the_arm64_image_is_made_of_arm64_packages_with_its_kernel() -> None:
    argv = debian.mmdebstrap_argv(Path("/x/rootfs"), Path("/x/files.tar"), root=True, arch="arm64")
    assert "--architectures=arm64" in argv
    include = next(a for a in argv if a.startswith("--include=")).split("=", 1)[1].split(",")
    assert include[-1] == "linux-image-arm64"  # the generic kernel: the cloud one lacks 9p
    assert "linux-image-amd64" not in include
    assert any(a.startswith("--essential-hook=") and "update-initramfs" in a for a in argv)


def test_debian_guest_files_tar_is_owned_by_root() -> None:
    with tarfile.open(fileobj=io.BytesIO(debian.guest_files_tar())) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert all(m.uid == 0 and m.gid == 0 for m in members.values())
        cfg = tar.extractfile(members["etc/cloud/cloud.cfg.d/90-workbench.cfg"])
        assert cfg is not None
        assert yaml.safe_load(cfg.read())["datasource_list"] == ["NoCloud", "None"]
    masked = members["etc/systemd/system/cloud-init-local.service"]
    assert (masked.issym(), masked.linkname) == (True, "/dev/null")
    assert debian.guest_files_tar() == debian.guest_files_tar()  # reproducible


SEED_KEY_MODULES = {
    "users": "users-groups",
    "disable_root": "ssh",
    "ssh_authorized_keys": "ssh",
    "ssh_pwauth": "set-passwords",
    "ssh_deletekeys": "ssh",
    "ssh_genkeytypes": "ssh",
    "ssh_keys": "ssh",
    "locale": "locale",
    "manage_etc_hosts": "update_etc_hosts",
    "ca_certs": "ca-certs",
}
"""Which cloud-init module reads each user-data key the seed writes (cloud-init 22.4 docs)."""


def test_debian_cloud_init_runs_every_module_the_seed_needs() -> None:
    cfg = seed.SeedConfig(
        instance_id="i-1",
        hostname="h",
        user="workbench",
        authorized_key="ssh-ed25519 AAAA user",
        host_private_key="-----BEGIN OPENSSH PRIVATE KEY-----\nx\n",
        host_public_key="ssh-ed25519 AAAA host",
        ca_bundle="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    cloud = yaml.safe_load(debian.CLOUD_CFG)
    modules = cloud["cloud_init_modules"]
    assert set(seed.user_data_dict(cfg)) <= set(SEED_KEY_MODULES)
    assert {SEED_KEY_MODULES[key] for key in seed.user_data_dict(cfg)} <= set(modules)
    assert {"set_hostname", "update_hostname", "resizefs"} <= set(modules)  # meta-data, disk
    # the init stage runs them all, before sshd: no config stage (masked), nothing after
    assert cloud["cloud_config_modules"] == []
    assert "cloud-config.service" in debian.MASKED


# -- tiny-arm64: Debian's arm64 packages through the host's apt ---------------------------------

APT_SHOW = """\
Package: linux-image-arm64
Source: linux-signed-arm64 (6.1.192+3)
Version: 6.1.192-3
Architecture: arm64
Provides: linux-image-generic, linux-latest-modules-6.1.0-57-arm64
Depends: linux-image-6.1.0-57-arm64 (= 6.1.192-3)
Description: Linux for 64-bit ARMv8 machines (meta-package)

Package: busybox-static
Version: 1:1.35.0-4+deb12u1+b1
Architecture: arm64
Tag: admin::recovery, interface::shell, role::program, scope::utility,
 use::login, works-with::file
Description: Standalone rescue shell with tons of builtin utilities

Package: openssh-sftp-server
Version: 1:9.2p1-2+deb12u10
Architecture: arm64
Depends: openssh-client (= 1:9.2p1-2+deb12u10), libc6 (>= 2.34)
Description: secure shell (SSH) sftp server module, for SFTP access from remote machines
"""
"""``apt-cache show --no-all-versions`` of three arm64 packages (bookworm, trimmed)."""


def test_apt_pins_each_package_and_the_kernel_a_metapackage_names() -> None:
    shown = apt.parse_show(APT_SHOW)
    assert sorted(shown) == ["busybox-static", "linux-image-arm64", "openssh-sftp-server"]
    fields = sorted(shown["busybox-static"])  # a continuation line is no field of its own
    assert fields == ["Architecture", "Description", "Package", "Tag", "Version"]
    wanted = ["linux-image-arm64", "busybox-static", "openssh-sftp-server"]
    pinned = apt.resolve(wanted, shown)
    assert pinned == {
        "linux-image-6.1.0-57-arm64": "6.1.192-3",  # the metapackage's exact dependency
        "busybox-static": "1:1.35.0-4+deb12u1+b1",
        "openssh-sftp-server": "1:9.2p1-2+deb12u10",  # an exact Depends of no kernel: kept
    }
    assert tiny_arm64.kernel_release(pinned) == "6.1.0-57-arm64"
    with pytest.raises(VmError, match="apt knows no package dropbear-bin"):
        apt.resolve([*wanted, "dropbear-bin"], shown)
    assert apt.parse_show("") == {}


def test_tiny_arm64_index_entry_boots_on_the_arm_console(cache: Path) -> None:
    item = image_index.catalog()["tiny-arm64"]
    assert (item.arch, item.builder) == ("arm64", "tiny-arm64")
    assert f"console={guest_arch('arm64').console}" in item.append.split()


def test_tiny_arm64_without_qemu_user_names_qemu_user_static(tmp_path: Path) -> None:
    """The builder lists the applets of an arm64 busybox through qemu-user: a host whose PATH
    lacks qemu-aarch64-static gets a one-line error naming the package to install."""
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"\x7fELF")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(tmp_path))
        with pytest.raises(VmError) as err:
            tiny.applets(busybox, guest_arch("arm64"))
    assert err.value.brief.startswith(f"cannot list the applets of {busybox}: ")
    assert "qemu-aarch64-static" in err.value.brief
    assert err.value.hint == "install qemu-user-static (./dev does)"
    assert "\n" not in str(err.value)  # the one line the CLI prints


# -- slow: real builds and boots -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Guest:
    """A guest booted with a plain qemu command line (TCG) and its pinned SSH credentials."""

    argv: list[str]
    work: Path
    port: int
    host_key: paramiko.Ed25519Key
    client_key: paramiko.Ed25519Key
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0

    def launch(self) -> None:
        self.started = time.monotonic()
        with (self.work / "qemu.log").open("a") as log:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )

    def alive(self) -> bool:
        assert self.process is not None
        return self.process.poll() is None

    def serial_tail(self) -> str:
        logs = [self.work / "qemu.log", self.work / "serial.log"]
        return "".join(p.read_text(errors="replace")[-3000:] for p in logs if p.exists())

    def qmp(self, command: str, **args: object) -> object:
        monitor = QEMUMonitorProtocol(str(self.work / "qmp.sock"))
        monitor.connect()
        try:
            return monitor.cmd(command, **args)
        finally:
            monitor.close()

    def hmp(self, command_line: str) -> str:
        return str(self.qmp("human-monitor-command", **{"command-line": command_line}))

    def connect(self, user: str, *, host_key: paramiko.PKey | None = None) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        key = host_key or self.host_key
        client.get_host_keys().add(f"[127.0.0.1]:{self.port}", key.get_name(), key)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            "127.0.0.1",
            port=self.port,
            username=user,
            pkey=self.client_key,
            timeout=5,
            banner_timeout=5,
            auth_timeout=5,
            allow_agent=False,
            look_for_keys=False,
        )
        return client

    def wait_ssh(self, user: str, deadline: float) -> paramiko.SSHClient:
        """Poll for the SSH banner (1 s per try), then log in."""
        end = time.monotonic() + deadline
        while True:
            assert self.alive(), self.serial_tail()
            assert time.monotonic() < end, self.serial_tail()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    if probe.recv(4) == b"SSH-":
                        return self.connect(user)
            except OSError:
                pass
            time.sleep(0.2)


def run(client: paramiko.SSHClient, command: str, timeout: float = 300) -> tuple[int, str]:
    _, stdout, _ = client.exec_command(command, timeout=timeout)
    status = stdout.channel.recv_exit_status()
    return status, stdout.read().decode()


Boot = Callable[..., Guest]


@pytest.fixture
def boot(tmp_path: Path) -> Iterator[Boot]:
    guests: list[Guest] = []

    def start(image: images.BootImage, *, memory: str, share: Path) -> Guest:
        work = tmp_path / f"guest{len(guests)}"
        client = keys.generate_ed25519(work / "ssh_key", "test")
        host = keys.generate_ed25519(work / "host_key", "guest")
        cfg = seed.SeedConfig(
            "test-1", "wbtest", image.user, client, (work / "host_key").read_text(), host
        )
        seed.write_seed_iso(cfg, work / "seed.iso")
        overlay = work / "overlay.qcow2"
        backing = ["-F", "qcow2", "-b", str(image.disk)]
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", *backing, str(overlay)], check=True
        )
        port = free_port()
        argv = [
            "qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", memory,
            "-display", "none", "-monitor", "none", "-no-reboot",
            "-kernel", str(image.kernel), "-initrd", str(image.initrd), "-append", image.append,
            "-drive", f"file={overlay},if=virtio,format=qcow2",
            "-drive", f"file={work / 'seed.iso'},if=virtio,format=raw,readonly=on,media=cdrom",
            "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:22",
            "-device", "virtio-net-pci,netdev=n0",
            "-virtfs", f"local,path={share},mount_tag=project,security_model=none,id=fs0",
            "-serial", f"file:{work / 'serial.log'}",
            "-qmp", f"unix:{work / 'qmp.sock'},server=on,wait=off",
        ]  # fmt: skip
        guest = Guest(
            argv,
            work,
            port,
            paramiko.Ed25519Key.from_private_key_file(str(work / "host_key")),
            paramiko.Ed25519Key.from_private_key_file(str(work / "ssh_key")),
        )
        guest.launch()
        guests.append(guest)
        return guest

    yield start
    for guest in guests:
        if guest.process is not None:
            guest.process.kill()
            guest.process.wait()


@pytest.mark.slow
def test_tiny_builds_once_and_rebuilds_only_when_the_recipe_changes(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[Progress] = []
    image = images.ensure_image("tiny", listener=events.append)
    assert [e.message for e in events if e.finished] == ["disk image"]
    assert {e.message for e in events} == set(tiny.STEPS)
    images.verify(image)
    record = json.loads((dirs.images_dir() / "index.json").read_text())["images"]["tiny"]
    assert record["sha256"] == image.sha256
    assert record["files"]["disk"]["sha256"] == sha256_file(image.disk)
    assert record["recipe"] == tiny.recipe().digest
    assert stat.S_IMODE(image.disk.stat().st_mode) == 0o444
    log = dirs.images_dir() / "tiny" / "build.log"
    assert "mkfs.ext4" in log.read_text()
    built = log.stat().st_mtime_ns

    assert images.ensure_image("tiny") == image
    assert log.stat().st_mtime_ns == built

    monkeypatch.setattr(tiny, "DISK_MIB", tiny.DISK_MIB + 64)
    bigger = images.ensure_image("tiny")
    assert bigger.disk.parent != image.disk.parent
    assert not image.disk.parent.exists()
    assert log.stat().st_mtime_ns != built
    images.verify(bigger)


@pytest.mark.slow
def test_tiny_boots_to_pinned_ssh_with_the_seed(cache: Path, boot: Boot, tmp_path: Path) -> None:
    image = images.ensure_image("tiny")
    share = tmp_path / "share"
    share.mkdir()
    (share / "from-host.txt").write_text("hello guest\n")
    guest = boot(image, memory="256M", share=share)
    root = guest.wait_ssh("root", deadline=90)
    to_ssh = time.monotonic() - guest.started
    assert run(root, " ".join(image.ready_command)) == (0, "")
    assert run(root, "id -un; exit 3") == (3, "root\n")
    assert run(root, "ls /etc/dropbear") == (0, "dropbear_ed25519_host_key\n")

    user = guest.connect(image.user)
    assert run(user, "id -un; echo $HOME") == (0, f"{image.user}\n/home/{image.user}\n")
    sftp = user.open_sftp()
    sftp.putfo(io.BytesIO(b"over sftp\n"), "pushed.txt")
    assert sftp.open("pushed.txt").read() == b"over sftp\n"
    sftp.close()

    mount = "mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 project /project"
    status, out = run(root, f"{mount} && cat /project/from-host.txt && echo back > /project/g.txt")
    assert (status, out) == (0, "hello guest\n")
    assert (share / "g.txt").read_text() == "back\n"
    assert "Migration is disabled" in guest.hmp("savevm mounted")
    assert run(root, "umount /project && sync && hwclock --hctosys")[0] == 0
    assert guest.hmp("savevm unmounted") == ""
    assert " unmounted " in guest.hmp("info snapshots")

    keys.generate_ed25519(tmp_path / "impostor", "impostor")
    impostor = paramiko.Ed25519Key.from_private_key_file(str(tmp_path / "impostor"))
    with pytest.raises(paramiko.BadHostKeyException, match="does not match"):
        guest.connect("root", host_key=impostor)

    root.close()
    user.close()

    guest.qmp("system_powerdown")
    assert guest.process is not None
    assert guest.process.wait(timeout=30) == 0
    guest.launch()
    again = guest.wait_ssh(image.user, deadline=90)
    assert run(again, "test -e /run/workbench/seeded && cat pushed.txt") == (0, "over sftp\n")
    again.close()
    print(f"tiny: SSH as root {to_ssh:.1f}s after qemu started (TCG, 256 MiB)")


@pytest.mark.slow
def test_debian_12_builds_and_cloud_init_finishes(boot: Boot, tmp_path: Path) -> None:
    """Real cache on purpose: the runtime's debian boot test reuses this build."""
    started = time.monotonic()
    image = images.ensure_image("debian-12")
    built = time.monotonic() - started
    images.verify(image)
    share = tmp_path / "share"
    share.mkdir()
    guest = boot(image, memory="2G", share=share)
    root = guest.wait_ssh("root", deadline=300)
    to_ssh = time.monotonic() - guest.started
    status, out = run(root, " ".join(image.ready_command))
    assert status == 0
    assert out.splitlines()[-1] == "status: done"  # after a line of progress dots
    to_ready = time.monotonic() - guest.started
    assert run(root, "ls /etc/ssh/ | grep '^ssh_host_'") == (
        0,
        "ssh_host_ed25519_key\nssh_host_ed25519_key.pub\n",
    )
    user = guest.connect(image.user)
    assert run(user, "sudo -n id -un") == (0, "root\n")
    assert run(user, "command -v mksquashfs gcc python3")[0] == 0
    mount = "mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 project /project"
    assert run(root, f"mkdir -p /project && {mount} && touch /project/x && umount /project")[0] == 0
    assert (share / "x").exists()
    print(
        f"debian-12: ensure {built:.0f}s, SSH {to_ssh:.0f}s, cloud-init done {to_ready:.0f}s "
        f"after qemu started (TCG, 2 GiB)"
    )
    root.close()
    user.close()


def test_verify_hashes_again_only_when_a_file_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {role: tmp_path / images.FILE_NAMES[role] for role in image_index.ROLES}
    for role, path in files.items():
        path.write_bytes(role.encode() * 100)
        os.utime(path, (time.time() - 60, time.time() - 60))
    digest = image_index.identity({role: sha(path.read_bytes()) for role, path in files.items()})
    image = images.BootImage("t", "amd64", *files.values(), "", "u", [], digest)
    hashed: list[Path] = []
    real = images.sha256_file

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(images, "sha256_file", counting)
    images.verify(image)
    assert len(hashed) == 3
    assert (tmp_path / images.VERIFIED_FILE).is_file()
    images.verify(image)
    assert len(hashed) == 3  # unchanged stats: no hashing
    files["kernel"].write_bytes(b"KERNEL" * 100)  # same size, new content and mtime
    with pytest.raises(VmError, match="image t is corrupt"):
        images.verify(image)
    assert len(hashed) == 6
