"""Real builds in a real debian-12 VM under TCG, through ``python -m workbench build``.

The first build starts from the image's saved base instance (made by a cold boot the first
time the machine uses it). One project directory (so one VM, injected once) receives each example
in turn: the C program (resume after a step, the packed binary runs, the watchdog saves the idle
VM, the next build starts warm), a failing build (the VM stays up; ``--shell-after`` driven
through a pseudo-terminal enters the failing part's build directory as the build user), the
template example, example 1 of the architectures proposal, a cross build for arm64
(``--build-for arm64``: the snap's program is aarch64 code, by its ELF header) and the native
one, the Python app, the plugins tour (nil, autotools, cmake with apt build-packages,
stage-packages, ``after``, every override) with ``--shell``, ``--debug`` and ``--part`` driven
through a pseudo-terminal, then ``clean``. Each ``.snap`` is opened with unsquashfs and its
``meta/snap.yaml`` and files are checked.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from build_env import BUILD_TIMEOUT, BuildEnv, elf_machine, unsquash

from workbench.errors import VmError
from workbench.lifecycle import guest_workbench, keepalive
from workbench.lifecycle.events import (
    Done,
    HostFinished,
    HostSkipped,
    Payload,
    SessionStarted,
    StepFinished,
    StepPayload,
    StepStarted,
    Timing,
    Unparsed,
)
from workbench.lifecycle.guest_workbench import from_tree
from workbench.lifecycle.wheelhouse import GUEST
from workbench.vm import Status, watchdog
from workbench.vm.arch import ARCHS
from workbench.vm.ssh import SshExecutor

pytestmark = pytest.mark.slow


def drive_shell(
    env: BuildEnv, args: Sequence[str], prompt: bytes, command: bytes
) -> tuple[str, int, bool]:
    """``workbench build ARGS`` on a pseudo-terminal; type ``command`` once ``prompt`` shows.

    The terminal text, the exit code, and whether the prompt came.
    """
    pid, fd = os.forkpty()
    if pid == 0:  # child: the CLI on a pseudo-terminal
        os.chdir(env.project)
        argv = [sys.executable, "-m", "workbench", "build", *args]
        os.execve(sys.executable, argv, env.env)
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
        if not sent and prompt in seen:
            os.write(fd, command)
            sent = True
    _, status = os.waitpid(pid, 0)
    return seen.decode(errors="replace"), os.waitstatus_to_exitcode(status), sent


def session_events(env: BuildEnv) -> list[Payload]:
    """The events of the last session in the instance's event stream."""
    events = env.events()
    last = max(i for i, e in enumerate(events) if isinstance(e, SessionStarted))
    return events[last:]


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
    build_env.fresh()
    staged = build_env.build("--step", "stage", cwd=project / "src")
    assert staged.returncode == 0, staged.stderr
    assert not list(project.glob("*.snap"))
    events = build_env.events()
    host = [f"{e.action}: {e.reason}" for e in events if isinstance(e, HostFinished)]
    assert host[:2] == [
        "base: new instance: a copy of the image's saved base instance",
        "boot: warm start from the base's saved state",
    ]
    steps = [(e.step, e.summary) for e in events if isinstance(e, StepPayload)]
    assert ("stage", "run") in steps
    assert "prime" not in {step for step, _ in steps}

    packed = build_env.build(env={keepalive.ENV_SUCCESS: "5"})
    assert packed.returncode == 0, packed.stderr
    snap = project / "hello-make_1.0_amd64.snap"
    assert packed.stdout.strip() == str(snap)
    events = build_env.events()
    last_run = max(i for i, e in enumerate(events) if isinstance(e, SessionStarted))
    resumed = {
        (e.step, e.summary)
        for e in events[last_run:]
        if isinstance(e, StepPayload) and e.part == "hello"
    }
    assert ("pull", "skip (already ran)") in resumed
    assert ("stage", "skip (already ran)") in resumed
    assert ("prime", "run") in resumed
    # where the time went: one timing event just before the end, phase for phase
    session = events[last_run:]
    timing = session[-2]
    assert isinstance(timing, Timing)
    assert isinstance(session[-1], Done)
    ran_host = [e.action for e in session if isinstance(e, HostFinished)]
    assert [p.name for p in timing.phases if p.within is None] == ran_host
    assert "lifecycle" in ran_host
    assert "pack" in ran_host
    ran_steps = [e.where for e in session if isinstance(e, StepFinished)]
    inside = [p.name for p in timing.phases if p.within in ("lifecycle", "pack")]
    assert [name for name in inside if name != "other"] == ran_steps
    assert "prime hello" in ran_steps
    assert timing.seconds("lifecycle") <= timing.total
    assert "timing (total" in packed.stderr
    assert "prime hello" in packed.stderr
    meta = unsquash(snap, tmp_path / "sq")
    assert meta["name"] == "hello-make"
    assert meta["version"] == "1.0"
    assert meta["architectures"] == ["amd64"]
    assert meta["apps"] == {"hello-make": {"command": "usr/bin/hello", "plugs": ["home"]}}
    ran = subprocess.run(
        [str(tmp_path / "sq" / "usr" / "bin" / "hello")], capture_output=True, text=True, check=True
    )
    assert ran.stdout == "Hello from a workbench build!\n"
    assert stat.S_IMODE(snap.stat().st_mode) == 0o644  # not a root-only file
    owners = build_env.vm("sh", "-c", "find /build/hello-make ! -user workbench")
    assert owners.returncode == 0, owners.stderr
    assert owners.stdout == ""  # parts/, stage/, prime/ all belong to the build user
    assert "build.log" in os.listdir(build_env.instance.root)
    # idle after a success: the watchdog saves the VM 5 s after the build
    wait_for(lambda: build_env.instance.status() is Status.SAVED, 180, "the watchdog's save")


