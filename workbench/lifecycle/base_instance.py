"""The saved base instance of each image: made once (cold boot), then copied for every new project.

The first time a base image (at a given memory and CPU count) is used, a *base instance* is
booted cold (cloud-init), its package lists are refreshed (``apt-get update``), the workbench is
injected, and it is stopped with a saved state; a later workbench version is injected into it the
same way (a warm start, then saved again). It has the read-only wheelhouse share that every build
instance has (a saved state only loads into the same set of 9p devices). A new project's instance
is then a copy of that instance directory (overlay with the saved state, seed, keys, pinned host
key) recorded as saved for the new project, so its first boot is a warm start instead of a cold
boot. Copying, not layering: a qemu saved state lives inside the top qcow2 image and cannot be
loaded through a backing file. Base instances live in ``cache_dir()/bases`` (``clean`` of a
project never touches them).
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from workbench import dirs
from workbench.errors import VmError
from workbench.files import write_atomic
from workbench.lifecycle import wheelhouse
from workbench.lifecycle.wheelhouse import Wheelhouse
from workbench.vm import teardown
from workbench.vm.config import InstanceConfig
from workbench.vm.images import ensure_image
from workbench.vm.local import Instance
from workbench.vm.lock import LockHeld
from workbench.vm.state import InstanceDir, Phase, Status

REFRESH = ["sh", "-c", "apt-get update -q || echo 'workbench: apt-get update failed' >&2"]


LEFT_HALF_MADE = frozenset({Status.STOPPED, Status.FAILED, Status.CRASHED, Status.BROKEN})
"""What a base instance whose making failed is left as (its logs kept until it is made again)."""


def bases_root() -> Path:
    return dirs.cache_dir() / "bases"


def base_name(image: str, memory_mib: int, cpus: int) -> str:
    """The base instance's name: one per image, memory and CPU count (a saved state needs all)."""
    return f"{image}-{memory_mib}M-{cpus}cpu"


def ensure_base(
    image: str,
    *,
    memory_mib: int,
    cpus: int,
    house: Wheelhouse,
    notify: Callable[[str], None],
) -> InstanceDir:
    """The saved base instance of ``image``, made now (a cold boot) if there is none.

    When ``house`` holds another release than this workbench (``--workbench-version``), a saved
    base with any workbench will do: the build injects that release into its own copy.
    """
    boot = ensure_image(image)
    home = bases_root() / base_name(image, memory_mib, cpus)
    home.mkdir(parents=True, exist_ok=True)
    config = InstanceConfig(image=boot, memory=memory_mib, cpus=cpus, shares=wheelhouse.share())
    base = Instance(home, config, notify=notify, instances=bases_root() / "instances")
    state = base.dir.load_state() if base.dir.state_file.exists() else None
    if state is not None and state.base_sha256 != boot.sha256:
        notify(f"the base instance of {image} predates its current build: making it again")
        base.clean()
    elif state is not None and base.dir.status() in LEFT_HALF_MADE and not _in_use(base.dir):
        notify(f"the base instance of {image} was left half-made by an earlier attempt: redoing it")
        base.clean()
    marker = base.dir.injected_marker
    saved = base.dir.status() is Status.SAVED
    if (
        saved
        and marker.exists()
        and (not house.guest.running or marker.read_text().strip() == house.key)
    ):
        return base.dir
    if saved:
        notify(f"updating the base instance of {image} to workbench {house.key}")
    else:
        notify(f"first use of {image}: a cold boot, apt-get update, inject, saved state")
    try:
        base.up()
        if not saved:
            base.exec(REFRESH, timeout=900)
        wheelhouse.inject(base, house)
        write_atomic(base.dir.injected_marker, house.key + "\n")
        base.down(save=True)
    except LockHeld:
        raise  # another build is making this base: leave it alone
    except BaseException:
        # a half-made base is made again next time; until then its logs stay to be read
        base.close()
        teardown.kill(base.dir)
        raise
    return base.dir


def _in_use(d: InstanceDir) -> bool:
    """Whether a live process holds the instance's lock (another build making this base)."""
    holder = d.lock.holder()
    return holder is not None and holder.alive()


def seed_instance(base: InstanceDir, target: InstanceDir, project: Path) -> None:
    """Make ``target`` (no state yet) a copy of the saved ``base``, recorded for ``project``.

    Under a lock, so two builds of one project copy once; the files are copied into a private
    staging directory and renamed into place, and ``instance.json`` is written last: an
    interrupted copy leaves no instance, only a staging directory the next copy replaces. The
    copy is marked for re-keying (:mod:`workbench.vm.rekey`) on its first start.
    """
    state = base.load_state()
    if state is None or state.state is not Phase.SAVED:
        raise VmError(f"base instance {base.root} has no saved state", hint="delete it")
    target.create()
    with (target.root / ".seed.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.state_file.exists():
            return  # another build copied it while this one waited
        staging = target.root / ".seed.new"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        files = [base.overlay, base.seed_iso, base.known_hosts, base.injected_marker]
        for key in (base.ssh_key, base.host_key):
            files += [key, key.with_suffix(".pub")]
        for path in files:
            if path.exists():
                shutil.copy2(path, staging / path.name)
        write_atomic(staging / target.rekey_marker.name, "the keys are the base's\n")
        for path in staging.iterdir():
            path.replace(target.root / path.name)
        staging.rmdir()
        target.save_state(replace(state, project=str(project), pid=None, pid_start=None, port=None))
