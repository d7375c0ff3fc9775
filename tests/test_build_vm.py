"""Real builds in a real debian-12 VM under TCG, through ``python -m workbench build``.

The first build starts from the image's saved base instance (made by a cold boot the first
time the machine uses it). One project directory (so one VM, injected once) receives each example
in turn: the C program (resume after a step, the packed binary runs, the watchdog saves the idle
VM, the next build starts warm), a failing build (the VM stays up; ``--shell-after`` driven
through a pseudo-terminal enters the failing part's build directory), the template example,
example 1 of the architectures proposal, the Python app, then ``clean``. Each ``.snap`` is opened
with unsquashfs and its ``meta/snap.yaml`` and files are checked.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from workbench import dirs
from workbench.lifecycle import keepalive
from workbench.lifecycle.events import read_events
from workbench.vm import InstanceDir, Status

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "build"
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

    def use(self, example: str) -> Path:
        """Make the project directory hold ``example`` (same path: same VM)."""
        for child in self.project.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        shutil.copytree(EXAMPLES / example, self.project, dirs_exist_ok=True)
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
        cli = [sys.executable, "-m", "workbench", "vm", "--project", str(self.project)]
        return subprocess.run(
            [*cli, "exec", "--", *argv],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=300,
            check=False,
        )

    def events(self) -> list[dict[str, object]]:
        return [e.__dict__ for e in read_events(self.instance.root / "events.jsonl")]


@pytest.fixture(scope="module")
def build_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuildEnv]:
    real = dirs.cache_dir()
    for shared in SHARED:
        (real / shared).mkdir(parents=True, exist_ok=True)
    cache = tmp_path_factory.mktemp("build") / "cache"
    cache.mkdir()
    for shared in SHARED:
        (cache / shared).symlink_to(real / shared)
    project = tmp_path_factory.mktemp("project") / "proj"
    project.mkdir()
    env = BuildEnv(cache, project)
    try:
        yield env
    finally:
        subprocess.run(
            [sys.executable, "-m", "workbench", "clean", str(project)],
            env=env.env,
            capture_output=True,
            timeout=300,
            check=False,
        )


def unsquash(snap: Path, into: Path) -> dict[str, object]:
    subprocess.run(["unsquashfs", "-q", "-d", str(into), str(snap)], check=True, timeout=120)
    data: dict[str, object] = yaml.safe_load((into / "meta" / "snap.yaml").read_text())
    return data


def wait_for(predicate: object, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if callable(predicate) and predicate():
            return
        time.sleep(2)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def test_c_example_resumes_after_a_step_and_the_packed_binary_runs(
    build_env: BuildEnv, tmp_path: Path
) -> None:
    project = build_env.use("c-make")
    staged = build_env.build("--step", "stage", cwd=project / "src")
    assert staged.returncode == 0, staged.stderr
    assert not list(project.glob("*.snap"))
    events = build_env.events()
    host = [str(e["message"]) for e in events if e["kind"] == "host" and e["elapsed"] is not None]
    assert host[:2] == [
        "base: new instance: a copy of the image's saved base instance",
        "boot: warm start from the base's saved state",
    ]
    steps = [(e["step"], e["message"]) for e in events if e["kind"] == "step"]
    assert ("stage", "run") in steps
    assert "prime" not in {step for step, _ in steps}

    packed = build_env.build(env={keepalive.ENV_SUCCESS: "5"})
    assert packed.returncode == 0, packed.stderr
    snap = project / "hello-make_1.0_amd64.snap"
    assert packed.stdout.strip() == str(snap)
    events = build_env.events()
    last_run = max(i for i, e in enumerate(events) if e["kind"] == "session")
    resumed = {
        (e["step"], str(e["message"]))
        for e in events[last_run:]
        if e["kind"] == "step" and e["part"] == "hello"
    }
    assert ("pull", "skip (already ran)") in resumed
    assert ("stage", "skip (already ran)") in resumed
    assert ("prime", "run") in resumed
    meta = unsquash(snap, tmp_path / "sq")
    assert meta["name"] == "hello-make"
    assert meta["version"] == "1.0"
    assert meta["architectures"] == ["amd64"]
    assert meta["apps"] == {"hello-make": {"command": "usr/bin/hello", "plugs": ["home"]}}
    ran = subprocess.run(
        [str(tmp_path / "sq" / "usr" / "bin" / "hello")], capture_output=True, text=True, check=True
    )
    assert ran.stdout == "Hello from a workbench build!\n"
    assert "build.log" in os.listdir(build_env.instance.root)
    # idle after a success: the watchdog saves the VM 5 s after the build
    wait_for(lambda: build_env.instance.status() is Status.SAVED, 180, "the watchdog's save")


def test_failing_build_stays_up_and_shell_after_enters_the_part_dir(
    build_env: BuildEnv,
) -> None:
    project = build_env.use("c-make")
    (project / "src" / "hello.c").write_text("int main(void) { return missing; }\n")
    pid, fd = os.forkpty()
    if pid == 0:  # child: the CLI on a pseudo-terminal
        os.chdir(project)
        os.execve(
            sys.executable,
            [sys.executable, "-m", "workbench", "build", "--step", "build", "--shell-after"],
            build_env.env,
        )
    seen = b""
    sent = False
    end = time.monotonic() + BUILD_TIMEOUT
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 5)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if not sent and b"hello-make:/build/hello-make/parts/hello/build# " in seen:
            os.write(fd, b"pwd; test -f hello.c && echo WB-$((6*7)); exit\n")
            sent = True
    _, status = os.waitpid(pid, 0)
    text = seen.decode(errors="replace")
    assert sent, text[-3000:]
    assert "WB-42" in text  # the shell really is in the part's build tree, next to hello.c
    assert "/build/hello-make/parts/hello/build" in text
    assert os.waitstatus_to_exitcode(status) == 1
    assert "error: build hello:" in text
    assert "the VM stays up" in text
    assert build_env.instance.status() is Status.RUNNING
    decision = keepalive.read(build_env.instance.root)
    assert decision is not None
    assert decision.deadline - time.time() > 23 * 3600
    boots = [e for e in build_env.events() if e["kind"] == "host" and e["elapsed"] is not None]
    assert any("warm start from the saved state" in str(e["message"]) for e in boots)


def test_template_example_has_its_command_chain(build_env: BuildEnv, tmp_path: Path) -> None:
    project = build_env.use("template-chain")
    done = build_env.build("--templates-dir", "templates")
    assert done.returncode == 0, done.stderr
    root = tmp_path / "sq"
    meta = unsquash(project / "hello-chain_1.0_amd64.snap", root)
    assert meta["apps"] == {
        "hello-chain": {
            "command": "bin/hello",
            "command-chain": ["snap/command-chain/hello-chain"],
            "plugs": ["network"],
        }
    }
    chained = subprocess.run(
        [str(root / "snap" / "command-chain" / "hello-chain"), str(root / "bin" / "hello")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert chained.stdout == "hello (HELLO_CHAIN=1)\n"


def test_architectures_example_1_built_on_i386_is_multi(
    build_env: BuildEnv, tmp_path: Path
) -> None:
    project = build_env.use("arch-example-1")
    done = build_env.build("--build-on", "i386", "--build-for", "i386")
    assert done.returncode == 0, done.stderr
    meta = unsquash(project / "example-1_1.0_multi.snap", tmp_path / "sq")
    assert meta["architectures"] == ["amd64", "i386"]
    assert meta["base"] == "core18"
    assert (tmp_path / "sq" / "README").read_text().startswith("example 1")


def test_python_app_runs_from_its_venv(build_env: BuildEnv, tmp_path: Path) -> None:
    project = build_env.use("python-app")
    done = build_env.build("--export-prime")
    assert done.returncode == 0, done.stderr
    root = tmp_path / "sq"
    meta = unsquash(project / "hello-py_0.2_amd64.snap", root)
    assert meta["apps"] == {"hello-py": {"command": "bin/hello-py"}}
    assert (project / "prime" / "bin" / "hello-py").is_file()  # --export-prime
    site = next(root.glob("lib/python3*/site-packages"))
    ran = subprocess.run(
        ["python3", "-c", "import hello_py; hello_py.main()"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": os.environ["PATH"]},
        check=True,
    )
    assert ran.stdout == "Hello from Python in a snap!\n"


def test_a_part_craft_parts_refuses_points_at_the_part(build_env: BuildEnv) -> None:
    project = build_env.use("c-make")
    file = project / "snapcraft.yaml"
    file.write_text(file.read_text().replace("plugin: make", "plugin: bogus"))
    done = build_env.build("--step", "pull")
    assert done.returncode == 2, done.stderr
    first = done.stderr.strip().splitlines()[-1]
    assert first.startswith(f"{file}:16:3: error: ")
    assert "bogus" in first


def test_packages_without_a_network_are_named(build_env: BuildEnv) -> None:
    project = build_env.use("c-make")
    file = project / "snapcraft.yaml"
    file.write_text(file.read_text() + "    build-packages: [pv]\n")
    offline = (
        "cp /etc/resolv.conf /run/resolv.conf.wb && echo nameserver 127.0.0.9 > /etc/resolv.conf"
    )
    assert build_env.vm("sh", "-c", offline).returncode == 0
    try:
        done = build_env.build("--step", "build")
    finally:
        build_env.vm("cp", "/run/wb.conf", "/etc/resolv.conf")
    assert done.returncode == 1, done.stderr
    assert "packages named by the parts: pv" in done.stderr
    assert "the guest's apt needs a network" in done.stderr


def test_clean_destroys_the_vm(build_env: BuildEnv) -> None:
    root = build_env.instance.root
    assert root.exists()
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "clean", str(build_env.project / "src")],
        capture_output=True,
        text=True,
        env=build_env.env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.match(r"removed the build VM of ", done.stdout)
    assert not root.exists()
    assert build_env.instance.status() is Status.ABSENT