def test_failing_build_stays_up_and_shell_after_enters_the_part_dir(
    build_env: BuildEnv,
) -> None:
    project = build_env.saved("c-make")  # so this build starts warm from the saved state
    (project / "src" / "hello.c").write_text("int main(void) { return missing; }\n")
    text, code, sent = drive_shell(
        build_env,
        ["--step", "build", "--shell-after"],
        b"hello-make:/build/hello-make/parts/hello/build$ ",  # $: the build user, not root
        b"pwd; test -f hello.c && echo WB-$((6*7)) $(id -un); exit\n",
    )
    assert sent, text[-3000:]
    assert "WB-42 workbench" in text  # in the part's build tree, next to hello.c, as workbench
    assert "/build/hello-make/parts/hello/build" in text
    assert code == 1
    assert "error: build hello:" in text
    assert "the VM stays up" in text
    assert build_env.instance.status() is Status.RUNNING
    decision = watchdog.read(build_env.instance.root)
    assert decision is not None
    assert decision.deadline - time.time() > 23 * 3600
    boots = [e for e in build_env.events() if isinstance(e, HostFinished)]
    assert any("warm start from the saved state" in e.reason for e in boots)


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


def test_a_cross_build_for_arm64_runs_in_the_amd64_vm(build_env: BuildEnv, tmp_path: Path) -> None:
    project = build_env.use("cross-arm64")
    built = build_env.build("--build-for", "arm64", env={"WORKBENCH_OFFLINE": "1"})
    assert built.returncode == 0, built.stderr[-3000:]
    snap = project / "hello-cross_1.0_arm64.snap"
    meta = unsquash(snap, tmp_path / "arm64")
    assert meta["architectures"] == ["arm64"]
    assert (
        elf_machine(tmp_path / "arm64" / "usr" / "bin" / "hello-cross")
        == ARCHS["arm64"].elf_machine
    )
    assert "in debian-12 (stand-in for Ubuntu 22.04)" in built.stderr
    native = build_env.build(env={"WORKBENCH_OFFLINE": "1"})
    assert native.returncode == 0, native.stderr[-3000:]
    meta = unsquash(project / "hello-cross_1.0_amd64.snap", tmp_path / "amd64")
    assert meta["architectures"] == ["amd64"]
    assert (
        elf_machine(tmp_path / "amd64" / "usr" / "bin" / "hello-cross")
        == ARCHS["amd64"].elf_machine
    )


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
    # a property only the make plugin's own schema checks (explode refuses unknown plugins)
    text = file.read_text().replace("make-parameters: [PREFIX=/usr]", "make-parameters: 5")
    file.write_text(text)
    done = build_env.build("--step", "pull")
    assert done.returncode == 2, done.stderr
    first = done.stderr.strip().splitlines()[-1]
    assert first.startswith(f"{file}:16:3: error: ")
    assert "Part 'hello'" in first


