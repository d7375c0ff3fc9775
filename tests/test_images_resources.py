"""Resources at the VM boundary: the image cache's one lock, bounded and verified downloads,
atomic size-checked pulls, guest output bounded in memory, read-only base files.

The lock is tested with real processes, downloads with a real HTTP server on 127.0.0.1, pulls and
output with a real tiny guest (slow).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import multiprocessing
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from test_vm_images import REMOTE, Served, sha, write_user_index

from workbench import dirs
from workbench.errors import VmError
from workbench.progress import Progress
from workbench.vm import images, ssh
from workbench.vm.download import RemoteFile, download
from workbench.vm.executor import Sink
from workbench.vm.images import BootImage
from workbench.vm.launch import LOGIN_USER
from workbench.vm.local import Instance
from workbench.vm.ssh import SshExecutor

if TYPE_CHECKING:
    from vm_fixtures import VmEnv


WRITERS = 8
ROUNDS = 25


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache and config directory (inherited by spawned processes)."""
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBENCH_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


def modes(*paths: Path) -> set[int]:
    return {stat.S_IMODE(path.stat().st_mode) for path in paths}


# -- one lock for the whole image index ----------------------------------------------------------


def _record_repeatedly(index: int, start: threading.Barrier) -> None:
    """A process recording its own image ROUNDS times, under a restrictive umask."""
    os.umask(0o077)
    start.wait()
    for round_ in range(ROUNDS):
        images._save_record(f"img{index}", {"round": round_, "writer": index})


def _ensure(name: str, start: threading.Barrier) -> None:
    start.wait()
    images.ensure_image(name)


def _in_processes(target: Callable[..., None], args: list[tuple[object, ...]]) -> None:
    """Run ``target(*a, barrier)`` for each ``a`` in a spawned process, all released at once."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(args))
    workers = [context.Process(target=target, args=(*a, start)) for a in args]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [worker.exitcode for worker in workers] == [0] * len(workers)


def test_processes_recording_different_images_keep_every_record(cache: Path) -> None:
    _in_processes(_record_repeatedly, [(i,) for i in range(WRITERS)])
    records = images._load_records()
    assert records == {f"img{i}": {"round": ROUNDS - 1, "writer": i} for i in range(WRITERS)}
    index = dirs.images_dir() / "index.json"
    assert modes(index) == {0o644}
    assert sorted(p.name for p in dirs.images_dir().iterdir()) == [".lock", "index.json"]


def test_processes_downloading_different_images_all_end_cached(
    cache: Path, server: tuple[str, Served]
) -> None:
    url, served = server
    names = [f"remote{i}" for i in range(4)]
    entries = {}
    for i, name in enumerate(names):
        files = {role: data + f" {i}".encode() for role, data in REMOTE.items()}
        served.files.update({f"/{name}/{role}": data for role, data in files.items()})
        entry = json.loads(write_user_index(cache, f"{url}/{name}", files).read_text())
        entries[name] = entry["images"]["remote"]
    (cache / "config" / "images.json").write_text(json.dumps({"images": entries}))
    _in_processes(_ensure, [(name,) for name in names])
    listed = {info.name: info for info in images.list_images()}
    assert all(listed[name].cached for name in names)
    assert set(images._load_records()) == set(names)


# -- downloads -----------------------------------------------------------------------------------


def test_download_of_the_exact_size_is_kept(server: tuple[str, Served], tmp_path: Path) -> None:
    url, served = server
    served.files["/disk"] = REMOTE["disk"]
    dest = tmp_path / "disk.qcow2"
    download(RemoteFile(f"{url}/disk", sha(REMOTE["disk"]), len(REMOTE["disk"])), dest)
    assert dest.read_bytes() == REMOTE["disk"]
    assert [p.name for p in tmp_path.iterdir()] == ["disk.qcow2"]


def test_a_server_offering_more_than_the_size_is_refused_before_reading(
    server: tuple[str, Served], tmp_path: Path
) -> None:
    url, served = server
    served.files["/disk"] = REMOTE["disk"] + b"and more"
    with pytest.raises(VmError, match=r"offers \d+ bytes, the index says \d+") as err:
        download(RemoteFile(f"{url}/disk", sha(REMOTE["disk"]), 1000), tmp_path / "disk")
    assert "deleted" in err.value.brief
    assert list(tmp_path.iterdir()) == []


class Endless(http.server.BaseHTTPRequestHandler):
    """Sends up to 256 MiB with no Content-Length (a body delimited by closing the connection)."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        block = b"x" * (1 << 20)
        with contextlib.suppress(OSError):  # the client hung up
            for _ in range(256):
                self.wfile.write(block)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endless() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/big"
    httpd.shutdown()
    httpd.server_close()


def test_more_bytes_than_the_size_are_cut_off_at_once(endless: str, tmp_path: Path) -> None:
    dest = tmp_path / "disk"
    with pytest.raises(VmError, match="sent more than 5000 bytes: stopped"):
        download(RemoteFile(endless, sha(b""), 5000), dest)
    assert list(tmp_path.iterdir()) == []


