"""The read-only wheelhouse share: its qemu device, snapshot tags, validation, and injection."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_vm_units import config  # the qemu configuration those tests use

from workbench.errors import UsageError, VmError
from workbench.lifecycle import wheelhouse
from workbench.vm import qemu
from workbench.vm.config import InstanceConfig
from workbench.vm.executor import Completed
from workbench.vm.provider import Layout
from workbench.vm.snapshots import SnapshotTag, mismatches
from workbench.vm.state import InstanceDir, InstanceState


def test_extra_shares_are_read_only_virtfs_devices_after_the_project() -> None:
    argv = qemu.qemu_argv(config(shares=(("wheelhouse", Path("/cache/wh,x")),), loadvm="warm"))
    virtfs = [argv[i + 1] for i, word in enumerate(argv) if word == "-virtfs"]
    assert virtfs == [
        "local,path=/home/me/proj,mount_tag=project,security_model=none,readonly=on,id=project",
        "local,path=/cache/wh,,x,mount_tag=wheelhouse,security_model=none,readonly=on,id=wheelhouse",
    ]
    assert argv[-2:] == ["-loadvm", "warm"]
    assert qemu.share_tags(argv) == ["project", "wheelhouse"]
    writable = qemu.qemu_argv(config(project_writable=True))
    assert qemu.share_tags(writable) == ["project"]  # the same devices: a saved state loads
    assert qemu.project_writable(writable)
    assert not qemu.project_writable(argv)
    assert qemu.share_tags(qemu.qemu_argv(config(project=None))) == []


def test_a_state_saved_with_other_9p_devices_is_not_loadable() -> None:
    with_share = SnapshotTag("a" * 64, 512, 2, "q35", "7.2.22", "project,wheelhouse")
    without = SnapshotTag("a" * 64, 512, 2, "q35", "7.2.22", "project")
    assert mismatches(with_share, without) == ["shares project,wheelhouse != project"]
    assert mismatches(with_share, with_share) == []
    old = {k: v for k, v in with_share.to_json().items() if k != "shares"}
    assert SnapshotTag.from_json(old) is None  # tagged before shares counted: never loaded


def test_instance_checks_its_shares(tmp_path: Path) -> None:
    config = InstanceConfig(shares={"wheelhouse": tmp_path / "."})
    assert config.share_list == (("wheelhouse", tmp_path.resolve()),)
    for bad in ("project", "Upper", "x" * 32, "a b"):
        with pytest.raises(UsageError, match="invalid share tag"):
            InstanceConfig(shares={bad: tmp_path})
    with pytest.raises(UsageError, match="is not a directory"):
        InstanceConfig(shares={"wheelhouse": tmp_path / "missing"})


def test_the_wheelhouse_share_is_the_cache_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    assert wheelhouse.share() == {"wheelhouse": tmp_path / "wheelhouse"}
    assert (tmp_path / "wheelhouse").is_dir()


class GuestWithoutMarker:
    """An instance whose guest has no workbench yet and whose qemu ran with ``argv``."""

    layout = Layout()

    def __init__(self, root: Path, argv: list[str]) -> None:
        self.dir = InstanceDir(root)
        self.dir.create()
        self.dir.save_state(InstanceState("/p", "debian-12", "a" * 64, 512, 1, argv=argv))
        self.commands: list[list[str]] = []

    def exec(self, argv: list[str], **_options: object) -> Completed:
        self.commands.append(argv)
        return Completed(argv, 0 if argv[0] == "sh" else 1, "", "")


def test_inject_needs_the_share_in_the_running_vm(
    tmp_path: Path, fake_wheelhouse: wheelhouse.Wheelhouse
) -> None:
    house = fake_wheelhouse
    without = GuestWithoutMarker(tmp_path / "a", qemu.qemu_argv(config()))
    with pytest.raises(VmError, match="was started without the wheelhouse share"):
        wheelhouse.inject(without, house)  # type: ignore[arg-type]
    assert without.commands == [["cat", wheelhouse.GUEST.marker]]  # nothing installed
    argv = qemu.qemu_argv(config(shares=(("wheelhouse", tmp_path),)))
    with_share = GuestWithoutMarker(tmp_path / "b", argv)
    assert wheelhouse.inject(with_share, house)  # type: ignore[arg-type]
    assert with_share.commands[-1][:2] == ["sh", "-c"]