FORGED_BUILD = r"""
    override-build: |
      p=$$  # the guest runner, whose stdout is the event stream: a hostile build writes there
      until tr '\0' ' ' < /proc/$p/cmdline | grep -q 'workbench[.]lifecycle[.]guest'; do
        p=$(cut -d' ' -f4 /proc/$p/stat)
        [ "$p" -gt 1 ] || exit 4
      done
      e='@workbench-event'
      a='"action": "\u001b]0;pwned\u0007"'
      {
        printf '%s\n' "$e"' {"v": 1, "kind": "done", "operation": "x", "ok": true, "elapsed": 0}'
        printf '%s\n' "$e"' {"v": 1, "kind": "step-started", "step": "build", "part": [1]}'
        printf '%s\n' "$e"' {"v": 1, "kind": "step-started", "step": "build", '"$a"'}'
        printf '%s\n' "$e"' [[[['
        printf '\033[2J\302\233 plain <b>output</b> ok\rFAILED\n'
        printf '%s\n' "$e"' {"v": 1, "kind": "error", "brief": "x\u001b[2J", "hint": "\u0007"}'
      } > /tmp/forged
      # the runner's stdout is the root-owned SSH pipe: reopening it needs root, which the
      # build user gets with sudo (as any build step can)
      sudo sh -c "cat /tmp/forged > /proc/$p/fd/1"
      exit 3
"""


def test_forged_guest_events_are_shown_as_data(build_env: BuildEnv) -> None:
    """A build that writes forged event lines into the guest runner's own stdout."""
    project = build_env.use("c-make")
    file = project / "snapcraft.yaml"
    file.write_text(file.read_text() + FORGED_BUILD)
    done = build_env.build("--step", "build")
    assert done.returncode == 1, done.stderr
    unsafe = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
    assert not unsafe.search(done.stderr), done.stderr
    assert "error: x\\x1b[2J (\\x07; the VM stays up" in done.stderr
    events = session_events(build_env)
    assert [e.ok for e in events if isinstance(e, Done)] == [False]
    shown = [e.line() for e in events if isinstance(e, Unparsed)]
    assert any('unexpected event kind "done"' in m for m in shown)
    assert any("malformed step-started event: part: not text" in m for m in shown)
    assert any(m.startswith("workbench: not an event: [[[[") for m in shown)
    assert any("\\x1b]0;pwned\\x07" in e.action for e in events if isinstance(e, StepStarted))
    log = (build_env.instance.root / "build.log").read_text()
    assert "\\x1b[2J\\x9b plain <b>output</b> ok\\x0dFAILED" in log
    assert not unsafe.search(log.replace("\n", "").replace("\t", ""))


def test_packages_without_a_network_are_named(build_env: BuildEnv) -> None:
    project = build_env.running("c-make")
    file = project / "snapcraft.yaml"
    file.write_text(file.read_text() + "    build-packages: [pv]\n")
    offline = (
        "cp /etc/resolv.conf /run/resolv.conf.wb && echo nameserver 127.0.0.9 > /etc/resolv.conf"
    )
    assert build_env.vm("sh", "-c", offline).returncode == 0
    try:
        done = build_env.build("--step", "build")
    finally:
        restored = build_env.vm("cp", "/run/resolv.conf.wb", "/etc/resolv.conf")
        assert restored.returncode == 0, restored.stderr  # later tests need the guest's DNS
    assert done.returncode == 1, done.stderr
    assert "packages named by the parts: pv" in done.stderr
    assert "the guest's apt needs a network" in done.stderr


