"""The image cache: base images built or downloaded once, recorded, verified and listed.

Which images exist is the index's business (:mod:`workbench.vm.image_index`). What is in the cache
is recorded in ``dirs.images_dir()/index.json``: file digests and sizes, for built images the
recipe digest, so that an image is rebuilt only when its recipe changes, and for a disk-only
download the disk's digest (its kernel and initrd are extracted from it: :mod:`~.boot_files`).
One lock
(``images/.lock``) covers every change of that record and every build or download that ends in
one; the record is replaced atomically, so reading it needs no lock. The boot files of a cached
image are read-only (0444). Layout::

    images/index.json
    images/.lock
    images/NAME/build.log                      the last build's log
    images/NAME/DIGEST16/{disk.qcow2,vmlinuz,initrd.img}
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench import dirs
from workbench.errors import VmError
from workbench.files import PUBLIC, write_atomic
from workbench.progress import Progress, ProgressListener, ignore
from workbench.vm import boot_files, builders
from workbench.vm.builders.recipe import sha256_file
from workbench.vm.builders.session import BuildSession
from workbench.vm.download import download
from workbench.vm.image_index import ROLES, IndexEntry, entry, identity, load_index

VERIFIED_FILE = "verified.json"  # file stats at the last successful sha256 check
RACY_SECONDS = 2.0
FILE_NAMES = {"disk": "disk.qcow2", "kernel": "vmlinuz", "initrd": "initrd.img"}
LOCK_FILE = ".lock"


@dataclass(frozen=True)
class BootImage:
    """A cached base image, ready to boot: kernel + initrd direct boot, root on the disk."""

    name: str
    arch: str
    disk: Path
    kernel: Path
    initrd: Path
    append: str
    user: str
    ready_command: list[str]
    sha256: str


@dataclass(frozen=True)
class ImageInfo:
    """One index entry and its cache state, as ``vm image list`` shows it."""

    name: str
    arch: str
    source: str
    size: int | None
    sha256: str | None
    cached: bool
    path: Path | None
    description: str = ""
    python: str = ""
    base: str | None = None
    stands_in_for: tuple[str, ...] = ()


# -- the local record of cached images ----------------------------------------------------------


def _records_path() -> Path:
    return dirs.images_dir() / "index.json"


def _load_records() -> dict[str, Any]:
    try:
        data = json.loads(_records_path().read_text())
    except (OSError, ValueError):
        return {}
    return data.get("images", {}) if isinstance(data, dict) else {}


def _save_record(name: str, record: dict[str, Any]) -> None:
    with _index_lock():
        records = _load_records()
        records[name] = record
        text = json.dumps({"version": 1, "images": records}, indent=2, sort_keys=True) + "\n"
        write_atomic(_records_path(), text, mode=PUBLIC)


_held = threading.local()  # .dirs: the images directories whose lock this thread holds


@contextlib.contextmanager
def _index_lock() -> Iterator[None]:
    """Hold the lock of the image cache (one for all images, across processes).

    Re-entrant within a thread, so that a build holding it can save its record.
    """
    directory = dirs.images_dir()
    held: set[Path] = _held.__dict__.setdefault("dirs", set())
    if directory in held:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        held.add(directory)
        try:
            yield
        finally:
            held.discard(directory)
    finally:
        os.close(fd)


def _cached(item: IndexEntry, record: Mapping[str, Any] | None) -> BootImage | None:
    """The recorded image if all its files are present with their recorded sizes."""
    if not record:
        return None
    home = dirs.images_dir() / str(record.get("dir", ""))
    files = record.get("files", {})
    paths = {role: home / FILE_NAMES[role] for role in ROLES}
    for role, path in paths.items():
        if not path.is_file() or path.stat().st_size != files.get(role, {}).get("size"):
            return None
    return BootImage(
        name=item.name,
        arch=item.arch,
        disk=paths["disk"],
        kernel=paths["kernel"],
        initrd=paths["initrd"],
        append=item.append,
        user=item.user,
        ready_command=list(item.ready_command),
        sha256=str(record["sha256"]),
    )


def _describe(directory: Path, roles: tuple[str, ...] = ROLES) -> dict[str, dict[str, Any]]:
    """sha256 and size of the files of ``roles`` in ``directory`` (made read-only: bases never
    change)."""
    out = {}
    for role in roles:
        path = directory / FILE_NAMES[role]
        path.chmod(0o444)
        out[role] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    return out


def _record(item: IndexEntry, home: Path, files: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "dir": str(home.relative_to(dirs.images_dir())),
        "source": item.source,
        "files": files,
        "sha256": identity({role: files[role]["sha256"] for role in ROLES}),
        "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **extra,
    }


def _prune(parent: Path, keep: Path) -> None:
    """Remove superseded builds or downloads of an image: all in ``parent`` but ``keep``."""
    for old in parent.iterdir():
        if old.is_dir() and old != keep:
            shutil.rmtree(old, ignore_errors=True)


def _wanted(item: IndexEntry) -> tuple[str, str]:
    """The record key and value that say the cached copy of ``item`` is current."""
    if item.builder is not None:
        return "recipe", builders.builder(item.builder).recipe().digest
    assert item.files is not None
    if item.boot_from_disk:
        return "from_disk", item.files["disk"].sha256
    return "sha256", identity({role: item.files[role].sha256 for role in ROLES})


def _current(item: IndexEntry) -> BootImage | None:
    """The cached image of ``item`` if its record is current and its files are all there."""
    record = _load_records().get(item.name)
    key, value = _wanted(item)
    if not record or record.get(key) != value:
        return None
    return _cached(item, record)


def _build(item: IndexEntry, listener: ProgressListener) -> BootImage:
    assert item.builder is not None
    builder = builders.builder(item.builder)
    recipe = builder.recipe()
    parent = dirs.images_dir() / item.name
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / recipe.digest[:16]
    work = parent / f".build-{recipe.digest[:16]}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    log_path = parent / "build.log"
    started = time.monotonic()
    try:
        with log_path.open("w") as log:
            session = BuildSession(item.name, builder.STEPS, log, log_path, listener)
            session.note(f"recipe {recipe.digest} {json.dumps(recipe.inputs, sort_keys=True)}")
            builder.build(session, work, recipe)
            files = _describe(work)
            session.note(f"built {json.dumps(files, sort_keys=True)}")
        shutil.rmtree(final, ignore_errors=True)
        work.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _prune(parent, final)
    seconds = round(time.monotonic() - started, 1)
    return _finish(item, _record(item, final, files, recipe=recipe.digest, seconds=seconds))


def _fetch(item: IndexEntry, listener: ProgressListener, rebuild: bool) -> BootImage:
    """Download the files of ``item``; a file already there is kept only if its sha256 matches.

    A disk-only entry's kernel and initrd are extracted from the disk once it is verified.
    """
    assert item.files is not None
    parent = dirs.images_dir() / item.name
    key, wanted = _wanted(item)
    final = parent / wanted[:16]
    files = {}
    for role, remote in item.files.items():
        dest = final / FILE_NAMES[role]
        task = f"download {item.name} {role}"
        if rebuild:
            dest.unlink(missing_ok=True)
        elif dest.is_file() and sha256_file(dest) != remote.sha256:
            listener(Progress(task, message=f"{dest} does not match its sha256: downloading again"))
            dest.unlink()
        if not dest.is_file():
            download(remote, dest, listener=listener, task=task)
        dest.chmod(0o444)
        files[role] = {"sha256": remote.sha256, "size": dest.stat().st_size}
    extra = {}
    if item.boot_from_disk:
        _extract_boot_files(item, final, listener)
        files.update(_describe(final, ("kernel", "initrd")))
        extra[key] = wanted
    _prune(parent, final)
    return _finish(item, _record(item, final, files, **extra))


def _extract_boot_files(item: IndexEntry, home: Path, listener: ProgressListener) -> None:
    """The kernel and initrd of ``item``'s disk (in ``home``), copied out of its filesystems."""
    task = f"extract {item.name} kernel and initrd"
    outputs = {role: home / FILE_NAMES[role] for role in ("kernel", "initrd")}
    for path in outputs.values():
        path.unlink(missing_ok=True)
    listener(Progress(task, 0, 1, "from the disk's root filesystem"))
    found = boot_files.extract(home / FILE_NAMES["disk"], outputs)
    listener(Progress(task, 1, 1, found, finished=True))


