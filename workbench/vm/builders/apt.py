"""Debian packages of any architecture through the host's apt: versions, downloads, unpacking.

The host's apt knows another architecture once it is a dpkg foreign architecture with its lists
fetched (``dpkg --add-architecture arm64; apt-get update``: ``./dev`` does it). :func:`candidates`
reads the version apt would install of each package (a metapackage such as
``linux-image-arm64`` resolved to the package it depends on), memoized per state of the apt
lists, since apt without its binary cache (as in Debian's container images) reads every list
again on each call. :func:`fetch` downloads exactly those versions and unpacks them with
``dpkg-deb -x``: nothing is configured and no maintainer script runs, so no foreign program is
executed, and an ordinary user can do it.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from workbench import dirs
from workbench.errors import VmError
from workbench.files import write_atomic
from workbench.vm.builders.session import BuildSession

LISTS = Path("/var/lib/apt/lists")
METAPACKAGE = re.compile(r"^linux-image-[a-z0-9]+$")
"""Kernel metapackages: what they depend on (one exact version) is the real kernel package."""
_DEPENDS = re.compile(r"^(\S+) \(= (\S+)\)")


def _lists_stamp(arch: str) -> list[list[str | int]]:
    """Names, sizes and mtimes of the apt lists of ``arch`` (changed by every apt-get update)."""
    files = sorted(LISTS.glob(f"*_binary-{arch}_Packages*"))
    return [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]


def parse_show(text: str) -> dict[str, dict[str, str]]:
    """``apt-cache show`` stanzas by package name: their fields (pure)."""
    out: dict[str, dict[str, str]] = {}
    for stanza in text.strip().split("\n\n"):
        fields = dict(re.findall(r"^([\w-]+): ?(.*)$", stanza, re.MULTILINE))
        if "Package" in fields:
            out[fields["Package"]] = fields
    return out


def resolve(packages: Sequence[str], shown: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """``packages`` pinned to versions (pure): each its shown version, a kernel metapackage
    replaced by the exact package and version it depends on."""
    pinned = {}
    for name in packages:
        fields = shown.get(name)
        if fields is None:
            raise VmError(f"apt knows no package {name}")
        depends = _DEPENDS.match(fields.get("Depends", ""))
        if METAPACKAGE.match(name) and depends:
            pinned[depends.group(1)] = depends.group(2)
        else:
            pinned[name] = fields["Version"]
    return pinned


def candidates(packages: Sequence[str], arch: str) -> dict[str, str]:
    """The versions of ``packages`` of ``arch`` that apt would install now (see :func:`resolve`)."""
    stamp = _lists_stamp(arch)
    hint = f"add the architecture and fetch its lists: ./dev does (dpkg --add-architecture {arch})"
    if not stamp:
        raise VmError(f"the host's apt has no {arch} package lists", hint=hint)
    memo = dirs.cache_dir() / f"apt-{arch}.json"
    key = {"lists": stamp, "packages": list(packages)}
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        saved = json.loads(memo.read_text())
        if saved["key"] == key:
            return dict(saved["versions"])
    try:
        shown = subprocess.run(
            ["apt-cache", "show", "--no-all-versions", *(f"{p}:{arch}" for p in packages)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        said = getattr(exc, "stderr", None) or str(exc)
        raise VmError(f"apt cannot show the {arch} packages: {said.strip()}", hint=hint) from exc
    versions = resolve(packages, parse_show(shown))
    memo.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(memo, json.dumps({"key": key, "versions": versions}))
    return versions


def fetch(session: BuildSession, versions: Mapping[str, str], arch: str, root: Path) -> None:
    """Download ``versions`` (package -> version) of ``arch`` and unpack them into ``root``."""
    debs = root.parent / f"{root.name}.debs"
    debs.mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    session.run(
        ["apt-get", "download", "-q", *(f"{p}:{arch}={v}" for p, v in sorted(versions.items()))],
        cwd=debs,
    )
    for deb in sorted(debs.glob("*.deb")):
        session.run(["dpkg-deb", "-x", str(deb), str(root)])
        deb.unlink()
    debs.rmdir()