def test_plugins_tour_builds_every_plugin_and_override(build_env: BuildEnv, tmp_path: Path) -> None:
    project = build_env.use("plugins-tour")
    # A disk grows only while qemu is stopped, and a warm start would bring back the saved
    # state's disk size: stop without saving, so this build cold-boots on the grown disk.
    stopped = build_env.vm_command("down")
    assert stopped.returncode == 0, stopped.stderr
    done = build_env.build("--disk-size", "10G")
    assert done.returncode == 0, done.stderr
    snap = project / "plugins-tour_0.3_amd64.snap"
    assert done.stdout.strip() == str(snap)
    assert stat.S_IMODE(snap.stat().st_mode) == 0o644
    root = tmp_path / "sq"
    meta = unsquash(snap, root)
    assert meta["apps"] == {
        "tour": {"command": "bin/tour"},
        "hello-deb": {"command": "usr/bin/hello"},
    }
    # nil + override-pull (ran as the build user) + override-build
    assert (root / "PULLED").read_text() == "pulled by workbench\n"
    # `after`: tour's build ran the staged greeter, autotools and cmake binaries
    report = "greetings from the nil plugin\ncounter: 3 arguments\nsummer: 9\n"
    assert (root / "share" / "tour" / "report.txt").read_text() == report
    for tool, args, out in (
        ("counter", ["x"], "counter: 1 arguments\n"),
        ("summer", ["5"], "summer: 5\n"),
    ):
        ran = subprocess.run(
            [str(root / "usr" / "bin" / tool), *args], capture_output=True, text=True, check=True
        )
        assert ran.stdout == out
    assert (root / "usr" / "bin" / "hello").is_file()  # stage-packages: Debian's hello
    assert not (root / "usr" / "share" / "doc").exists()  # override-prime removed it
    events = session_events(build_env)
    # cmake and autotools came from build-packages, through the guest's apt over slirp (in this
    # build, or in an earlier one of the same parts: prepare runs once per set of parts)
    packages = build_env.vm("dpkg-query", "-W", "-f", "${Status}\\n", "cmake", "autoconf")
    assert packages.stdout.split("\n")[:2] == ["install ok installed"] * 2, packages.stderr
    order = [(e.part, e.step) for e in events if isinstance(e, StepFinished) and e.action == "run"]
    tour_build = order.index(("tour", "build"))
    for part in ("greeter", "counter", "summer"):
        assert order.index((part, "stage")) < tour_build
    in_guest = build_env.vm(
        "sh",
        "-c",
        "cat /build/plugins-tour/stage/STAGED; /build/plugins-tour/prime/bin/tour;"
        " /build/plugins-tour/prime/usr/bin/hello; find /build/plugins-tour ! -user workbench",
    )
    assert in_guest.returncode == 0, in_guest.stderr
    assert in_guest.stdout == "staged by workbench\n" + report + "Hello, world!\n"
    overlay = build_env.instance.overlay
    info = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(overlay)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(info.stdout)["virtual-size"] == 10 * 1024**3  # --disk-size reached the VM
    disk = build_env.vm("sh", "-c", "cat /sys/block/vda/size; stat -f -c '%b %S' /")
    sectors, blocks, size = (int(word) for word in disk.stdout.split())
    assert sectors * 512 == 10 * 1024**3  # the guest sees the grown disk...
    assert blocks * size > 9 * 1024**3  # ...and its root file system grew with it (cloud-init)


