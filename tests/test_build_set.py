"""Build sets (``build --all``): the plan's entries, how they are grouped into VMs and run side by
side within a memory budget, the outcome table and JSON, and the CLI's flags.

Fast tests replace the build session with a fake that records what it was asked to build (the
real sessions run in ``test_build_arm64.py``, which builds the example set in real VMs)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from workbench.cli import main
from workbench.errors import BuildError
from workbench.lifecycle import build_set
from workbench.lifecycle.build_set import SetEntry, SetWatch, run_build_set, set_entries
from workbench.lifecycle.options import BuildOptions

EXAMPLE = Path(__file__).parents[1] / "examples" / "architectures" / "build-set"


def test_the_example_set_has_two_required_entries_and_one_that_may_fail() -> None:
    entries = set_entries(EXAMPLE)
    assert [(e.label, e.build_on, e.run_on, e.required) for e in entries] == [
        ("entry 0", "amd64", ("amd64",), True),
        ("entry 1", "arm64", ("arm64",), True),
        ("entry 2", "i386", ("i386",), False),
    ]
    assert [e.vm_arch for e in entries] == ["amd64", "arm64", "amd64"]
    assert [e.build_for for e in entries] == ["amd64", "arm64", "i386"]


def test_platforms_are_entries_named_after_the_platform(tmp_path: Path) -> None:
    (tmp_path / "snapcraft.yaml").write_text(
        "name: p\nbase: core24\nversion: '1'\nsummary: s\ndescription: d\n"
        "platforms:\n  amd64:\n  arm64:\n    build-on: [amd64]\n    build-for: [arm64]\n"
        "parts:\n  p:\n    plugin: nil\n"
    )
    entries = set_entries(tmp_path)
    assert [(e.label, e.build_on, e.build_for) for e in entries] == [
        ("platform amd64", "amd64", "amd64"),
        ("platform arm64", "amd64", "arm64"),
    ]


@dataclass
class Ran:
    """What the fake sessions were asked to build, in order, and how many ran at once."""

    builds: list[tuple[str | None, str | None]]
    houses: list[str]
    running: int = 0
    most: int = 0


@pytest.fixture
def fake_sessions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Ran:
    """Sessions that pass, except a build on i386 (no i386 compiler, like the real example)."""
    ran = Ran([], [])
    lock = threading.Lock()

    def ensure_wheelhouse(_guest: object, arch: str, python: str) -> None:
        ran.houses.append(f"{arch} {python}")

    monkeypatch.setattr(build_set.wheelhouse, "ensure_wheelhouse", ensure_wheelhouse)

    class FakeSession:
        def __init__(self, root: Path, options: BuildOptions, listeners: Any = ()) -> None:
            self.options = options
            self.image = SimpleNamespace(label=f"image-for-{options.build_on}")
            self.machine = SimpleNamespace(dir=SimpleNamespace(build_log=tmp_path / "build.log"))

        def run(self) -> Any:
            with lock:
                ran.builds.append((self.options.build_on, self.options.build_for))
                ran.running += 1
                ran.most = max(ran.most, ran.running)
            try:
                if self.options.build_on == "i386":
                    raise BuildError("i386-linux-gnu-gcc: not found")
                snap = tmp_path / f"hello-set_1.0_{self.options.build_for}.snap"
                return SimpleNamespace(elapsed=1.5, snap=snap)
            finally:
                with lock:
                    ran.running -= 1

    monkeypatch.setattr(build_set, "Session", FakeSession)
    monkeypatch.setattr(build_set, "_memory_mib", lambda _root, _options: 1024)
    return ran


def project(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    copy.mkdir()
    (copy / "snapcraft.yaml").write_text((EXAMPLE / "snapcraft.yaml").read_text())
    return copy


def test_an_ignored_failure_does_not_fail_the_set(fake_sessions: Ran, tmp_path: Path) -> None:
    seen: list[str] = []
    watch = SetWatch(on_outcome=lambda o: seen.append(f"{o.entry.label}: {o.status}"))
    result = run_build_set(project(tmp_path), watch=watch, memory_budget=4096)
    assert result.ok
    assert [o.status for o in result.outcomes] == ["passed", "passed", "failed"]
    assert result.outcomes[2].reason.endswith("i386-linux-gnu-gcc: not found")
    assert sorted(seen) == ["entry 0: passed", "entry 1: passed", "entry 2: failed"]
    amd64_vm = [b for b in fake_sessions.builds if b[0] in ("amd64", "i386")]
    assert amd64_vm == [("amd64", "amd64"), ("i386", "i386")]  # one VM: in plan order
    assert sorted(fake_sessions.houses) == [
        "amd64 3.11",
        "arm64 3.11",
    ]  # each made once, before the VMs
    written = json.loads((tmp_path / "project" / "hello-set_1.0_build-set.json").read_text())
    assert written["ok"] is True
    assert [(e["entry"], e["status"], e["required"]) for e in written["entries"]] == [
        ("entry 0", "passed", True),
        ("entry 1", "passed", True),
        ("entry 2", "failed", False),
    ]
    table = result.table()
    assert table[0].split() == [
        "entry",
        "build-on",
        "run-on",
        "result",
        "step",
        "time",
        "snap",
        "/",
        "log",
    ]
    assert "failed (ignored)" in table[3]
    assert table[-1].startswith("build set passed in ")


def test_a_required_failure_fails_the_set(fake_sessions: Ran, tmp_path: Path) -> None:
    entries = [SetEntry("entry 0", "i386", ("i386",)), SetEntry("entry 1", "amd64", ("amd64",))]
    result = run_build_set(project(tmp_path), entries=entries)
    assert not result.ok
    assert [o.status for o in result.outcomes] == ["failed", "passed"]  # the set went on


def test_an_entry_no_vm_can_build_is_skipped_with_the_reason(
    fake_sessions: Ran, tmp_path: Path
) -> None:
    entries = [SetEntry("entry 0", "s390x", ("s390x",), required=False)]
    result = run_build_set(project(tmp_path), entries=entries)
    (outcome,) = result.outcomes
    assert outcome.status == "skipped"
    assert outcome.reason == "no build VM builds on s390x (they build on amd64, i386, arm64)"
    assert fake_sessions.builds == []
    assert result.ok  # not required


def test_vms_run_side_by_side_only_within_the_memory_budget(
    fake_sessions: Ran, tmp_path: Path
) -> None:
    meeting = threading.Barrier(2, timeout=30)
    met: list[bool] = []

    def meet(_indexes: list[int]) -> None:
        try:
            meeting.wait()
            met.append(True)
        except threading.BrokenBarrierError:
            met.append(False)

    build_set._side_by_side([([0], 1024), ([1], 1024)], meet, 2048)
    assert met == [True, True]  # both VMs fit 2 GiB: they ran at the same time
    entries = [SetEntry("a", "amd64", ("amd64",)), SetEntry("b", "arm64", ("arm64",))]
    result = run_build_set(project(tmp_path), entries=entries, memory_budget=1536)
    assert result.ok
    assert fake_sessions.most == 1  # 1.5 GiB holds one 1 GiB VM: the second waited


@pytest.mark.parametrize("flag", [["--build-on", "amd64"], ["--shell"], ["--image", "tiny"]])
def test_all_refuses_the_flags_of_a_single_build(
    flag: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", str(EXAMPLE), "--all", *flag]) == 2
    err = capsys.readouterr().err
    assert f"--all builds each entry where the plan says: {flag[0]} does not apply" in err
    assert "Traceback" not in err


def test_all_prints_the_table_and_fails_when_the_set_fails(
    fake_sessions: Ran, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path)
    assert main(["build", str(root), "--all", "--memory-budget", "3G"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1].startswith("build set passed")
    assert "[entry 2 on i386] failed: " in err
    (root / "snapcraft.yaml").write_text(
        (EXAMPLE / "snapcraft.yaml").read_text().replace("    build-error: ignore\n", "")
    )
    assert main(["build", str(root), "--all", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    assert [e["status"] for e in document["entries"]] == ["passed", "passed", "failed"]


def test_a_bad_memory_budget_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(EXAMPLE), "--all", "--memory-budget", "lots"]) == 2
    assert "--memory-budget" in capsys.readouterr().err
