"""The cloud-init NoCloud seed: ``user-data`` and ``meta-data`` on an ISO labelled ``cidata``.

:func:`user_data` and :func:`meta_data` are pure; :func:`write_seed_iso` masters the ISO with
pycdlib (no external tools). The debian-12 guest reads the seed with cloud-init; the tiny guest
reads the same ISO with a small parser (``builders/tiny-seed.sh``), which relies on the block layout
produced here: one ``- name:`` per user, keys as ``- ssh-...`` list items, the host key as a
literal ``|`` block.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import UsageError
from workbench.files import PRIVATE, write_atomic

SEED_LABEL = "cidata"

_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_INSTANCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class SeedConfig:
    """What a first boot needs: identity, the login key, the pinned host key, extra CAs."""

    instance_id: str
    hostname: str
    user: str
    authorized_key: str
    host_private_key: str
    host_public_key: str
    ca_bundle: str | None = None

    def __post_init__(self) -> None:
        checks = (
            ("user", self.user, _USER.fullmatch(self.user) and self.user != "root"),
            ("hostname", self.hostname, _HOSTNAME.fullmatch(self.hostname)),
            ("instance_id", self.instance_id, _INSTANCE_ID.fullmatch(self.instance_id)),
            ("authorized_key", self.authorized_key, _is_public_key(self.authorized_key)),
            ("host_public_key", self.host_public_key, _is_public_key(self.host_public_key)),
            (
                "host_private_key",
                "(secret)",
                "BEGIN OPENSSH PRIVATE KEY" in self.host_private_key,
            ),
        )
        for field, value, ok in checks:
            if not ok:
                raise UsageError(
                    f"invalid seed {field}: {value!r}",
                    hint="see workbench.vm.seed.SeedConfig",
                )


def _is_public_key(line: str) -> bool:
    fields = line.split()
    return len(fields) >= 2 and fields[0].startswith("ssh-") and "\n" not in line.strip()


class _SeedDumper(yaml.SafeDumper):
    """Block style, sequences indented under their key, multi-line strings as ``|`` blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_SeedDumper.add_representer(str, _represent_str)


def user_data_dict(cfg: SeedConfig) -> dict[str, Any]:
    """The cloud-config of :func:`user_data` as plain data."""
    key = cfg.authorized_key.strip()
    data: dict[str, Any] = {
        "users": [
            {
                "name": cfg.user,
                "shell": "/bin/bash",
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "lock_passwd": True,
                "ssh_authorized_keys": [key],
            }
        ],
        "disable_root": False,
        "ssh_authorized_keys": [key],
        "ssh_pwauth": False,
        "ssh_deletekeys": True,
        "ssh_genkeytypes": ["ed25519"],
        "ssh_keys": {
            "ed25519_private": cfg.host_private_key.strip() + "\n",
            "ed25519_public": cfg.host_public_key.strip(),
        },
        "locale": "C.UTF-8",
        "manage_etc_hosts": True,
    }
    if cfg.ca_bundle:
        data["ca_certs"] = {"trusted": [cfg.ca_bundle.strip() + "\n"]}
    return data


def user_data(cfg: SeedConfig) -> str:
    """The ``#cloud-config`` user-data text (pure)."""
    body = yaml.dump(
        user_data_dict(cfg),
        Dumper=_SeedDumper,
        sort_keys=False,
        default_flow_style=False,
        width=4096,
    )
    return "#cloud-config\n" + body


def meta_data(cfg: SeedConfig) -> str:
    """The NoCloud meta-data text (pure)."""
    return f"instance-id: {cfg.instance_id}\nlocal-hostname: {cfg.hostname}\n"


def seed_files(cfg: SeedConfig) -> dict[str, bytes]:
    """The files on the seed ISO, by name."""
    return {
        "user-data": user_data(cfg).encode("utf-8"),
        "meta-data": meta_data(cfg).encode("utf-8"),
    }


def write_seed_iso(cfg: SeedConfig, path: Path) -> None:
    """Master the NoCloud ISO (volume ``cidata``, Joliet + Rock Ridge) at ``path`` (0600)."""
    import pycdlib  # noqa: PLC0415 (heavy: loaded when used)

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, vol_ident=SEED_LABEL, joliet=3, rock_ridge="1.09")
    for name, content in seed_files(cfg).items():
        iso_name = "/" + name.replace("-", "").upper()[:8] + ".;1"
        iso.add_fp(
            io.BytesIO(content),
            len(content),
            iso_path=iso_name,
            rr_name=name,
            joliet_path="/" + name,
            file_mode=0o100400,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    image = io.BytesIO()
    try:
        iso.write_fp(image)
    finally:
        iso.close()
    write_atomic(path, image.getvalue(), mode=PRIVATE)  # it holds the guest's host key