def test_shell_instead_of_a_step_for_one_part(build_env: BuildEnv) -> None:
    build_env.use("plugins-tour")
    text, code, sent = drive_shell(
        build_env,
        ["--part", "greeter", "--step", "build", "--shell"],
        b"plugins-tour:/build/plugins-tour/parts/greeter/build$ ",
        b"echo WB-$(id -un)-$((6*7)); exit 3\n",
    )
    assert sent, text[-3000:]
    assert "WB-workbench-42" in text
    assert code == 3  # the shell's status is the command's
    parts = {e.part for e in session_events(build_env) if isinstance(e, StepPayload) and e.part}
    assert parts == {"greeter"}  # --part: only greeter's pull ran before the shell


def test_debug_opens_a_shell_only_when_the_part_fails(build_env: BuildEnv) -> None:
    file = build_env.use("plugins-tour") / "snapcraft.yaml"
    file.write_text(
        file.read_text().replace(
            'craftctl default\n      echo "pulled', 'exit 7\n      echo "pulled'
        )
    )
    ok = build_env.build("--part", "counter", "--step", "pull", "--debug")
    assert ok.returncode == 0, ok.stderr  # no failure, no shell (stdin is not a terminal)
    prompt = b"plugins-tour:/build/plugins-tour/parts/greeter/src$ "
    args = ["--part", "greeter", "--step", "pull", "--debug"]
    text, code, sent = drive_shell(build_env, args, prompt, b"touch p; stat -c WB-%U p; exit\n")
    assert sent, text[-3000:]
    assert "'override-pull' in part 'greeter' failed with code 7" in text
    assert "WB-workbench" in text  # the shell's files belong to the build user
    assert code == 1


def test_the_guest_cannot_plant_files_in_the_project_and_has_keys_of_its_own(
    build_env: BuildEnv,
) -> None:
    project = build_env.use("c-make")
    source = project / "src" / "hello.c"
    before = source.stat().st_mode
    file = project / "snapcraft.yaml"
    file.write_text(
        file.read_text()
        + "    override-build: |\n"
        + "      chmod u+s,o+w /project/src/hello.c || exit 1\n"
        + "      touch /project/planted\n"
        + "      craftctl default\n"
    )
    done = build_env.build("--step", "build")
    assert done.returncode == 1, done.stderr
    assert "Read-only file system" in done.stderr
    assert "the guest sees the project read-only" in done.stderr
    assert "--share-mode rw" in done.stderr
    assert source.stat().st_mode == before
    assert not (project / "planted").exists()
    # the project's VM came from the saved base, then got its own keys (OpenSSH re-keyed)
    state = build_env.instance.load_state()
    assert state is not None
    assert state.port is not None
    bases = sorted((build_env.cache / "bases" / "instances").glob("*/ssh_key"))
    assert bases
    mine = build_env.instance.ssh_key.read_bytes()
    assert all(base.read_bytes() != mine for base in bases)
    for base in bases:
        with pytest.raises(VmError, match="failed"):
            SshExecutor(
                port=state.port, user="root", key=base, known_hosts=build_env.instance.known_hosts
            ).connect(timeout=10)


