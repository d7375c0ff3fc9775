"""Pinned SSH host keys: fingerprints, ``known_hosts`` entries, and refusing any other key."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from workbench.errors import VmError

if TYPE_CHECKING:
    import paramiko

LOOPBACK = "127.0.0.1"


class HostKeyChanged(VmError):
    """The machine presented a host key other than the pinned one."""


class HostKeyUnknown(VmError):
    """The machine's host key is not pinned: nothing is sent until the user accepted it."""

    def __init__(self, fingerprint: str, *, address: str) -> None:
        super().__init__(
            f"the SSH host key of {address} is not pinned (got {fingerprint})",
            hint="check the fingerprint, then accept it with --accept-host-key " + fingerprint,
        )
        self.fingerprint = fingerprint


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:...``: OpenSSH's fingerprint of a host key (base64, no padding)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def known_hosts_name(host: str, port: int) -> str:
    """The ``known_hosts`` name of ``host``:``port`` (``[host]:port`` unless port 22; pure)."""
    return host if port == 22 else f"[{host}]:{port}"


def known_hosts_line(port: int, public_key: str, host: str = LOOPBACK) -> str:
    """The ``known_hosts`` entry pinning ``public_key`` for ``host``:``port`` (pure)."""
    key_type, blob = public_key.split()[:2]
    return f"{known_hosts_name(host, port)} {key_type} {blob}\n"


def refusing(address: str) -> paramiko.MissingHostKeyPolicy:
    """A missing-host-key policy refusing every key it is asked about (never adds one)."""
    import paramiko  # noqa: PLC0415 (heavy: loaded on the first connection only)

    class Refuse(paramiko.MissingHostKeyPolicy):
        def missing_host_key(
            self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
        ) -> None:
            raise HostKeyUnknown(fingerprint(key), address=address)

    return Refuse()
