"""Ending instances: stopping a qemu process group, destroying instance directories.

:func:`destroy` kills an instance's qemu (found through its state file, else through the lock
file, which the launcher hands to qemu) and deletes the directory; :func:`clean_instances` and
:func:`clean_everything` do it for every instance, the latter for the cached base images too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from pathlib import Path

from workbench import dirs
from workbench.errors import VmError
from workbench.vm.lock import ProcessRef
from workbench.vm.qmp import shutdown, wait_exit
from workbench.vm.state import InstanceDir


def stop_group(pid: int, grace: float) -> None:
    """SIGTERM the process group led by ``pid`` (qemu starts its own), SIGKILL after ``grace``
    seconds; wait until the leader is gone."""
    ref = ProcessRef.of(pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    if ref is not None and not wait_exit(ref, grace):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        wait_exit(ref, 5.0)


def destroy(d: InstanceDir) -> None:
    """Kill the qemu of instance directory ``d`` if it runs (:func:`kill`), then delete the
    directory."""
    kill(d)
    shutil.rmtree(d.root, ignore_errors=True)


def kill(d: InstanceDir) -> None:
    """Stop the qemu of instance directory ``d`` at once if it runs; the files stay.

    A corrupt or truncated ``instance.json`` does not stop it: the lock file names the running
    qemu too (the launcher hands the lock to it).
    """
    try:
        state = d.load_state()
    except VmError:
        state = None
    ref = state.qemu if state is not None else None
    if ref is None or not ref.alive():
        ref = d.lock.holder()
        if ref is not None and not _is_qemu(ref.pid):
            ref = None  # a launcher still starting: it fails once its directory is gone
    if ref is not None and ref.alive():
        shutdown(d.qmp_socket, ref, powerdown_timeout=0, quit_timeout=5)


def _is_qemu(pid: int) -> bool:
    """Whether process ``pid`` runs a qemu-system emulator."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return False
    return b"qemu-system" in argv0.rsplit(b"/", 1)[-1]


def clean_instances() -> list[str]:
    """Destroy every instance under the instances directory; say which."""
    removed = []
    root = dirs.instances_dir()
    if root.is_dir():
        for path in sorted(root.iterdir()):
            if path.is_dir():
                destroy(InstanceDir(path))
                removed.append(f"removed instance {path}")
    return removed


def clean_everything() -> list[str]:
    """Destroy every instance, then every cached base image; say what was removed."""
    removed = clean_instances()
    images = dirs.images_dir()
    if images.is_symlink():  # a link to images kept elsewhere: drop the link, not the images
        images.unlink()
        removed.append(f"removed the link {images}")
    elif images.exists():
        shutil.rmtree(images)
        removed.append(f"removed base images {images}")
    return removed
