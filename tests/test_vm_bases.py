"""A snap base picks its image: the index's bases and stand-ins, choose_image (the override, a
cached Ubuntu image, offline, an unreachable or silent server), the reachability verdicts, and
what ``vm image list`` and ``vm status`` show of them (a stand-in always named as one).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from http_fixtures import Served, sha

from workbench.cli import main
from workbench.errors import SourceError, UsageError
from workbench.vm import bases, image_index, images, qemu, reachability
from workbench.vm.bases import choose_image
from workbench.vm.config import InstanceConfig
from workbench.vm.prepare import prepare
from workbench.vm.state import InstanceDir, InstanceState

RELEASES = {"core18": "18.04", "core20": "20.04", "core22": "22.04", "core24": "24.04"}
PYTHONS = {"core18": "3.6", "core20": "3.8", "core22": "3.10", "core24": "3.12"}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache and config directory, the network allowed."""
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBENCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv(bases.OFFLINE, raising=False)
    return tmp_path


def ubuntu_entry(url: str, arch: str = "amd64", **source: Any) -> dict[str, Any]:
    return {
        "arch": arch,
        "python": "3.12",
        "source": source or {"disk": {"url": url, "sha256": "a" * 64}},
        "append": "root=LABEL=cloudimg-rootfs rw console=ttyS0",
        "user": "workbench",
        "ready_command": ["cloud-init", "status", "--wait"],
    }


def write_user_index(cache: Path, data: dict[str, Any]) -> Path:
    path = cache / "config" / "images.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


# -- the index -----------------------------------------------------------------------------------


def test_packaged_index_maps_every_base_to_its_ubuntu_release_on_both_archs(cache: Path) -> None:
    index = image_index.load_index()
    assert index.stand_ins == {"amd64": "debian-12", "arm64": "debian-12-arm64"}
    assert sorted(index.bases) == sorted(RELEASES)
    consoles = {"amd64": "console=ttyS0", "arm64": "console=ttyAMA0"}
    for base, version in RELEASES.items():
        assert index.bases[base].release == f"Ubuntu {version}"
        for arch, name in index.bases[base].images.items():
            item = index.images[name]
            assert (item.arch, item.python, item.boot_from_disk) == (arch, PYTHONS[base], True)
            assert item.files is not None
            disk = item.files["disk"]
            path = disk.url.removeprefix("https://cloud-images.ubuntu.com/releases/")
            assert path.endswith(f"/ubuntu-{version}-server-cloudimg-{arch}.img")
            assert path.split("/")[1].startswith("release-20")  # a dated release, not "current"
            assert disk.mirrors == (f"https://cloud-images-archive.ubuntu.com/releases/{path}",)
            assert item.append.split()[0] == "root=LABEL=cloudimg-rootfs"
            assert consoles[arch] in item.append.split()
        assert sorted(index.bases[base].images) == ["amd64", "arm64"]
    digests = [item.files["disk"].sha256 for item in index.images.values() if item.files]
    assert len(set(digests)) == len(digests) == 8
    assert index.images["tiny"].python == image_index.DEFAULT_PYTHON == "3.11"
    assert index.base_of("ubuntu-22.04-arm64") == "core22"
    assert index.stands_in_for("debian-12") == list(RELEASES)
    assert index.stands_in_for("tiny") == []


def test_a_user_index_adds_and_replaces_bases_and_stand_ins(cache: Path) -> None:
    write_user_index(
        cache,
        {
            "bases": {
                "core26": {"release": "Ubuntu 26.04", "images": {"amd64": "ubuntu-26.04"}},
                "core22": {"release": "Ubuntu 22.04", "images": {"amd64": "ubuntu-26.04"}},
            },
            "stand_ins": {"amd64": "tiny"},
            "images": {"ubuntu-26.04": ubuntu_entry("https://example.org/26.04.img")},
        },
    )
    index = image_index.load_index()
    assert index.bases["core26"].images == {"amd64": "ubuntu-26.04"}
    assert index.bases["core22"].images == {"amd64": "ubuntu-26.04"}
    assert index.bases["core24"].images["arm64"] == "ubuntu-24.04-arm64"
    assert index.stand_ins == {"amd64": "tiny", "arm64": "debian-12-arm64"}


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


