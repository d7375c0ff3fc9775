"""ed25519 key pairs on the host: the user's login key and the guest's host key.

Private keys are written in the OpenSSH format with mode 0600 (parent directory 0700), public keys
next to them as ``NAME.pub``. Both paramiko (client side) and cloud-init or the tiny guest's
dropbearconvert (server side) read these files.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from workbench.errors import VmError
from workbench.files import PRIVATE, write_atomic


def private_pem(key: Ed25519PrivateKey) -> str:
    """The OpenSSH-format (``-----BEGIN OPENSSH PRIVATE KEY-----``) text of ``key``."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode("ascii")


def public_openssh(key: Ed25519PrivateKey, comment: str) -> str:
    """The public line ``ssh-ed25519 AAAA... comment`` of ``key``."""
    blob = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return f"{blob.decode('ascii')} {comment}".rstrip()


def generate_ed25519(private_path: Path, comment: str) -> str:
    """Create a new key pair at ``private_path`` (0600 whatever the umask, parent made 0700)
    and ``.pub`` next to it, each written atomically; return the public line."""
    key = Ed25519PrivateKey.generate()
    public = public_openssh(key, comment)
    private_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(private_path, private_pem(key), mode=PRIVATE)
    write_atomic(private_path.with_suffix(".pub"), public + "\n")
    return public


def public_line(private_path: Path) -> str:
    """The public line of the OpenSSH private key at ``private_path`` (comment from ``.pub``)."""
    try:
        key = serialization.load_ssh_private_key(private_path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise VmError(
            f"cannot read SSH private key {private_path}: {exc}",
            hint="delete it to have a new one generated",
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise VmError(f"{private_path} is not an ed25519 key", hint="delete it and retry")
    pub = private_path.with_suffix(".pub")
    comment = ""
    if pub.is_file():
        fields = pub.read_text(encoding="ascii").split(maxsplit=2)
        comment = fields[2].strip() if len(fields) == 3 else ""
    return public_openssh(key, comment)