def test_cleaning_one_step_of_one_part_rebuilds_only_that(build_env: BuildEnv) -> None:
    project = build_env.use("two-parts")
    built = build_env.build("--step", "prime")
    assert built.returncode == 0, built.stderr
    prime = "/build/two-parts/prime/share"
    before = build_env.vm("cat", f"{prime}/one", f"{prime}/two")
    assert before.returncode == 0, before.stderr
    cleaned = subprocess.run(
        [sys.executable, "-m", "workbench", "clean", "one", "--step", "build"],
        capture_output=True,
        text=True,
        cwd=project,
        env=build_env.env,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert cleaned.returncode == 0, cleaned.stderr
    assert cleaned.stdout == "cleaned build and the steps after it of one\n"
    done = {(e.part, e.step) for e in session_events(build_env) if isinstance(e, StepPayload)}
    assert done == {("one", "build")}  # only that part, from that step
    left = build_env.vm("sh", "-c", f"ls {prime}; ls /build/two-parts/parts/one/src")
    assert left.returncode == 0, left.stderr  # one's pull stays
    assert left.stdout.split() == ["two"]  # one's prime is gone, two's stays
    rebuilt = build_env.build("--step", "prime")
    assert rebuilt.returncode == 0, rebuilt.stderr
    ran = {
        (e.part, e.step)
        for e in session_events(build_env)
        if isinstance(e, StepFinished) and e.action == "run"
    }
    assert ran == {("one", "build"), ("one", "stage"), ("one", "prime")}
    after = build_env.vm("cat", f"{prime}/one", f"{prime}/two")
    assert after.returncode == 0, after.stderr
    one_before, two_before = before.stdout.split()
    one_after, two_after = after.stdout.split()
    assert two_after == two_before  # part two was not built again
    assert one_after != one_before


def test_a_rebuild_runs_only_what_changed(build_env: BuildEnv) -> None:
    project = build_env.use("two-sources")
    first = build_env.build()
    assert first.returncode == 0, first.stderr
    snap = project / "two-sources_1.0_amd64.snap"
    packed = snap.read_bytes()

    unchanged = build_env.build()
    assert unchanged.returncode == 0, unchanged.stderr
    events = session_events(build_env)
    skipped = {e.action: e.reason for e in events if isinstance(e, HostSkipped)}
    assert skipped["lifecycle"].startswith("nothing changed since the last build")
    assert skipped["pack"] == f"nothing changed since {snap.name} was packed"
    assert not [e for e in events if isinstance(e, StepPayload)]  # no guest runner started
    assert snap.read_bytes() == packed

    source = project / "src" / "hello.c"
    source.write_text(source.read_text() + "\n")
    touched = build_env.build()
    assert touched.returncode == 0, touched.stderr
    events = session_events(build_env)
    ran = {(e.part, e.step) for e in events if isinstance(e, StepFinished) and e.part}
    assert {part for part, _ in ran} == {"hello"}  # part notes was not touched
    assert ("build", "hello") in {(step, part) for part, step in ran}
    assert "pack" in [e.action for e in events if isinstance(e, HostFinished)]


def test_the_guest_runs_the_workbench_release_asked_for(
    build_env: BuildEnv, tmp_path: Path
) -> None:
    """``--workbench-version DIR`` injects that checkout's wheel and only it (the dependencies,
    keyed by their requirements, stay installed); without it the guest gets this workbench back."""
    source = guest_workbench.source_root()
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy2(source / "pyproject.toml", other / "pyproject.toml")
    shutil.copytree(source / "workbench", other / "workbench")
    (other / "workbench" / "release_probe.py").write_text("RELEASE = 'other'\n")
    probe = [GUEST.python, "-c", "import workbench.release_probe as p; print(p.RELEASE)"]
    build_env.use("c-make")
    first = build_env.build("--step", "pull", "--workbench-version", str(other))
    assert first.returncode == 0, first.stderr
    assert build_env.vm("cat", GUEST.marker).stdout.strip() == from_tree(other, label="").key
    assert build_env.vm(*probe).stdout.strip() == "other"
    deps = build_env.vm("cat", GUEST.deps_marker).stdout.strip()
    assert deps.startswith("deps-")
    back = build_env.build("--step", "pull")
    assert back.returncode == 0, back.stderr
    assert build_env.vm("cat", GUEST.marker).stdout.strip() == guest_workbench.resolve("").key
    assert build_env.vm(*probe).returncode != 0  # that release's module is gone
    assert build_env.vm("cat", GUEST.deps_marker).stdout.strip() == deps


def test_clean_destroys_the_vm(build_env: BuildEnv) -> None:
    build_env.running("c-make")
    root = build_env.instance.root
    assert root.exists()
    done = build_env.clean(build_env.project / "src")
    assert done.returncode == 0, done.stderr
    assert re.match(r"removed the build VM of ", done.stdout)
    assert not root.exists()
    assert build_env.instance.status() is Status.ABSENT
