"""The builder's view: what ``architectures`` a snap built on one host claims.

On host H the first entry whose build-on contains H (or ``all``) gives the snap's
``architectures`` (that entry's run-on). No entry matches, or no stanza: the snap claims H.
snapcraft 4.x does exactly this (``_process_architectures``), so the proposal and snapcraft
dialects differ only in what they accept (rule D1), not in the claim.
"""

from __future__ import annotations

from collections.abc import Iterable

from workbench.architectures.model import ALL, KNOWN_ARCHS, Claim, Stanza
from workbench.errors import UsageError


def check_arch(arch: str, *, what: str = "architecture") -> str:
    """``arch`` if it is a known Debian architecture, else a :class:`UsageError`."""
    if arch not in KNOWN_ARCHS:
        raise UsageError(f"unknown {what} {arch!r}", hint=f"use one of: {', '.join(KNOWN_ARCHS)}")
    return arch


def claim(stanza: Stanza, host: str) -> Claim:
    """What a snap built on ``host`` claims to run on, and which entry said so."""
    stanza.dialect.require_view("snap")
    check_arch(host, what="host architecture")
    if not stanza.declared:
        return Claim(host, (host,), None, "no architectures key: the snap runs where it was built")
    for entry in stanza.entries:
        if host in entry.build_on or ALL in entry.build_on:
            how = "all" if ALL in entry.build_on else host
            return Claim(host, entry.run_on, entry.index, f"entry {entry.index} builds on {how}")
    return Claim(
        host, (host,), None, f"no entry builds on {host}: the snap runs where it was built"
    )


def claims(stanza: Stanza, hosts: Iterable[str] = KNOWN_ARCHS) -> tuple[Claim, ...]:
    """One :class:`Claim` per host: the rows of a host-arch x entry grid."""
    return tuple(claim(stanza, host) for host in hosts)
