"""``python -m workbench arch ...``: the pinned options, JSON shapes and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from workbench.architectures import (
    BuildSet,
    ModernPlan,
    check_github_job,
    load_project,
    plan_project,
)
from workbench.cli import main
from workbench.errors import UsageError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "architectures"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["arch", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    return json.loads(out)


def ex(name: str) -> str:
    return str(EXAMPLES / f"example-{name}.yaml")


def test_plan_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_json(capsys, "plan", ex("1"), "--json") == {
        "builds": [
            {"build_on": "i386", "build_for": None, "run_on": ["amd64", "i386"], "required": True}
        ],
        "dropped": [],
        "supported": ["amd64", "arm64", "armhf", "i386", "ppc64el", "s390x"],
    }


def test_plan_queue_and_supported(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "plan", ex("5"), "--queue", "amd64=3,i386=0", "--json")
    assert data["builds"][0]["build_on"] == "i386"
    data = run_json(capsys, "plan", ex("4"), "--supported", "amd64,i386", "--json")
    assert [b["build_on"] for b in data["builds"]] == ["amd64", "i386"]
    assert data["dropped"][0]["build_on"] == ["armhf"]


def test_plan_launchpad_dialect(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(
        capsys, "plan", ex("5"), "--dialect", "launchpad", "--queue", "amd64=3", "--json"
    )
    assert data["builds"][0]["build_on"] == "amd64"


def test_plan_modern_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "plan", str(EXAMPLES / "core22-cross.yaml"), "--json")
    assert data["builds"][1] == {
        "platform": "arm64",
        "build_on": "amd64",
        "build_for": "arm64",
        "run_on": ["arm64"],
    }


def test_plan_project_picks_the_planner_by_base_and_dialect() -> None:
    modern = load_project(EXAMPLES / "core22-cross.yaml")
    assert isinstance(plan_project(modern), ModernPlan)
    with pytest.raises(UsageError, match="apply to core20-and-older stanzas"):
        plan_project(modern, queue={"amd64": 1})
    legacy = plan_project(load_project(ex("5")), dialect="launchpad", queue={"amd64": 3})
    assert isinstance(legacy, BuildSet)
    assert (legacy.dialect.name, legacy.builds[0].build_on) == ("launchpad", "amd64")


def test_plan_github_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "plan", ex("4"), "--format", "github-matrix")
    assert check_github_job(data) == []
    assert [i["optional"] for i in data["strategy"]["matrix"]["include"]] == [False, False, True]


def test_plan_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", ex("4"), "--supported", "amd64,i386")
    assert code == 0
    assert out.splitlines()[0].startswith("build on amd64")
    assert out.splitlines()[-1].startswith("dropped entry 2: none of its build-on (armhf)")


def test_plan_project_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "snapcraft.yaml").write_text((EXAMPLES / "example-3.yaml").read_text())
    assert len(run_json(capsys, "plan", str(tmp_path), "--json")["builds"]) == 2


def test_snap_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_json(capsys, "snap", ex("1"), "--host-arch", "i386", "--json") == {
        "architectures": ["amd64", "i386"],
        "entry": 0,
    }
    assert run_json(capsys, "snap", ex("1"), "--host-arch", "arm64", "--json") == {
        "architectures": ["arm64"],
        "entry": None,
    }


def test_snap_snapcraft_dialect_rejects_build_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "snap", ex("4"), "--host-arch", "amd64", "--dialect", "snapcraft")
    assert (code, out) == (2, "")
    assert err.startswith(f"{ex('4')}:18:5: error: snapcraft 4.x rejects 'build-error'")


def test_outcome_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(
        capsys,
        "outcome",
        ex("4"),
        "--result",
        "amd64=success,i386=success",
        "--result",
        "armhf=failure",
        "--json",
    )
    assert data == {
        "released": ["amd64", "i386"],
        "failed": ["armhf"],
        "set": "released",
        "reason": "optional build on armhf failed (build-error: ignore): the rest is released",
    }


def test_outcome_text_failed_set(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "outcome", ex("3"), "--result", "amd64=success,i386=failure")
    assert code == 0
    assert out.splitlines()[0] == "set failed: required build on i386 failed: the set fails"


def test_convert_prints_the_stanza(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "convert", ex("2"), "--to", "core24")
    assert code == 0
    assert out == "platforms:\n  all:\n    build-on: [amd64]\n    build-for: [all]\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["convert", ex("1"), "--to", "core22"], ":11:5: error: entry 0 runs on amd64, i386"),
        (["plan", ex("7")], ":11:5: error: 'all' in the run-on of entry 0"),
        (["plan", ex("5"), "--queue", "amd64"], "error: --queue: expected ARCH=VALUE"),
        (["plan", ex("5"), "--queue", "amd64=x"], "must be a whole number"),
        (["plan", ex("5"), "--supported", "amd64,x86"], "unknown supported architecture 'x86'"),
        (["snap", ex("5"), "--host-arch", "x86_64"], "unknown host architecture 'x86_64'"),
        (["outcome", ex("3"), "--result", "amd64=success"], "no result for the build on i386"),
        (["outcome", ex("3"), "--result", "amd64=ok,i386=ok"], "must be success or failure"),
        (
            ["outcome", ex("3"), "--result", "amd64=success", "--result", "amd64=failure"],
            "amd64 is given twice",
        ),
        (
            ["snap", str(EXAMPLES / "core22-cross.yaml"), "--host-arch", "amd64"],
            "base core22 plans with build-for / platforms, not with the core20 rules",
        ),
        (
            ["plan", str(EXAMPLES / "core22-cross.yaml"), "--queue", "amd64=1"],
            "--supported and --queue apply to core20-and-older stanzas",
        ),
    ],
)
def test_errors_exit_2_in_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert message in err.splitlines()[0]
    assert "Traceback" not in err


def test_real_process_bad_stanza(tmp_path: Path) -> None:
    path = tmp_path / "snapcraft.yaml"
    path.write_text("name: x\narchitectures:\n  - build-on: i368\n")
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "arch", "plan", str(path), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        f"{path}:3:5: error: unknown architecture 'i368' in 'build-on' (did you mean 'i386'?)\n"
    )
