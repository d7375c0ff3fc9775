"""A whole build set for real: ``build --all`` on the example set builds its amd64 entry in the
debian-12 VM, its arm64 entry in the emulated debian-12-arm64 VM beside it, and its i386 entry,
which fails and is ignored, after the amd64 one in the same VM.

Each snap is opened: its ``meta/snap.yaml`` names the run-on architecture, and the ELF header of
its program says which machine it was compiled for (aarch64 for the emulated build, x86-64 for
the amd64 one). The images are the stand-ins for the project's base (offline: no Ubuntu image is
looked for). The cross build for arm64 in the amd64 VM is in ``test_build_vm.py`` (its VM).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from build_env import ARCH_EXAMPLES, BuildEnv, elf_machine, unsquash

from workbench.vm.arch import ARCHS

pytestmark = pytest.mark.slow

OFFLINE = {"WORKBENCH_OFFLINE": "1"}
X86_64, AARCH64 = ARCHS["amd64"].elf_machine, ARCHS["arm64"].elf_machine


def test_build_all_builds_each_entry_in_a_vm_of_its_build_on(
    build_env: BuildEnv, tmp_path: Path
) -> None:
    project = build_env.use(ARCH_EXAMPLES / "build-set")
    done = build_env.build("--all", "--json", env=OFFLINE)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["ok"] is True
    by_entry = {e["entry"]: e for e in result["entries"]}
    assert [e["entry"] for e in result["entries"]] == ["entry 0", "entry 1", "entry 2"]
    amd64, arm64, i386 = by_entry["entry 0"], by_entry["entry 1"], by_entry["entry 2"]
    assert (amd64["status"], amd64["image"]) == ("passed", "debian-12 (stand-in for Ubuntu 18.04)")
    assert (arm64["status"], arm64["image"]) == (
        "passed",
        "debian-12-arm64 (stand-in for Ubuntu 18.04)",
    )
    assert (i386["status"], i386["required"], i386["step"]) == ("failed", False, "build")
    assert "i386-linux-gnu-gcc" in Path(i386["log"]).read_text()
    assert json.loads((project / "hello-set_1.0_build-set.json").read_text()) == result
    for entry, machine in ((amd64, X86_64), (arm64, AARCH64)):
        snap = Path(entry["snap"])
        assert snap.parent == project
        arch = entry["run_on"][0]
        assert snap.name == f"hello-set_1.0_{arch}.snap"
        tree = tmp_path / arch
        meta = unsquash(snap, tree)
        assert meta["architectures"] == [arch]
        assert elf_machine(tree / "usr" / "bin" / "hello") == machine
    shown = build_env.vm_command("--arch", "arm64", "status", "--json")
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert status["name"].endswith("-arm64")
    assert (status["image"], status["stand_in_for"], status["accel"]) == (
        "debian-12-arm64",
        "Ubuntu 18.04",
        "tcg",  # emulated: KVM only runs the host's own architecture
    )
