"""A private workbench cache for real builds (a pytest plugin: the module-scoped ``build_env``
fixture) and what the build tests share: running ``python -m workbench build`` and ``vm``
commands in it, and opening a packed snap.

The private cache links the machine-level caches (base images, wheelhouses, saved base
instances) of the real one, so a test run builds each of them at most once; its instances are
its own, and the project's VM is cleaned when the module ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from workbench import dirs
from workbench.lifecycle.events import Payload
from workbench.lifecycle.wire import read_events
from workbench.vm import InstanceDir
from workbench.vm.builders import elf

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "build"
ARCH_EXAMPLES = EXAMPLES.parent / "architectures"
BUILD_TIMEOUT = 1800
SHARED = ("images", "wheelhouse", "bases")
"""Machine-level caches the private test cache shares with the real one."""


@dataclass
class BuildEnv:
    cache: Path
    project: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "WORKBENCH_CACHE_DIR": str(self.cache)}

    @property
    def instance(self) -> InstanceDir:
        return InstanceDir.for_project(self.project, instances=self.cache / "instances")

    def use(self, example: str | Path) -> Path:
        """Make the project directory hold ``example`` (a directory of examples/build by name,
        or any project directory; same path: same VM)."""
        for child in self.project.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        source = example if isinstance(example, Path) else EXAMPLES / example
        shutil.copytree(source, self.project, dirs_exist_ok=True)
        return self.project

    def build(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "workbench", "build", *args],
            capture_output=True,
            text=True,
            cwd=cwd or self.project,
            env={**self.env, **(env or {})},
            timeout=BUILD_TIMEOUT,
            check=False,
        )

    def vm(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """``workbench vm exec`` in the project's VM."""
        return self.vm_command("exec", "--", *argv)

    def vm_command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``workbench vm ARGS`` on the project's VM."""
        cli = [sys.executable, "-m", "workbench", "vm", "--project", str(self.project)]
        return subprocess.run(
            [*cli, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=300,
            check=False,
        )

    def running(self, example: str = "c-make") -> Path:
        """The project holding ``example``, its VM up (a pull starts it when it is not)."""
        project = self.use(example)
        pulled = self.build("--step", "pull")
        assert pulled.returncode == 0, pulled.stderr
        return project

    def saved(self, example: str = "c-make") -> Path:
        """The project holding ``example``, its VM stopped with a saved state."""
        project = self.running(example)
        down = self.vm_command("down", "--save")
        assert down.returncode == 0, down.stderr
        return project

    def clean(self, inside: Path | None = None) -> subprocess.CompletedProcess[str]:
        """``workbench clean`` of the project (named by ``inside``, a directory in it)."""
        return subprocess.run(
            [sys.executable, "-m", "workbench", "clean", str(inside or self.project)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=300,
            check=False,
        )

    def fresh(self) -> None:
        """No VM for the project: the next build starts from the image's saved base."""
        done = self.clean()
        assert done.returncode == 0, done.stderr

    def events(self) -> list[Payload]:
        return [e.payload for e in read_events(self.instance.root / "events.jsonl")]


@pytest.fixture(scope="module")
def build_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuildEnv]:
    real = dirs.cache_dir()
    for shared in SHARED:
        (real / shared).mkdir(parents=True, exist_ok=True)
    cache = tmp_path_factory.mktemp("b") / "c"  # short: a VM's QMP socket path fits 107 bytes
    cache.mkdir()
    for shared in SHARED:
        (cache / shared).symlink_to(real / shared)
    project = tmp_path_factory.mktemp("project") / "proj"
    project.mkdir()
    env = BuildEnv(cache, project)
    try:
        yield env
    finally:
        env.clean()


def unsquash(snap: Path, into: Path) -> dict[str, object]:
    subprocess.run(["unsquashfs", "-q", "-d", str(into), str(snap)], check=True, timeout=120)
    data: dict[str, object] = yaml.safe_load((into / "meta" / "snap.yaml").read_text())
    return data


def elf_machine(program: Path) -> int:
    """The ELF machine of ``program`` (62: x86-64, 183: aarch64), read from its header."""
    return elf.parse_elf(program.read_bytes()).machine
