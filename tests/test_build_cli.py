"""``workbench build`` / ``clean`` on the command line, without a VM: plans and user errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "build"


def cli(*args: str, cwd: Path | None = None, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "WORKBENCH_CACHE_DIR": str(cache)},
        timeout=120,
        check=False,
    )


def test_plan_from_a_subdirectory_of_a_fresh_project(tmp_path: Path) -> None:
    done = cli(
        "build",
        "--plan",
        "--step",
        "build",
        "--shell",
        cwd=EXAMPLES / "c-make" / "src",
        cache=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    actions = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["name"] for a in actions] == ["base", "boot", "inject", "lifecycle", "shell"]
    assert actions[0]["reason"] == "new instance: a copy of the image's saved base instance"
    assert actions[3]["reason"].startswith("run up to pull for all parts")
    assert not (tmp_path / "instances").exists()  # --plan creates nothing


def test_outside_a_project_is_a_one_line_usage_error(tmp_path: Path) -> None:
    done = cli("build", str(tmp_path), cache=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: no snapcraft.yaml in ")
    assert len(done.stderr.strip().splitlines()) == 1


def test_bad_project_error_has_file_line_col(tmp_path: Path) -> None:
    (tmp_path / "snapcraft.yaml").write_text(
        "name: x\nversion: '1'\nadopt-info: p\nparts: {p: {}}\n"
    )
    done = cli("build", "--plan", str(tmp_path), cache=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{tmp_path / 'snapcraft.yaml'}:3:1: error: adopt-info")
    assert "Traceback" not in done.stderr


def test_flags_are_pinned(tmp_path: Path) -> None:
    bad_step = cli("build", "--step", "bake", cache=tmp_path)
    assert bad_step.returncode == 2
    assert "invalid choice: 'bake'" in bad_step.stderr
    both = cli("build", "--shell", "--debug", cache=tmp_path)
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr
    other = cli("build", "--plan", "--build-on", "s390x", str(EXAMPLES / "c-make"), cache=tmp_path)
    assert other.returncode == 2
    assert "no build VM can build on s390x (build VMs build on amd64, arm64, i386)" in other.stderr


def test_an_image_without_python_is_refused_as_in_the_notebook(tmp_path: Path) -> None:
    done = cli("build", "--plan", "--image", "tiny", str(EXAMPLES / "c-make"), cache=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "error: the tiny image has no python3, so craft-parts cannot run in it"
        " (steps need debian-12)\n"
    )


def test_disk_size_is_checked_before_anything_runs(tmp_path: Path) -> None:
    done = cli("build", "--plan", "--disk-size", "lots", str(EXAMPLES / "c-make"), cache=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: invalid disk size 'lots' (use e.g. 512M or 2G)"
    assert not (tmp_path / "instances").exists()


def test_clean_without_a_vm_says_so(tmp_path: Path) -> None:
    done = cli("clean", str(EXAMPLES / "c-make" / "src"), cache=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith("no build VM for ")
