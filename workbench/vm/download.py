"""Streaming downloads that resume (HTTP ``Range``) and are verified against a sha256.

The bytes go to ``DEST.part`` and become ``DEST`` only once their digest matches; an interrupted
download continues where it stopped; a mismatch deletes the partial file and says so.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import urllib.error
import urllib.request
from pathlib import Path

from workbench.errors import VmError
from workbench.progress import Listener, Progress, ignore
from workbench.vm.builders.recipe import CHUNK

TIMEOUT = 60.0
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
        raise VmError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
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


def download(
    url: str,
    dest: Path,
    *,
    sha256: str,
    size: int | None = None,
    listener: Listener = ignore,
    task: str | None = None,
) -> None:
    """Fetch ``url`` into ``dest`` (resuming ``dest.part``); raise VmError on a digest mismatch."""
    task = task or f"download {dest.name}"
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest, have = _hash_existing(part)
    response, start, total = _open(url, have)
    if start != have:
        digest, have = hashlib.sha256(), 0
    total = total or size
    with response, part.open("r+b" if have else "wb") as out:
        out.seek(have)
        out.truncate()
        listener(Progress(task, have, total, "resuming" if have else url, unit="B"))
        try:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                have += len(chunk)
                listener(Progress(task, have, total, unit="B"))
        except (http.client.HTTPException, OSError) as exc:
            problem = str(exc) or type(exc).__name__
        else:
            problem = "" if total is None or have >= total else f"expected {total}"
    if problem:
        raise VmError(
            f"download of {url} stopped after {have} bytes ({problem})",
            hint="run it again: it resumes where it stopped",
        )
    got = digest.hexdigest()
    if got != sha256.lower():
        part.unlink(missing_ok=True)
        listener(Progress(task, have, total, "sha256 mismatch", unit="B", finished=True))
        raise VmError(
            f"sha256 mismatch for {url}: expected {sha256}, got {got}; "
            f"the downloaded file was deleted",
            hint="retry; if it happens again the image index entry is wrong",
        )
    part.replace(dest)
    listener(Progress(task, have, total, "verified", unit="B", finished=True))
