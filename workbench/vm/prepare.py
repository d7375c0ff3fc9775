"""Preparing an instance directory for a launch: keys, seed ISO, overlay and its checks.

On the first launch :func:`prepare` makes the instance's login key and guest host key, the
cloud-init seed carrying them, and a qcow2 overlay over the base image (sized as asked). On later
launches it refuses an instance made from another build of its image, re-points an overlay whose
base image moved (same sha256), refuses an overlay that fails ``qemu-img check`` (qemu-img's
words go to ``qemu.log``, so the diagnosis and ``vm logs`` show them) and grows the disk to the
size asked for (a disk never shrinks).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from workbench.errors import UsageError, VmError
from workbench.vm import keys, qemu, seed
from workbench.vm.config import InstanceConfig
from workbench.vm.images import BootImage
from workbench.vm.state import InstanceDir, InstanceState

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def prepare(
    d: InstanceDir,
    image: BootImage,
    config: InstanceConfig,
    *,
    project: Path,
    notify: Callable[[str], None],
) -> InstanceState:
    """Keys, seed ISO and overlay (first launch only); the state to launch with (recording what
    the image stands in for when ``config`` says so)."""
    state = d.load_state()
    if state is not None and state.base_sha256 != image.sha256:
        raise VmError(
            f"instance {d.name} was created from another build of image {state.image!r}",
            hint="run `vm clean` then `vm up` to recreate it on the current image",
        )
    if not d.ssh_key.exists():
        keys.generate_ed25519(d.ssh_key, f"workbench@{d.name}")
    if not d.host_key.exists():
        keys.generate_ed25519(d.host_key, f"host@{d.name}")
    if not d.seed_iso.exists():
        write_seed(d, image)
    if state is not None and d.overlay.exists():
        try:
            recorded = qemu.backing_file(d.overlay)
        except VmError:
            recorded = None  # unreadable: the launch fails on it and diagnoses it
        if recorded is not None and Path(recorded) != image.disk and image.disk.exists():
            # Same sha256 (checked above), another path: the image was rebuilt or the cache
            # moved. Re-point the overlay instead of failing on a stale backing path.
            notify(f"the base image of {d.name} moved: using {image.disk}")
            qemu.repoint_overlay(d.overlay, image.disk)
    if state is None:
        if not d.overlay.exists():
            qemu.create_overlay(d.overlay, image.disk, _disk_mib(config, image, None))
        state = InstanceState(
            project=str(project),
            image=image.name,
            base_sha256=image.sha256,
            memory_mib=config.memory_mib,
            cpus=config.cpus,
            disk_mib=qemu.virtual_mib(d.overlay),
        )
    else:
        state = _checked_disk(d, image, config, state, notify)
    stand_in_for = config.stand_in_for or state.stand_in_for
    return replace(state, memory_mib=config.memory_mib, cpus=config.cpus, stand_in_for=stand_in_for)


def write_seed(d: InstanceDir, image: BootImage) -> None:
    """The seed ISO of ``d`` with its user key and host key."""
    hostname = re.sub(r"[^A-Za-z0-9-]+", "-", d.name)[:63].strip("-") or "workbench"
    cfg = seed.SeedConfig(
        instance_id=d.name,
        hostname=hostname,
        user=image.user,
        authorized_key=keys.public_line(d.ssh_key),
        host_private_key=d.host_key.read_text(encoding="ascii"),
        host_public_key=keys.public_line(d.host_key),
        ca_bundle=host_ca_bundle() if uses_cloud_init(image) else None,
    )
    seed.write_seed_iso(cfg, d.seed_iso)


def _disk_mib(config: InstanceConfig, image: BootImage, current: int | None) -> int | None:
    """The disk size asked for, if any; never below the base image's or the current size."""
    asked = config.disk_mib
    if asked is None:
        return None
    floor = max(qemu.virtual_mib(image.disk), current or 0)
    if asked < floor:
        raise UsageError(
            f"disk size {asked} MiB is below this instance's minimum of {floor} MiB"
            " (the base image's size, or the disk's current size: a disk never shrinks)",
            hint=f"use --disk-size {floor}M or more, or `vm clean` for a new disk",
        )
    return asked


def _checked_disk(
    d: InstanceDir,
    image: BootImage,
    config: InstanceConfig,
    state: InstanceState,
    notify: Callable[[str], None],
) -> InstanceState:
    """``state`` once its overlay passed ``qemu-img check`` and grew to the size asked for."""
    problem = qemu.check_disk(d.overlay)
    if problem:
        d.qemu_log.write_text(problem + "\n", encoding="utf-8")
        brief = f"the disk of instance {d.name} failed its check: {problem.splitlines()[0]}"
        raise d.diagnosed(VmError(brief))
    current = qemu.virtual_mib(d.overlay)
    wanted = _disk_mib(config, image, current)
    if wanted is not None and wanted > current:
        qemu.grow_overlay(d.overlay, wanted)
        notify(f"grew the disk of {d.name} from {current} to {wanted} MiB")
    return replace(state, disk_mib=wanted or current)


def uses_cloud_init(image: BootImage) -> bool:
    """Whether the guest runs cloud-init, the only reader of the seed's ``ca_certs`` (the tiny
    guest's seed parser would only pay for scanning a 200 KiB bundle on every boot)."""
    return image.ready_command[:1] == ["cloud-init"]


def host_ca_bundle() -> str | None:
    """The host's trusted CA bundle, for guest HTTPS behind TLS-inspecting proxies."""
    try:
        return HOST_CA_BUNDLE.read_text(encoding="utf-8")
    except OSError:
        return None
