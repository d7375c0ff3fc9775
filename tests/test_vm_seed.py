"""Keys and the NoCloud seed: file modes, YAML content, the ISO read back, the tiny parser."""

from __future__ import annotations

import io
import stat
import subprocess
from pathlib import Path

import paramiko
import pycdlib
import pytest
import yaml

from workbench.errors import UsageError, VmError
from workbench.vm import keys, seed

TINY_SEED_PARSER = Path(seed.__file__).parent / "builders" / "tiny-seed.sh"


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> seed.SeedConfig:
    d = tmp_path_factory.mktemp("keys")
    client = keys.generate_ed25519(d / "ssh_key", "workbench@host")
    host = keys.generate_ed25519(d / "host_key", "workbench-guest")
    return seed.SeedConfig(
        instance_id="wb-0123abcd",
        hostname="wb-demo",
        user="builder",
        authorized_key=client,
        host_private_key=(d / "host_key").read_text(),
        host_public_key=host,
        ca_bundle="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generate_writes_private_0600_in_0700_dir_and_pub(tmp_path: Path) -> None:
    private = tmp_path / "new" / "ssh_key"
    line = keys.generate_ed25519(private, "me@here")
    assert mode(private) == 0o600
    assert mode(private.parent) == 0o700
    assert private.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert line.startswith("ssh-ed25519 AAAA")
    assert line.endswith(" me@here")
    assert (tmp_path / "new" / "ssh_key.pub").read_text() == line + "\n"


def test_paramiko_loads_the_key_and_public_line_round_trips(tmp_path: Path) -> None:
    private = tmp_path / "k"
    line = keys.generate_ed25519(private, "c")
    loaded = paramiko.Ed25519Key.from_private_key_file(str(private))
    assert line.split()[1] == loaded.get_base64()
    assert keys.public_line(private) == line
    (tmp_path / "k.pub").unlink()
    assert keys.public_line(private) == line.rsplit(" ", 1)[0]


def test_public_line_of_garbage_is_a_vm_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_text("not a key")
    with pytest.raises(VmError, match="cannot read SSH private key"):
        keys.public_line(bad)


def test_user_data_is_cloud_config_with_the_contract_keys(cfg: seed.SeedConfig) -> None:
    text = seed.user_data(cfg)
    assert text.startswith("#cloud-config\n")
    data = yaml.safe_load(text)
    (user,) = data["users"]
    assert user["name"] == "builder"
    assert user["sudo"] == "ALL=(ALL) NOPASSWD:ALL"
    assert user["ssh_authorized_keys"] == [cfg.authorized_key]
    assert data["ssh_authorized_keys"] == [cfg.authorized_key]
    assert data["disable_root"] is False
    assert data["ssh_deletekeys"] is True
    assert data["ssh_genkeytypes"] == ["ed25519"]
    assert data["ssh_keys"]["ed25519_private"] == cfg.host_private_key
    assert data["ssh_keys"]["ed25519_public"] == cfg.host_public_key
    assert data["locale"] == "C.UTF-8"
    assert data["manage_etc_hosts"] is True
    assert data["ca_certs"]["trusted"] == [cfg.ca_bundle]


def test_ca_certs_only_when_given(cfg: seed.SeedConfig) -> None:
    plain = seed.SeedConfig(**{**cfg.__dict__, "ca_bundle": None})
    assert "ca_certs" not in yaml.safe_load(seed.user_data(plain))


def test_meta_data(cfg: seed.SeedConfig) -> None:
    assert yaml.safe_load(seed.meta_data(cfg)) == {
        "instance-id": "wb-0123abcd",
        "local-hostname": "wb-demo",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("user", "root"),
        ("user", "x; rm -rf /"),
        ("hostname", "bad_host"),
        ("instance_id", "../x"),
        ("authorized_key", "not-a-key"),
        ("host_private_key", "garbage"),
    ],
)
def test_invalid_config_is_refused(cfg: seed.SeedConfig, field: str, value: str) -> None:
    with pytest.raises(UsageError, match=f"invalid seed {field}"):
        seed.SeedConfig(**{**cfg.__dict__, field: value})


def test_iso_reads_back_with_label_and_files(cfg: seed.SeedConfig, tmp_path: Path) -> None:
    path = tmp_path / "seed.iso"
    seed.write_seed_iso(cfg, path)
    assert mode(path) == 0o600
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        assert iso.pvd.volume_identifier.decode().strip() == "cidata"
        for name, expected in seed.seed_files(cfg).items():
            for kwargs in ({"rr_path": f"/{name}"}, {"joliet_path": f"/{name}"}):
                out = io.BytesIO()
                iso.get_file_from_iso_fp(out, **kwargs)
                assert out.getvalue() == expected
    finally:
        iso.close()


@pytest.mark.parametrize(
    "field", ["user", "authorized_keys", "host_private_key", "host_public_key"]
)
def test_tiny_guest_parser_reads_the_same_user_data(
    cfg: seed.SeedConfig, tmp_path: Path, field: str
) -> None:
    expected = {
        "user": cfg.user + "\n",
        "authorized_keys": cfg.authorized_key + "\n",
        "host_private_key": cfg.host_private_key,
        "host_public_key": cfg.host_public_key + "\n",
    }[field]
    user_data = tmp_path / "user-data"
    user_data.write_text(seed.user_data(cfg))
    out = subprocess.run(
        ["busybox", "sh", str(TINY_SEED_PARSER), field, str(user_data)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == expected
