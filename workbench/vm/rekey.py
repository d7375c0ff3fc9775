"""Re-keying a copied instance: its own user key and guest host key, on its first warm start.

A new project's instance starts as a copy of the image's saved base instance (the base's disk,
seed and keys). On its first start :func:`rekey` gives it keys of its own, so no two projects
share a login key or a host key: over the base key's connection, a fresh user key is authorized
(replacing the base's for root and the image user) and a fresh guest host key installed, and the
SSH server reloads (OpenSSH: SIGHUP; dropbear: its listener restarts, respawned by init). The
host then logs in with the new key, pinning the new host key, and only then keeps the new keys,
the pin and a seed ISO that carries them (the tiny guest re-reads its seed on every boot).

The marker file ``rekey`` in the instance directory says a re-key is due; it goes last.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable

from workbench.errors import VmError
from workbench.files import write_atomic
from workbench.vm import keys
from workbench.vm.executor import Command
from workbench.vm.hostkeys import known_hosts_line
from workbench.vm.ssh import SshExecutor
from workbench.vm.state import InstanceDir

RELOGIN_TIMEOUT = 20.0
"""Seconds the guest's SSH server may take to come back with the new host key."""

GUEST_SCRIPT = r"""
set -eu
umask 077
pub=$1 user=$2 hostpub=$3
for home in /root "/home/$user"; do
  [ -f "$home/.ssh/authorized_keys" ] && printf '%s\n' "$pub" > "$home/.ssh/authorized_keys"
done
if command -v dropbearconvert >/dev/null && [ -d /etc/dropbear ]; then
  cat > /run/workbench-host-key
  dropbearconvert openssh dropbear /run/workbench-host-key /etc/dropbear/new_host_key 2>/dev/null
  rm -f /run/workbench-host-key
  mv /etc/dropbear/new_host_key /etc/dropbear/dropbear_ed25519_host_key
  for pid in $(pidof dropbear); do
    [ "$(cut -d' ' -f4 /proc/$pid/stat)" = 1 ] && kill "$pid"
  done
else
  cat > /etc/ssh/ssh_host_ed25519_key.new
  printf '%s\n' "$hostpub" > /etc/ssh/ssh_host_ed25519_key.pub
  mv /etc/ssh/ssh_host_ed25519_key.new /etc/ssh/ssh_host_ed25519_key
  kill -HUP "$(cat /run/sshd.pid)"
fi
"""
"""Run as root over the old key's connection: ``sh -c GUEST_SCRIPT rekey PUB USER HOSTPUB``,
the new host private key on stdin (never on a command line)."""


def due(d: InstanceDir) -> bool:
    """Whether instance ``d`` still uses the keys of the base it was copied from."""
    return d.rekey_marker.exists()


def rekey(
    d: InstanceDir,
    ssh: SshExecutor,
    *,
    user: str,
    write_seed: Callable[[], None],
) -> SshExecutor:
    """Give the running instance ``d`` (reached by ``ssh``, as root with the old key) a new
    user key and host key; return the connection made with the new ones."""
    staging = d.root / "rekey.new"  # the new files wait here until the guest took them
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    try:
        new_key, new_host = staging / d.ssh_key.name, staging / d.host_key.name
        keys.generate_ed25519(new_key, f"workbench@{d.name}")
        keys.generate_ed25519(new_host, f"host@{d.name}")
        public, host_public = keys.public_line(new_key), keys.public_line(new_host)
        done = ssh.run(
            Command(
                ["sh", "-c", GUEST_SCRIPT, "rekey", public, user, host_public],
                stdin=new_host.read_bytes(),
            ),
            timeout=60,
        )
        if done.exit_status != 0:
            raise VmError(
                f"re-keying instance {d.name} failed in the guest: "
                f"{(done.stderr.strip() or 'no output').splitlines()[-1]}",
                hint="run `vm clean` to start this project afresh",
                details=done.stderr,
            )
        ssh.close()
        pin = write_atomic(staging / d.known_hosts.name, known_hosts_line(ssh.port, host_public))
        fresh = SshExecutor(port=ssh.port, user=ssh.user, key=new_key, known_hosts=pin)
        _relogin(fresh)
        for path in staging.iterdir():
            path.replace(d.root / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fresh.key, fresh.known_hosts = d.ssh_key, d.known_hosts  # where they live now
    write_seed()
    d.rekey_marker.unlink()
    return fresh


def _relogin(ssh: SshExecutor) -> None:
    """Log in while the guest's SSH server restarts (refusals retried); stay connected."""
    end = time.monotonic() + RELOGIN_TIMEOUT
    while True:
        try:
            ssh.connect(timeout=max(end - time.monotonic(), 1.0))
            return
        except VmError:
            if time.monotonic() >= end:
                raise
            time.sleep(0.2)
