"""The image index: which base images exist, and where each comes from (a builder or three URLs).

The packaged ``images.json`` names each image (arch, source, kernel command line, login user,
readiness command); ``dirs.config_dir()/images.json`` adds entries or replaces them by name. A
source is a local builder (:mod:`workbench.vm.builders`) or three URLs with sha256 digests
(``disk``, ``kernel``, ``initrd``).
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
from workbench.vm.download import RemoteFile

ROLES = ("disk", "kernel", "initrd")
PACKAGED_INDEX = Path(__file__).with_name("images.json")
ENTRY_KEYS = {"description", "arch", "source", "append", "user", "ready_command"}
_SHA256 = re.compile(r"[0-9a-f]{64}")


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

    @property
    def source(self) -> str:
        if self.builder is not None:
            return f"builder:{self.builder}"
        assert self.files is not None
        return self.files["disk"].url


def identity(digests: Mapping[str, str]) -> str:
    """The image sha256: one digest over the disk, kernel and initrd digests."""
    text = "".join(f"{role} {digests[role]}\n" for role in ROLES)
    return hashlib.sha256(text.encode()).hexdigest()


def user_index_path() -> Path:
    return dirs.config_dir() / "images.json"


def _fail(doc: yamlpos.Document, path: tuple[str | int, ...], message: str, hint: str) -> NoReturn:
    location = doc.locate(path)
    if location.line is not None:  # without a line, format_error names the key path itself
        message = f"{message} at {location.path}"
    raise SourceError(message, hint=hint, location=location)


def _remote(doc: yamlpos.Document, path: tuple[str | int, ...], raw: Any) -> RemoteFile:
    if not isinstance(raw, Mapping) or set(raw) - {"url", "sha256", "size"}:
        _fail(doc, path, "expected {url, sha256, size}", "see workbench/vm/image_index.py")
    url, digest, size = raw.get("url"), raw.get("sha256"), raw.get("size")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        _fail(doc, (*path, "url"), "url must be an http(s) URL", "give the file's full URL")
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
    return RemoteFile(str(url), str(digest).lower(), int(size) if size is not None else None)


def _entry(doc: yamlpos.Document, name: str, raw: Any) -> IndexEntry:
    at: tuple[str | int, ...] = ("images", name)
    if not isinstance(raw, Mapping):
        _fail(doc, at, f"image {name} must be an object", "see the packaged images.json")
    unknown = sorted(set(raw) - ENTRY_KEYS)
    if unknown:
        _fail(doc, (*at, unknown[0]), f"unknown key {unknown[0]!r}", f"keys: {sorted(ENTRY_KEYS)}")
    for key in ("arch", "append", "user"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            _fail(doc, (*at, key), f"{key} must be a non-empty string", "see images.json")
    command = raw.get("ready_command")
    if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
        _fail(doc, (*at, "ready_command"), "ready_command must be a list of strings", "argv")
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
    elif isinstance(source, Mapping) and set(source) == set(ROLES):
        files = {role: _remote(doc, (*at, "source", role), source[role]) for role in ROLES}
    else:
        _fail(
            doc,
            (*at, "source"),
            "source must be {builder: NAME} or {disk: …, kernel: …, initrd: …}",
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
    )


def parse_index(doc: yamlpos.Document) -> dict[str, IndexEntry]:
    """The entries of an index document; a bad entry is a SourceError at its position."""
    images = doc.data.get("images") if isinstance(doc.data, Mapping) else None
    if not isinstance(images, Mapping):
        _fail(doc, ("images",), "an image index needs an 'images' object", "see images.json")
    return {str(name): _entry(doc, str(name), raw) for name, raw in images.items()}


def catalog() -> dict[str, IndexEntry]:
    """The packaged index, extended (and overridden by name) by the user's index."""
    entries = parse_index(yamlpos.load_file(PACKAGED_INDEX))
    user = user_index_path()
    if user.is_file():
        entries.update(parse_index(yamlpos.load_file(user)))
    return entries


def entry(name: str) -> IndexEntry:
    entries = catalog()
    if name not in entries:
        raise UsageError(f"unknown image {name!r}", hint=f"images: {', '.join(sorted(entries))}")
    return entries[name]
