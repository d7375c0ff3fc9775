"""The image index: which base images exist, where each comes from, and which serves each base.

The packaged ``images.json`` names each image (arch, source, kernel command line, login user,
readiness command, guest Python; a ``console=`` on the command line must name the architecture's
serial console, which ``serial.log`` records); ``dirs.config_dir()/images.json`` adds entries or
replaces them by name. A source is a local builder (:mod:`workbench.vm.builders`), three URLs with
sha256 digests (``disk``, ``kernel``, ``initrd``), or the ``disk`` alone, whose kernel and initrd
are read from its root filesystem once it is verified (:mod:`workbench.vm.boot_files`). ``bases``
maps each snap base to its Ubuntu release and that release's image per VM architecture;
``stand_ins`` names the local image that replaces them per architecture when they cannot be had.
The user's index adds or replaces bases by name and stand-ins by architecture. docs/images.md
describes the format.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from workbench import dirs, yamlpos
from workbench.errors import SourceError, UsageError
from workbench.vm import builders
from workbench.vm.arch import ARCHS
from workbench.vm.download import RemoteFile
from workbench.yamlpos import KeyPath

ROLES = ("disk", "kernel", "initrd")
PACKAGED_INDEX = Path(__file__).with_name("images.json")
SECTIONS = ("images", "bases", "stand_ins")
ENTRY_KEYS = {"description", "arch", "source", "append", "user", "ready_command", "python"}
BASE_KEYS = {"release", "images"}
REMOTE_KEYS = {"url", "sha256", "size", "mirrors"}
DEFAULT_PYTHON = "3.11"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PYTHON = re.compile(r"3\.\d{1,2}")
_SAME_ARCH = "list each image under its own architecture"


@dataclass(frozen=True)
class IndexEntry:
    """An image as the index describes it; ``builder`` or ``files`` says where it comes from."""

    name: str
    arch: str
    append: str
    user: str
    ready_command: tuple[str, ...]
    builder: str | None = None
    files: Mapping[str, RemoteFile] | None = None
    description: str = ""
    python: str = DEFAULT_PYTHON

    @property
    def source(self) -> str:
        if self.builder is not None:
            return f"builder:{self.builder}"
        assert self.files is not None
        return self.files["disk"].url

    @property
    def boot_from_disk(self) -> bool:
        """Whether the kernel and initrd are read from the downloaded disk (a ``disk``-only
        source)."""
        return self.files is not None and "kernel" not in self.files


@dataclass(frozen=True)
class BaseEntry:
    """A snap base: the Ubuntu release it builds on (``Ubuntu 22.04``) and its image per VM
    architecture."""

    name: str
    release: str
    images: Mapping[str, str]


@dataclass(frozen=True)
class Index:
    """The images, the bases and the stand-in image per VM architecture."""

    images: dict[str, IndexEntry]
    bases: dict[str, BaseEntry]
    stand_ins: dict[str, str]

    def base_of(self, image: str) -> str | None:
        """The base whose image ``image`` is, if any."""
        return next((b.name for b in self.bases.values() if image in b.images.values()), None)

    def stands_in_for(self, image: str) -> list[str]:
        """The bases ``image`` stands in for (every base, when it is a stand-in)."""
        return list(self.bases) if image in self.stand_ins.values() else []


def identity(digests: Mapping[str, str]) -> str:
    """The image sha256: one digest over the disk, kernel and initrd digests."""
    text = "".join(f"{role} {digests[role]}\n" for role in ROLES)
    return hashlib.sha256(text.encode()).hexdigest()


def user_index_path() -> Path:
    return dirs.config_dir() / "images.json"


def _fail(doc: yamlpos.Document, path: KeyPath, message: str, hint: str) -> NoReturn:
    location = doc.locate(path)
    if location.line is not None:  # without a line, format_error names the key path itself
        message = f"{message} at {location.path}"
    raise SourceError(message, hint=hint, location=location)


def _url(doc: yamlpos.Document, path: KeyPath, url: Any) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        _fail(doc, path, "url must be an http(s) URL", "give the file's full URL")
    return url


def _remote(doc: yamlpos.Document, path: KeyPath, raw: Any) -> RemoteFile:
    if not isinstance(raw, Mapping):
        _fail(doc, path, "expected {url, sha256, size, mirrors}", "see docs/images.md")
    unknown = sorted(set(raw) - REMOTE_KEYS)
    if unknown:
        _fail(
            doc, (*path, unknown[0]), f"unknown key {unknown[0]!r}", f"keys: {sorted(REMOTE_KEYS)}"
        )
    url = _url(doc, (*path, "url"), raw.get("url"))
    digest, size = raw.get("sha256"), raw.get("size")
    if digest is None:
        plain = url.startswith("http://")
        brief = "a plain http url needs a sha256" if plain else "sha256 is missing"
        _fail(
            doc, (*path, "sha256"), brief, "add the file's sha256sum: every image file is verified"
        )
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest.lower()):
        _fail(doc, (*path, "sha256"), "sha256 must be 64 hex digits", "use sha256sum's output")
    if size is not None and (not isinstance(size, int) or size < 0):
        _fail(doc, (*path, "size"), "size must be a number of bytes", "or leave it out")
    mirrors = raw.get("mirrors", [])
    if not isinstance(mirrors, list):
        _fail(doc, (*path, "mirrors"), "mirrors must be a list of URLs", "or leave it out")
    others = tuple(_url(doc, (*path, "mirrors", i), m) for i, m in enumerate(mirrors))
    return RemoteFile(url, str(digest).lower(), int(size) if size is not None else None, others)


def _object(doc: yamlpos.Document, at: KeyPath, raw: Any, keys: set[str], example: str) -> None:
    """Fail unless ``raw``, the entry at ``at`` (``("images", NAME)``...), is an object with no
    key outside ``keys``."""
    if not isinstance(raw, Mapping):
        _fail(doc, at, f"{str(at[0]).removesuffix('s')} {at[-1]} must be an object", example)
    unknown = sorted(set(raw) - keys)
    if unknown:
        _fail(doc, (*at, unknown[0]), f"unknown key {unknown[0]!r}", f"keys: {sorted(keys)}")


def _entry(doc: yamlpos.Document, name: str, raw: Any) -> IndexEntry:
    at: KeyPath = ("images", name)
    _object(doc, at, raw, ENTRY_KEYS, "see the packaged images.json")
    for key in ("arch", "append", "user"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            _fail(doc, (*at, key), f"{key} must be a non-empty string", "see images.json")
    if raw["arch"] not in ARCHS:
        known = ", ".join(ARCHS)
        _fail(doc, (*at, "arch"), f"unknown architecture {raw['arch']!r}", f"use {known}")
    console = ARCHS[raw["arch"]].console
    consoles = re.findall(r"(?:^|\s)console=([^,\s]+)", raw["append"])
    if consoles and console not in consoles:
        _fail(
            doc,
            (*at, "append"),
            f"no console={console}: an {raw['arch']} guest's serial console is {console}",
            f"add console={console} (serial.log and the failure diagnosis read it)",
        )
    command = raw.get("ready_command")
    if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
        _fail(doc, (*at, "ready_command"), "ready_command must be a list of strings", "argv")
    python = raw.get("python", DEFAULT_PYTHON)
    if not isinstance(python, str) or not _PYTHON.fullmatch(python):
        _fail(doc, (*at, "python"), 'python must be a version like "3.10"', "a quoted string")
    source = raw.get("source")
    builder: str | None = None
    files: dict[str, RemoteFile] | None = None
    if isinstance(source, Mapping) and set(source) == {"builder"}:
        builder = str(source["builder"])
        if builder not in builders.MODULES:
            _fail(
                doc,
                (*at, "source", "builder"),
                f"unknown builder {builder!r}",
                f"builders: {', '.join(sorted(builders.MODULES))}",
            )
    elif isinstance(source, Mapping) and set(source) in ({"disk"}, set(ROLES)):
        files = {role: _remote(doc, (*at, "source", role), source[role]) for role in source}
    else:
        _fail(
            doc,
            (*at, "source"),
            "source must be {builder: NAME}, {disk: …} or {disk: …, kernel: …, initrd: …}",
            "each file as {url, sha256, size}",
        )
    return IndexEntry(
        name=name,
        arch=str(raw["arch"]),
        append=str(raw["append"]),
        user=str(raw["user"]),
        ready_command=tuple(str(a) for a in command),
        builder=builder,
        files=files,
        description=str(raw.get("description", "")),
        python=python,
    )


def _arch_key(doc: yamlpos.Document, path: KeyPath, arch: Any) -> str:
    if arch not in ARCHS:
        _fail(doc, path, f"unknown VM architecture {arch!r}", f"architectures: {', '.join(ARCHS)}")
    return str(arch)


def _image_name(doc: yamlpos.Document, path: KeyPath, name: Any) -> str:
    if not isinstance(name, str) or not name:
        _fail(doc, path, "expected an image name", "a name from the images section")
    return name


def _base(doc: yamlpos.Document, name: str, raw: Any) -> BaseEntry:
    at: KeyPath = ("bases", name)
    _object(doc, at, raw, BASE_KEYS, "{release: …, images: {ARCH: IMAGE}}")
    release = raw.get("release")
    if not isinstance(release, str) or not release:
        _fail(doc, (*at, "release"), "release must be a non-empty string", 'e.g. "Ubuntu 22.04"')
    images = raw.get("images")
    if not isinstance(images, Mapping) or not images:
        _fail(doc, (*at, "images"), "images must map VM architectures to images", "amd64: NAME")
    return BaseEntry(
        name=name,
        release=release,
        images={
            _arch_key(doc, (*at, "images", arch), arch): _image_name(
                doc, (*at, "images", arch), image
            )
            for arch, image in images.items()
        },
    )


def _section(doc: yamlpos.Document, key: str) -> Mapping[Any, Any]:
    raw = doc.data.get(key, {})
    if not isinstance(raw, Mapping):
        _fail(doc, (key,), f"{key} must be an object", "see docs/images.md")
    return raw


def parse_index(doc: yamlpos.Document) -> Index:
    """The sections of an index document; a bad entry is a SourceError at its position."""
    if not isinstance(doc.data, Mapping):
        _fail(doc, (), "an image index is an object", f"sections: {', '.join(SECTIONS)}")
    unknown = sorted(str(key) for key in doc.data if key not in SECTIONS)
    if unknown:
        _fail(
            doc,
            (unknown[0],),
            f"unknown section {unknown[0]!r}",
            f"sections: {', '.join(SECTIONS)}",
        )
    return Index(
        images={str(n): _entry(doc, str(n), raw) for n, raw in _section(doc, "images").items()},
        bases={str(n): _base(doc, str(n), raw) for n, raw in _section(doc, "bases").items()},
        stand_ins={
            _arch_key(doc, ("stand_ins", arch), arch): _image_name(doc, ("stand_ins", arch), name)
            for arch, name in _section(doc, "stand_ins").items()
        },
    )


Origins = dict[tuple[str, str], yamlpos.Document]
"""The document that gave each base (``("bases", NAME)``) and stand-in (``("stand_ins", ARCH)``)."""


def _check_arch(doc: yamlpos.Document, path: KeyPath, image: IndexEntry, arch: str) -> None:
    if image.arch != arch:
        _fail(doc, path, f"image {image.name} is {image.arch}, not {arch}", _SAME_ARCH)


def _check_references(index: Index, origins: Origins) -> None:
    """Every base image exists, of its architecture; a stand-in that exists is of its
    architecture (it may name an image that another index adds)."""
    for base in index.bases.values():
        doc = origins["bases", base.name]
        for arch, name in base.images.items():
            path = ("bases", base.name, "images", arch)
            if name not in index.images:
                _fail(doc, path, f"base {base.name}: no image {name!r}", "add it to images")
            _check_arch(doc, path, index.images[name], arch)
    for arch, name in index.stand_ins.items():
        if name in index.images:
            _check_arch(origins["stand_ins", arch], ("stand_ins", arch), index.images[name], arch)


def load_index() -> Index:
    """The packaged index, extended (and overridden: images and bases by name, stand-ins by
    architecture) by the user's index."""
    docs = [yamlpos.load_file(PACKAGED_INDEX)]
    user = user_index_path()
    if user.is_file():
        docs.append(yamlpos.load_file(user))
    merged = Index({}, {}, {})
    origins: Origins = {}
    for doc in docs:
        index = parse_index(doc)
        merged.images.update(index.images)
        merged.bases.update(index.bases)
        merged.stand_ins.update(index.stand_ins)
        origins.update({("bases", name): doc for name in index.bases})
        origins.update({("stand_ins", arch): doc for arch in index.stand_ins})
    _check_references(merged, origins)
    return merged


def catalog() -> dict[str, IndexEntry]:
    """Every image of the index (packaged and the user's) by name."""
    return load_index().images


def entry(name: str) -> IndexEntry:
    entries = catalog()
    if name not in entries:
        raise UsageError(f"unknown image {name!r}", hint=f"images: {', '.join(sorted(entries))}")
    return entries[name]
