"""Shared fixtures of the VM runtime tests: the tiny image, a private cache, booted instances.

Images come from the real cache (built once per machine by ``ensure_image``); instances live in a
per-module temporary cache whose ``images`` entry links to the real images directory, so the
Python API and ``python -m workbench`` subprocesses see the same instances. Booting is the costly
part under TCG, so modules share one booted guest where that does not weaken a test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from workbench import dirs
from workbench.progress import ProgressListener, ignore
from workbench.vm import keys
from workbench.vm.config import InstanceConfig, Timeouts
from workbench.vm.hostkeys import HostKeyChanged
from workbench.vm.images import BootImage, ensure_image
from workbench.vm.local import Instance
from workbench.vm.ssh import SshExecutor
from workbench.vm.state import InstanceDir
from workbench.vm.teardown import clean_instances

MACHINE_CACHES = ("images", "wheelhouse", "bases")
"""Machine-level caches (base images, wheels, saved base instances) a test cache links to."""
GUEST_MEMORY = "384M"
FAST = Timeouts(banner=120, ready=120, powerdown=20)


@pytest.fixture(scope="session")
def tiny_image() -> BootImage:
    return ensure_image("tiny")


@dataclass
class VmEnv:
    """A private cache root (instances, accel verdict) sharing the real base images."""

    cache: Path
    notices: list[str] = field(default_factory=list)

    def project(self, name: str, files: dict[str, str] | None = None) -> Path:
        path = self.cache.parent / "projects" / name
        path.mkdir(parents=True, exist_ok=True)
        for rel, text in (files or {}).items():
            (path / rel).write_text(text, encoding="utf-8")
        return path

    def instance(
        self,
        project: Path,
        image: str | BootImage,
        *,
        listener: ProgressListener = ignore,
        instances: Path | None = None,
        **settings: Any,
    ) -> Instance:
        """``project``'s instance of ``image``; ``settings``: :class:`InstanceConfig` fields
        (small and fast by default)."""
        settings = {"memory": GUEST_MEMORY, "cpus": 1, "timeouts": FAST, **settings}
        config = InstanceConfig(image=image, **settings)
        return Instance(
            project, config, listener=listener, notify=self.notices.append, instances=instances
        )

    def cli(
        self, project: Path, *args: str, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """``python -m workbench vm --project PROJECT ARGS`` with this cache."""
        return subprocess.run(
            [sys.executable, "-m", "workbench", "vm", "--project", str(project), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "WORKBENCH_CACHE_DIR": str(self.cache)},
            check=False,
        )


@contextmanager
def build_cache(root: Path) -> Iterator[Path]:
    """``root/cache``, a private cache (instances, project copies) linking the machine's images,
    wheels and saved base instances, as ``WORKBENCH_CACHE_DIR`` while the block runs (keep
    ``root`` short: unix socket paths live under it)."""
    real = dirs.cache_dir()
    cache = root / "cache"
    cache.mkdir()
    for name in MACHINE_CACHES:
        (real / name).mkdir(parents=True, exist_ok=True)
        (cache / name).symlink_to(real / name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_CACHE_DIR", str(cache))
        yield cache


@contextmanager
def private_cache(root: Path, *, machine_images: bool = True) -> Iterator[VmEnv]:
    """A :class:`VmEnv` on ``root/cache``, ``WORKBENCH_CACHE_DIR`` while the block runs: its
    ``images`` a link to the machine's (``machine_images``) or its own, empty (an image is then
    built from scratch); every instance in it is cleaned at the end."""
    cache = root / "cache"
    cache.mkdir()
    if machine_images:
        real_images = dirs.images_dir()
        real_images.mkdir(parents=True, exist_ok=True)
        (cache / "images").symlink_to(real_images)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_CACHE_DIR", str(cache))
        try:
            yield VmEnv(cache)
        finally:
            clean_instances()


@pytest.fixture(scope="module")
def vm_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmEnv]:
    with private_cache(tmp_path_factory.mktemp("vm")) as env:
        yield env


def assert_another_host_key_is_refused(d: InstanceDir, port: int, tmp_path: Path) -> None:
    """A login whose known_hosts pins another key for the guest's address is refused."""
    other = keys.generate_ed25519(tmp_path / "other", "impostor")
    wrong = tmp_path / "wrong_known_hosts"
    wrong.write_text(f"[127.0.0.1]:{port} {' '.join(other.split()[:2])}\n")
    impostor = SshExecutor(port=port, user="root", key=d.ssh_key, known_hosts=wrong)
    with pytest.raises(HostKeyChanged):
        impostor.connect(timeout=30)
