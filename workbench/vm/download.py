"""Streaming downloads that resume (HTTP ``Range``) and are verified against a sha256.

The bytes go to ``DEST.part`` and become ``DEST`` (by a rename) only once their digest and size
match; an interrupted download continues where it stopped; a mismatch, or more bytes than the
expected size, deletes the partial file and says so. A file the server says is not there (HTTP 404
or 410) is fetched from the next of its mirrors.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from workbench.errors import VmError
from workbench.progress import Progress, ProgressListener, ignore
from workbench.vm.builders.recipe import CHUNK

TIMEOUT = 60.0
MAX_UNSIZED = 64 << 30  # bytes: the bound of a download whose size neither index nor server gives
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")


def _hash_existing(path: Path) -> tuple[hashlib._Hash, int]:
    digest = hashlib.sha256()
    size = 0
    if path.exists():
        with path.open("rb") as src:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
    return digest, size


class _NotThere(VmError):
    """The server answered that the file is not there (HTTP 404 or 410)."""


def _open(url: str, offset: int) -> tuple[http.client.HTTPResponse, int, int | None]:
    """Open ``url`` from byte ``offset``: (response, offset actually served, total size)."""
    request = urllib.request.Request(url, headers={"User-Agent": "workbench"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return _open(url, 0)
        failed = _NotThere if exc.code in (404, 410) else VmError
        raise failed(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise VmError(f"download of {url} failed: {exc}", hint="check the network") from exc
    length = response.headers.get("Content-Length")
    if response.status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if match and int(match.group(1)) == offset:
            total = None if match.group(2) == "*" else int(match.group(2))
            return response, offset, total
        response.close()
        return _open(url, 0)
    return response, 0, int(length) if length is not None else None


@dataclass(frozen=True)
class RemoteFile:
    """A file to download: where it is (and other places with the same file), its sha256 and,
    when known, its size in bytes."""

    url: str
    sha256: str
    size: int | None = None
    mirrors: tuple[str, ...] = ()


def _open_first(
    remote: RemoteFile, offset: int
) -> tuple[str, http.client.HTTPResponse, int, int | None]:
    """The URL of ``remote`` or the first of its mirrors that has the file, opened at
    ``offset``."""
    *earlier, last = (remote.url, *remote.mirrors)
    for url in earlier:
        try:
            return url, *_open(url, offset)
        except _NotThere:
            continue
    return last, *_open(last, offset)


def download(
    remote: RemoteFile,
    dest: Path,
    *,
    listener: ProgressListener = ignore,
    task: str | None = None,
) -> None:
    """Fetch ``remote`` into ``dest`` (resuming ``dest.part``); raise VmError on a digest mismatch.

    With a ``size`` a server offering another size is refused before a byte is read, and one sending
    more is cut off at once; without it, the server's stated length (else :data:`MAX_UNSIZED`)
    bounds the download.
    """
    task = task or f"download {dest.name}"
    sha256, size = remote.sha256, remote.size
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest, have = _hash_existing(part)
    if size is not None and have > size:  # a stale partial file longer than the file
        digest, have = hashlib.sha256(), 0
    url, response, start, total = _open_first(remote, have)
    if start != have:
        digest, have = hashlib.sha256(), 0
    if size is not None and total is not None and total != size:
        response.close()
        _discard(part, f"download of {url}: the server offers {total} bytes, the index says {size}")
    expected = size if size is not None else total
    limit = expected if expected is not None else MAX_UNSIZED
    overflow = False
    with response, part.open("r+b" if have else "wb") as out:
        out.seek(have)
        out.truncate()
        listener(Progress(task, have, expected, "resuming" if have else url, unit="B"))
        try:
            while chunk := response.read(min(CHUNK, limit + 1 - have)):
                if have + len(chunk) > limit:
                    overflow = True
                    break
                out.write(chunk)
                digest.update(chunk)
                have += len(chunk)
                listener(Progress(task, have, expected, unit="B"))
        except (http.client.HTTPException, OSError) as exc:
            problem = str(exc) or type(exc).__name__
        else:
            problem = "" if expected is None or have >= expected else f"expected {expected}"
        out.flush()
        os.fsync(out.fileno())
    if overflow:
        _discard(part, f"download of {url} sent more than {limit} bytes: stopped")
    if problem:
        raise VmError(
            f"download of {url} stopped after {have} bytes ({problem})",
            hint="run it again: it resumes where it stopped",
        )
    got = digest.hexdigest()
    if got != sha256.lower():
        listener(Progress(task, have, expected, "sha256 mismatch", unit="B", finished=True))
        _discard(part, f"sha256 mismatch for {url}: expected {sha256}, got {got}")
    part.replace(dest)
    listener(Progress(task, have, expected, "verified", unit="B", finished=True))


def _discard(part: Path, brief: str) -> NoReturn:
    """Delete the partial download ``part`` of a wrong file and raise VmError ``brief``."""
    part.unlink(missing_ok=True)
    raise VmError(
        f"{brief}; the downloaded file was deleted",
        hint="retry; if it happens again the image index entry is wrong",
    )
