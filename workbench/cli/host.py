"""``--host user@address[:port]``, ``--identity KEY``, ``--accept-host-key SHA256:...``: building
on an existing SSH host (:mod:`workbench.vm.remote`), for ``workbench build`` and ``workbench vm``.

An unknown host key is pinned only when ``--accept-host-key`` names its fingerprint, or when the
user answers ``y`` to the prompt showing it (standard input a terminal); a changed one is refused
(:mod:`workbench.vm.pins`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.vm.pins import HostTarget, ensure_pinned


def host_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--host``, ``--identity`` and ``--accept-host-key`` to ``parser``."""
    parser.add_argument(
        "--host",
        metavar="USER@ADDRESS[:PORT]",
        help="build on this existing SSH host instead of a qemu VM (key-based login)",
    )
    parser.add_argument(
        "--identity",
        type=Path,
        metavar="KEY",
        help="private key for --host (default: ~/.ssh/id_ed25519, id_ecdsa or id_rsa)",
    )
    parser.add_argument(
        "--accept-host-key",
        metavar="SHA256:...",
        help="pin --host's key if it has this fingerprint (else asked on a terminal)",
    )


def host_target(args: argparse.Namespace) -> HostTarget | None:
    """The ``--host`` asked for, its key pinned (unless only planning), or None."""
    if args.host is None:
        return None
    target = HostTarget.parse(args.host, identity=args.identity)
    if not getattr(args, "plan", False):
        ensure_pinned(target, accept=args.accept_host_key, confirm=_ask if _interactive() else None)
    return target


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def _ask(fingerprint: str) -> bool:
    """Ask on the terminal whether to trust the host key ``fingerprint``."""
    print(f"workbench: the host offers the SSH key {fingerprint}", file=sys.stderr)
    answer = input("workbench: is that its key? pin it and connect [y/N] ")
    return answer.strip().lower() in ("y", "yes")
