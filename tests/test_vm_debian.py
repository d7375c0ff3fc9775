"""The debian-12 image with real cloud-init: up (cloud-init done), exec, 9p both ways, down."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from workbench.vm.config import Timeouts
from workbench.vm.images import ensure_image
from workbench.vm.state import Status

if TYPE_CHECKING:
    from vm_fixtures import VmEnv

pytestmark = pytest.mark.slow


def test_debian_12_with_cloud_init(vm_env: VmEnv) -> None:
    image = ensure_image("debian-12")
    project = vm_env.project("debian", {"in.txt": "from the host\n"})
    vm = vm_env.instance(
        project, image, memory="2G", cpus=2, timeouts=Timeouts(banner=300, ready=600)
    )
    try:
        vm.up()
        assert vm.dir.status() is Status.RUNNING
        status = vm.exec(["cloud-init", "status", "--long"])
        assert "status: done" in status.stdout
        result = vm.exec(["sh", "-c", "id -un; cat /project/in.txt; python3 -c 'print(6*7)'"])
        assert (result.exit_status, result.stdout) == (0, "root\nfrom the host\n42\n")
        # the host's CA bundle, installed by cloud-init's ca_certs module
        cas = vm.exec(["find", "/usr/share/ca-certificates", "/usr/local/share/ca-certificates"])
        assert "/cloud-init-ca-cert" in cas.stdout
        # the bundle holds Debian's certificates and the seeded ones (builders/debian.py)
        count = "grep -c 'BEGIN CERTIFICATE' "
        counts = vm.exec(
            [
                "sh",
                "-c",
                f"{count} /etc/ssl/certs/ca-certificates.crt;"
                f"{count} /usr/local/share/ca-certificates/debian.crt;"
                f"{count} /usr/share/ca-certificates/cloud-init-ca-certs.crt",
            ]
        )
        bundle, debian, seeded = (int(n) for n in counts.stdout.split())
        assert debian > 100
        assert seeded > 0
        assert bundle == debian + seeded
        # a build VM's boot: cloud-init's config stage and periodic apt do not run
        masked = vm.exec(["systemctl", "is-enabled", "cloud-config.service", "apt-daily.timer"])
        assert masked.stdout.split() == ["masked", "masked"]
        user = vm.exec(["id", image.user])
        assert user.exit_status == 0
        refused = vm.exec(["sh", "-c", "echo from the guest > /project/out.txt"])
        assert refused.exit_status != 0  # the project is read-only in the guest
        assert "Read-only file system" in refused.stderr
        assert not (project / "out.txt").exists()
        assert vm.exec(["sh", "-c", "exit 3"]).exit_status == 3
        assert vm.down() in ("powered down", "quit")
        assert vm.dir.status() is Status.STOPPED
    finally:
        vm.clean()
