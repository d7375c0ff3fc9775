"""SSH host keys pinned on first use, only with the user's explicit confirmation.

The pins live in the workbench's own ``known_hosts`` file (``config_dir()/known_hosts``, mode
0600, rewritten atomically; the user's ``~/.ssh/known_hosts`` is neither read nor written). Before
the workbench logs in to an existing host, :func:`ensure_pinned` fetches the key the host offers
(a key exchange, no authentication) and compares it with the pin:

- pinned and equal: go on; pinned and different: refused, whatever was passed;
- not pinned: pinned only when ``--accept-host-key`` names its SHA256 fingerprint, or when the
  user answers yes to the prompt showing the fingerprint (on a terminal); otherwise refused, and
  nothing is written.

The login then goes through :class:`~workbench.vm.ssh.SshExecutor`, which refuses any key that is
not the pinned one: no code path adds a key by itself.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench import dirs
from workbench.errors import UsageError, VmError
from workbench.files import PRIVATE, write_atomic
from workbench.vm.hostkeys import fingerprint, known_hosts_name

if TYPE_CHECKING:
    import paramiko

FETCH_TIMEOUT = 20.0
_TARGET = re.compile(
    r"(?P<user>[A-Za-z_][A-Za-z0-9_.-]{0,31})"
    r"@(?P<host>[^\s@:\[\]/]+|\[[0-9a-fA-F:.]+\])"
    r"(?::(?P<port>\d{1,5}))?"
)
_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")
DEFAULT_KEYS = ("id_ed25519", "id_ecdsa", "id_rsa")
"""The user's keys tried in order when no ``--identity`` is given (in ``~/.ssh``)."""


@dataclass(frozen=True)
class HostTarget:
    """An existing machine to build on: ``user@host[:port]`` and the key to log in with."""

    user: str
    host: str
    port: int = 22
    identity: Path | None = None

    @classmethod
    def parse(cls, text: str, *, identity: Path | None = None) -> HostTarget:
        """``user@address[:port]`` (an IPv6 address in brackets); a UsageError when it is not."""
        match = _TARGET.fullmatch(text.strip())
        port = int(match.group("port") or 22) if match else 0
        if match is None or not 0 < port < 65536:
            raise UsageError(
                f"invalid --host {text!r}", hint="use user@address or user@address:port"
            )
        return cls(match.group("user"), match.group("host").strip("[]"), port, identity)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}:{self.port}"

    @property
    def known_hosts_name(self) -> str:
        return known_hosts_name(self.host, self.port)

    def key_file(self) -> Path:
        """``identity``, else the first of :data:`DEFAULT_KEYS` that exists."""
        if self.identity is not None:
            return self.identity.expanduser()
        ssh = Path.home() / ".ssh"
        for name in DEFAULT_KEYS:
            if (ssh / name).is_file():
                return ssh / name
        raise UsageError(
            f"no SSH key to log in to {self}: none of {', '.join(DEFAULT_KEYS)} in {ssh}",
            hint="pass --identity KEY",
        )


def pins_file() -> Path:
    """The workbench's ``known_hosts``: every pinned host key."""
    return dirs.config_dir() / "known_hosts"


def fetch_host_key(target: HostTarget, timeout: float = FETCH_TIMEOUT) -> paramiko.PKey:
    """The host key ``target`` offers (a key exchange only: nothing is authenticated or sent)."""
    import paramiko  # noqa: PLC0415 (heavy: loaded for SSH hosts only)

    try:
        sock = socket.create_connection((target.host, target.port), timeout=timeout)
    except OSError as exc:
        raise VmError(f"cannot reach {target}: {exc}") from exc
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise VmError(f"no SSH key exchange with {target}: {exc}") from exc
    finally:
        transport.close()


def pinned(target: HostTarget, pins: Path) -> list[str]:
    """The ``known_hosts`` lines of ``pins`` that pin a key for ``target``."""
    try:
        lines = pins.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [line for line in lines if line.split(" ", 1)[0] == target.known_hosts_name]


def pin(target: HostTarget, key: paramiko.PKey, pins: Path) -> None:
    """Record ``key`` as the host key of ``target`` in ``pins`` (0600, atomic)."""
    try:
        kept = pins.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        kept = []
    line = f"{target.known_hosts_name} {key.get_name()} {key.get_base64()}"
    pins.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(pins, "\n".join([*kept, line]) + "\n", mode=PRIVATE)


def pinned_fingerprints(target: HostTarget, pins: Path) -> set[str]:
    """The fingerprints pinned for ``target``."""
    import paramiko  # noqa: PLC0415 (heavy: loaded for SSH hosts only)

    found = set()
    for line in pinned(target, pins):
        entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
        if entry is not None:
            found.add(fingerprint(entry.key))
    return found


def ensure_pinned(
    target: HostTarget,
    *,
    accept: str | None = None,
    confirm: Callable[[str], bool] | None = None,
) -> Path:
    """Make sure the key ``target`` offers is pinned (see the module text); the pins file.

    ``accept``: the fingerprint the user accepts (``--accept-host-key``); ``confirm``: asks the
    user about a fingerprint (a terminal prompt), None where nobody can answer.
    """
    if accept is not None and not _FINGERPRINT.fullmatch(accept):
        raise UsageError(
            f"invalid --accept-host-key {accept!r}", hint="use the SHA256:... fingerprint shown"
        )
    pins = pins_file()
    key = fetch_host_key(target)
    offered = fingerprint(key)
    known = pinned_fingerprints(target, pins)
    if known:
        if offered not in known:
            raise UsageError(
                f"the SSH host key of {target} changed: it offers {offered}, pinned is "
                f"{', '.join(sorted(known))}; refusing to connect",
                hint=f"if the host was reinstalled, remove its line from {pins}",
            )
        return pins
    if accept is not None and accept != offered:
        raise UsageError(
            f"the SSH host key of {target} is {offered}, not the {accept} accepted; refusing",
            hint="check which machine answers at that address",
        )
    if accept is None and (confirm is None or not confirm(offered)):
        raise UsageError(
            f"the SSH host key of {target} is not pinned: it offers {offered}",
            hint=f"check the fingerprint on the host, then pass --accept-host-key {offered}",
        )
    pin(target, key, pins)
    return pins