def _finish(item: IndexEntry, record: dict[str, Any]) -> BootImage:
    """Save ``record`` of the image just built or downloaded; the image it describes."""
    _save_record(item.name, record)
    image = _cached(item, record)
    assert image is not None
    return image


# -- public API ----------------------------------------------------------------------------------


def ensure_image(
    name: str, *, listener: ProgressListener | None = None, rebuild: bool = False
) -> BootImage:
    """The cached image ``name``, built or downloaded first if needed (or if ``rebuild``).

    Building or downloading holds the cache's lock; another process waiting for it finds the
    image it built and uses it.
    """
    item = entry(name)
    if not rebuild and (image := _current(item)) is not None:
        return image
    with _index_lock():
        if not rebuild and (image := _current(item)) is not None:
            return image
        if item.builder is not None:
            return _build(item, listener or ignore)
        return _fetch(item, listener or ignore, rebuild)


def find_cached(name: str) -> BootImage | None:
    """The cached image ``name`` if the cache holds its current build or download."""
    return _current(entry(name))


def verify(image: BootImage) -> None:
    """Raise VmError if a file of ``image`` is missing or the files no longer match its sha256.

    The hashes are computed again only when a file's size, mtime or inode changed since the last
    successful check (recorded next to the disk in ``verified.json``), so that a warm start does
    not pay for hashing a multi-GiB disk. Files changed in the last :data:`RACY_SECONDS` are not
    recorded (a change within the same clock tick would not move their mtime).
    """
    paths = {"disk": image.disk, "kernel": image.kernel, "initrd": image.initrd}
    hint = f"rebuild it: python -m workbench vm image build --rebuild {image.name}"
    for path in paths.values():
        if not path.is_file():
            raise VmError(f"image {image.name}: {path} is missing", hint=hint)
    stamps = {role: _stat_stamp(path) for role, path in paths.items()}
    record = image.disk.with_name(VERIFIED_FILE)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(record.read_text()) == {"sha256": image.sha256, "stat": stamps}:
            return
    got = identity({role: sha256_file(path) for role, path in paths.items()})
    if got != image.sha256:
        raise VmError(
            f"image {image.name} is corrupt: its files hash to {got[:16]}…, "
            f"not {image.sha256[:16]}…",
            hint=hint,
        )
    if any(stamp[1] / 1e9 > time.time() - RACY_SECONDS for stamp in stamps.values()):
        return
    with contextlib.suppress(OSError):
        write_atomic(record, json.dumps({"sha256": image.sha256, "stat": stamps}))


def _stat_stamp(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns, info.st_ino]


def list_images() -> list[ImageInfo]:
    """Every image of the index, with what the cache holds of it and the bases it serves."""
    records = _load_records()
    index = load_index()
    infos = []
    for item in index.images.values():
        record = records.get(item.name)
        image = _cached(item, record)
        size: int | None = None
        digest: str | None = None
        if image is not None and record is not None:
            size = sum(int(f["size"]) for f in record["files"].values())
            digest = image.sha256
        elif item.files is not None:
            sizes = [f.size for f in item.files.values()]
            size = sum(s for s in sizes if s is not None) if None not in sizes else None
            if not item.boot_from_disk:
                digest = identity({role: item.files[role].sha256 for role in ROLES})
        infos.append(
            ImageInfo(
                name=item.name,
                arch=item.arch,
                source=item.source,
                size=size,
                sha256=digest,
                cached=image is not None,
                path=image.disk.parent if image is not None else None,
                description=item.description,
                python=item.python,
                base=index.base_of(item.name),
                stands_in_for=tuple(index.stands_in_for(item.name)),
            )
        )
    return infos