IMAGE = ("images", "ubuntu-26.04")
DISK = (*IMAGE, "source", "disk")
BAD = {
    "python as a number": (_set((*IMAGE, "python"), 3.10), '"python": 3.1', "python must be"),
    "empty release": (_set(("bases", "core26", "release"), ""), '"release": ""', "release must"),
    "unknown arch": (
        _set(("bases", "core26", "images"), {"riscv64": "ubuntu-26.04"}),
        '"riscv64"',
        "unknown VM architecture 'riscv64'",
    ),
    "missing image": (
        _set(("bases", "core26", "images", "amd64"), "nope"),
        '"amd64": "nope"',
        "base core26: no image 'nope'",
    ),
    "image of another arch": (
        _set(("bases", "core26", "images"), {"arm64": "ubuntu-26.04"}),
        '"arm64": "ubuntu-26.04"',
        "image ubuntu-26.04 is amd64, not arm64",
    ),
    "stand-in of another arch": (
        _set(("stand_ins",), {"arm64": "debian-12"}),
        '"arm64": "debian-12"',
        "image debian-12 is amd64, not arm64",
    ),
    "stand-in arch": (_set(("stand_ins",), {"s390x": "x"}), '"s390x"', "unknown VM architecture"),
    "unknown section": (_set(("basses",), {}), '"basses"', "unknown section 'basses'"),
    "unknown base key": (_set(("bases", "core26", "colour"), 1), '"colour"', "unknown key"),
    "mirrors not a list": (
        _set((*DISK, "mirrors"), "https://example.org/m.img"),
        '"mirrors": "https',
        "mirrors must be a list of URLs",
    ),
    "mirror not http": (
        _set((*DISK, "mirrors"), ["ftp://example.org/m.img"]),
        '"ftp://',
        "url must be an http(s) URL",
    ),
    "unknown file key": (_set((*DISK, "checksum"), "x"), '"checksum"', "unknown key 'checksum'"),
    "two files of three": (
        _set((*IMAGE, "source", "kernel"), {"url": "https://example.org/k", "sha256": "b" * 64}),
        '"source": {',
        "source must be {builder: NAME}, {disk: …} or",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_bad_field_is_one_positioned_line(cache: Path, case: str) -> None:
    change, needle, message = BAD[case]
    doc = {
        "bases": {"core26": {"release": "Ubuntu 26.04", "images": {"amd64": "ubuntu-26.04"}}},
        "stand_ins": {"amd64": "debian-12"},
        "images": {"ubuntu-26.04": ubuntu_entry("https://example.org/26.04.img")},
    }
    change(doc)
    path = write_user_index(cache, doc)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if needle in text)
    with pytest.raises(SourceError) as err:
        image_index.load_index()
    text = str(err.value)
    assert text.startswith(f"{path}:{line}:"), text
    assert message in text
    assert "\n" not in text
    assert err.value.hint


# -- reachability --------------------------------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """A server that accepts connections and never answers; the connections it accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/ubuntu.img", accepted
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def closed_port_url() -> str:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/ubuntu.img"


def test_reachability_is_checked_once_then_remembered_for_a_while(
    cache: Path, server: tuple[str, Served]
) -> None:
    url, served = server
    now = time.time()
    first = reachability.check(f"{url}/missing.img", now=now)  # a 404 still answers
    assert (first.reachable, first.why, first.host) == (True, "", url.removeprefix("http://"))
    assert served.requests == [("/missing.img", "HEAD")]
    assert reachability.check(f"{url}/other.img", now=now + 60) == first
    assert len(served.requests) == 1
    later = reachability.check(f"{url}/other.img", now=now + reachability.REMEMBER + 1)
    assert later.reachable
    assert served.requests[-1] == ("/other.img", "HEAD")
    recorded = json.loads(reachability.records_path().read_text())
    assert recorded[first.host]["at"] == later.at


def test_a_silent_server_is_given_up_on_within_the_bound(
    cache: Path,
    silent_server: tuple[str, list[socket.socket]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, accepted = silent_server
    monkeypatch.setattr(reachability, "TIMEOUT", 0.5)
    begin = time.monotonic()
    reach = reachability.check(url)
    assert time.monotonic() - begin < reachability.TIMEOUT + 2
    assert (reach.reachable, reach.why) == (False, "no answer within 0.5s")
    assert len(accepted) == 1  # it did connect: the bound, not a refusal, ended the wait


# -- choose_image --------------------------------------------------------------------------------


def test_the_override_wins(cache: Path) -> None:
    choice = choose_image("core22", "amd64", override="tiny")
    assert (choice.image, choice.stand_in_for, choice.label) == ("tiny", None, "tiny")
    assert choice.reason == "asked for (--image)"
    with pytest.raises(UsageError, match="no build VM architecture 'sparc'"):
        choose_image("core22", "sparc")


def test_a_cached_ubuntu_image_is_chosen_offline(
    cache: Path, server: tuple[str, Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, served = server
    files = {"disk": b"disk bytes", "kernel": b"kernel bytes", "initrd": b"initrd bytes"}
    served.files.update({f"/{role}": data for role, data in files.items()})
    source = {role: {"url": f"{url}/{role}", "sha256": sha(data)} for role, data in files.items()}
    write_user_index(cache, {"images": {"ubuntu-22.04": ubuntu_entry(url, **source)}})
    images.ensure_image("ubuntu-22.04")
    monkeypatch.setenv(bases.OFFLINE, "1")
    choice = choose_image("core22", "amd64")
    assert (choice.image, choice.stand_in_for, choice.label) == (
        "ubuntu-22.04",
        None,
        "ubuntu-22.04",
    )
    assert choice.reason == "Ubuntu 22.04 for core22: cached"
    assert not reachability.records_path().exists()


def test_offline_every_base_falls_back_to_its_stand_in_without_a_network_check(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(bases.OFFLINE, "1")
    for base, version in RELEASES.items():
        for arch, stand_in in (("amd64", "debian-12"), ("arm64", "debian-12-arm64")):
            choice = choose_image(base, arch)
            assert (choice.image, choice.base, choice.arch) == (stand_in, base, arch)
            assert choice.stand_in_for == f"Ubuntu {version}"
            assert choice.label == f"{stand_in} (stand-in for Ubuntu {version})"
            suffix = "" if arch == "amd64" else "-arm64"
            assert (
                choice.reason == f"WORKBENCH_OFFLINE=1 and ubuntu-{version}{suffix} is not cached"
            )
    assert not reachability.records_path().exists()
    other = choose_image("core16", "amd64")
    assert (other.image, other.stand_in_for, other.reason) == (
        "debian-12",
        None,
        "no Ubuntu image for base core16",
    )


@pytest.mark.parametrize("how", ["refused", "silent"])
def test_an_unreachable_server_gives_the_stand_in_within_the_bound(
    cache: Path,
    how: str,
    silent_server: tuple[str, list[socket.socket]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = closed_port_url() if how == "refused" else silent_server[0]
    write_user_index(cache, {"images": {"ubuntu-24.04": ubuntu_entry(url)}})
    monkeypatch.setattr(reachability, "TIMEOUT", 0.5)
    begin = time.monotonic()
    choice = choose_image("core24", "amd64")
    assert time.monotonic() - begin < reachability.TIMEOUT + 2
    host = url.split("/")[2]
    assert (choice.image, choice.stand_in_for) == ("debian-12", "Ubuntu 24.04")
    assert "stand-in" in choice.label
    assert choice.reason.startswith(f"{host} unreachable (")
    expected = "no answer within 0.5s" if how == "silent" else "refused"
    assert expected in choice.reason
    connections = len(silent_server[1])
    again = time.monotonic()
    assert choose_image("core24", "amd64") == choice  # the verdict is remembered
    assert time.monotonic() - again < reachability.TIMEOUT
    assert len(silent_server[1]) == connections


def test_a_reachable_server_gives_the_ubuntu_image_to_download(
    cache: Path, server: tuple[str, Served]
) -> None:
    url, served = server
    served.files["/noble.img"] = b"disk"
    write_user_index(cache, {"images": {"ubuntu-24.04": ubuntu_entry(f"{url}/noble.img")}})
    choice = choose_image("core24", "amd64")
    assert (choice.image, choice.stand_in_for) == ("ubuntu-24.04", None)
    assert choice.reason == f"Ubuntu 24.04 for core24: to download from {url.split('/')[2]}"
    assert served.requests == [("/noble.img", "HEAD")]


def test_an_ubuntu_image_whose_python_is_too_old_gives_the_stand_in_unasked(
    cache: Path, server: tuple[str, Served]
) -> None:
    url, served = server
    served.files["/bionic.img"] = b"disk"
    old = {**ubuntu_entry(f"{url}/bionic.img"), "python": "3.6"}
    write_user_index(cache, {"images": {"ubuntu-18.04": old}})
    choice = choose_image("core18", "amd64", min_python="3.10")
    assert (choice.image, choice.stand_in_for, choice.python) == (
        "debian-12",
        "Ubuntu 18.04",
        "3.11",
    )
    assert choice.reason == "Ubuntu 18.04's Python 3.6 cannot run the guest runner (it needs 3.10+)"
    assert served.requests == []  # not even looked for
    assert choose_image("core18", "amd64").image == "ubuntu-18.04"  # no minimum: usable


# -- what the commands show ----------------------------------------------------------------------


def test_image_list_shows_bases_stand_ins_and_python(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["vm", "image", "list"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert rows["NAME"].split()[5:8] == ["PYTHON", "FOR", "SOURCE"]
    assert rows["ubuntu-22.04"].split()[5:7] == ["3.10", "core22"]
    assert rows["ubuntu-18.04-arm64"].split()[5:7] == ["3.6", "core18"]
    assert "stand-in for core18 core20 core22 core24" in rows["debian-12"]
    assert rows["tiny"].split()[6] == "-"
    assert main(["vm", "image", "list", "--json"]) == 0
    listed = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert listed["ubuntu-24.04"]["base"] == "core24"
    assert listed["ubuntu-24.04"]["python"] == "3.12"
    assert listed["ubuntu-24.04"]["stands_in_for"] == []
    assert listed["debian-12"]["stands_in_for"] == list(RELEASES)
    assert listed["debian-12"]["base"] is None


def _status(project: Path, cache: Path, *extra: str) -> str:
    env = {**os.environ, "WORKBENCH_CACHE_DIR": str(cache / "cache")}
    cli = [sys.executable, "-m", "workbench", "vm", "--project", str(project), "status", *extra]
    proc = subprocess.run(cli, capture_output=True, text=True, env=env, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_status_names_the_stand_in_and_old_state_files_still_load(cache: Path) -> None:
    project = cache / "project"
    project.mkdir()
    d = InstanceDir.for_project(project)
    d.root.mkdir(parents=True)
    state = InstanceState(str(project), "debian-12", "0" * 64, 1024, 2, stand_in_for="Ubuntu 22.04")
    d.save_state(state)
    lines = _status(project, cache).splitlines()
    assert "image       debian-12 (stand-in for Ubuntu 22.04)" in lines
    assert not any(line.startswith("stand_in_for") for line in lines)
    shown = json.loads(_status(project, cache, "--json"))
    assert (shown["image"], shown["stand_in_for"]) == ("debian-12", "Ubuntu 22.04")

    old = json.loads(d.state_file.read_text())
    del old["stand_in_for"]
    d.state_file.write_text(json.dumps(old))
    assert "image       debian-12" in _status(project, cache).splitlines()
    assert json.loads(_status(project, cache, "--json"))["stand_in_for"] is None


def test_a_launch_records_what_the_image_stands_in_for(cache: Path) -> None:
    project = cache / "project"
    project.mkdir()
    home = cache / "image"
    home.mkdir()
    disk = home / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    image = images.BootImage(
        "debian-12", "amd64", disk, home / "k", home / "i", "", "workbench", ["true"], "1" * 64
    )
    d = InstanceDir.for_project(project)
    d.root.mkdir(parents=True)
    config = InstanceConfig(image=image, stand_in_for="Ubuntu 22.04")
    state = prepare(d, image, config, project=project, notify=print)
    assert state.stand_in_for == "Ubuntu 22.04"
    assert qemu.backing_file(d.overlay) == str(disk)
    d.save_state(state)
    again = prepare(d, image, InstanceConfig(image=image), project=project, notify=print)
    assert again.stand_in_for == "Ubuntu 22.04"
    report = d.report(project, again, alive=False)
    assert report.image_label == "debian-12 (stand-in for Ubuntu 22.04)"