def test_a_cached_file_with_the_wrong_digest_is_downloaded_again(
    cache: Path, server: tuple[str, Served]
) -> None:
    url, served = server
    served.files.update({f"/{role}": data for role, data in REMOTE.items()})
    write_user_index(cache, url, REMOTE)
    image = images.ensure_image("remote")
    assert modes(image.disk, image.kernel, image.initrd) == {0o444}
    image.kernel.chmod(0o644)
    image.kernel.write_bytes(b"kernel bytez")  # the same size, the wrong bytes
    (dirs.images_dir() / "index.json").unlink()  # the record is gone: the files are checked
    served.requests.clear()
    events: list[Progress] = []
    again = images.ensure_image("remote", listener=events.append)
    assert [path for path, _ in served.requests] == ["/kernel"]
    assert any("does not match its sha256: downloading again" in e.message for e in events)
    assert again.kernel.read_bytes() == REMOTE["kernel"]
    assert modes(again.disk, again.kernel, again.initrd) == {0o444}
    images.verify(again)
    rebuilt = images.ensure_image("remote", rebuild=True)  # read-only files are replaced
    assert [path for path, _ in served.requests[1:]] == ["/disk", "/kernel", "/initrd"]
    assert modes(rebuilt.disk, rebuilt.kernel, rebuilt.initrd) == {0o444}


def test_a_plain_http_url_without_sha256_is_refused_at_index_load(cache: Path) -> None:
    path = write_user_index(cache, "http://127.0.0.1:9", REMOTE)
    data = json.loads(path.read_text())
    del data["images"]["remote"]["source"]["kernel"]["sha256"]
    path.write_text(json.dumps(data, indent=2))
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "vm", "image", "list"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}:")
    assert "a plain http url needs a sha256 at images.remote.source.kernel.sha256" in lines[0]


# -- guest output bounded in memory (unit: where the cut falls) ----------------------------------


def test_tail_keeps_the_last_bytes_and_does_not_split_a_character() -> None:
    tail = ssh._Tail(8)
    for part in (b"0123456789", "é".encode() * 3, b"abc"):  # 10 + 6 + 3 bytes
        tail.add(part)
    # the last 8 bytes begin inside the first é: its second byte is dropped too
    assert tail.text() == "[workbench: 12 bytes of earlier output dropped]\nééabc"
    whole = ssh._Tail(8)
    whole.add(b"short")
    assert whole.text() == "short"


# -- on a real tiny guest ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def running(vm_env: VmEnv, tiny_image: BootImage) -> Iterator[Instance]:
    vm = vm_env.instance(vm_env.project("resources"), tiny_image)
    try:
        vm.up()
        yield vm
    finally:
        vm.clean()


@pytest.mark.slow
def test_guest_output_is_kept_bounded_and_says_what_was_dropped(
    running: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ssh, "OUTPUT_CAP", 1 << 20)
    seen = [0, 0]

    def count(stream: int) -> Sink:
        def sink(text: str) -> None:
            seen[stream] += len(text)

        return sink

    script = "yes | head -c 52428800; yes n | head -c 3000000 >&2"
    done = running.exec(["sh", "-c", script], on_stdout=count(0), on_stderr=count(1))
    assert done.exit_status == 0
    assert seen == [52428800, 3000000]
    note = f"[workbench: {52428800 - (1 << 20)} bytes of earlier output dropped]\n"
    assert done.stdout.startswith(note)
    assert done.stdout[len(note) :] == "y\n" * (1 << 19)
    note = f"[workbench: {3000000 - (1 << 20)} bytes of earlier output dropped]\n"
    assert done.stderr == note + "n\n" * (1 << 19)


@pytest.mark.slow
def test_pull_is_whole_and_size_checked(running: Instance, tmp_path: Path) -> None:
    running.exec(["sh", "-c", "head -c 300000 /dev/urandom > /tmp/data.bin"], check=True)
    want = running.exec(["sha256sum", "/tmp/data.bin"], check=True).stdout.split()[0]
    dest = tmp_path / "data.bin"
    dest.write_text("the previous contents\n")
    with pytest.raises(VmError, match="not a regular file"):
        running.pull("/dev/zero", dest)
    with pytest.raises(VmError, match="its 300000 bytes exceed the limit of 299999"):
        running.pull("/tmp/data.bin", dest, max_bytes=299999)
    with pytest.raises(VmError, match="cannot pull /tmp/absent"):
        running.pull("/tmp/absent", dest)
    assert dest.read_text() == "the previous contents\n"
    running.pull("/tmp/data.bin", dest)
    assert sha(dest.read_bytes()) == want
    assert modes(dest) == {0o644}
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


@pytest.mark.slow
def test_an_interrupted_pull_leaves_no_partial_file(running: Instance, tmp_path: Path) -> None:
    running.exec(["sh", "-c", "head -c 33554432 /dev/urandom > /tmp/big.bin"], check=True)
    state = running.dir.load_state()
    assert state is not None
    assert state.port is not None
    executor = SshExecutor(
        port=state.port,
        user=LOGIN_USER,
        key=running.dir.ssh_key,
        known_hosts=running.dir.known_hosts,
    )
    executor.connect()
    cut = threading.Event()

    def cut_when_half_there() -> None:
        while not cut.is_set():
            parts = [p for p in tmp_path.glob(".big.bin.*.tmp") if p.stat().st_size >= 1 << 20]
            if parts:
                executor.close()
                cut.set()
            cut.wait(0.01)

    watcher = threading.Thread(target=cut_when_half_there)
    watcher.start()
    try:
        with pytest.raises(VmError, match=r"cannot pull /tmp/big\.bin"):
            executor.pull("/tmp/big.bin", tmp_path / "big.bin")
    finally:
        cut.set()
        watcher.join()
        executor.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_base_files_are_read_only_and_untouched_by_a_boot(
    running: Instance, tiny_image: BootImage
) -> None:
    files = (tiny_image.disk, tiny_image.kernel, tiny_image.initrd)
    assert modes(*files) == {0o444}
    assert running.exec(["true"]).exit_status == 0  # booted from them
    images.verify(tiny_image)
    assert os.access(tiny_image.disk.parent, os.W_OK)  # a rebuild can replace them
