"""Project root discovery stops where a planted snapcraft.yaml could make the wrong directory
the project exported to the build VM (issue 13, item 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.errors import UsageError
from workbench.project import find_root

PROJECT = "name: planted\nbase: core22\n"


def test_a_project_is_found_upward_from_inside_it(tmp_path: Path) -> None:
    (tmp_path / "proj" / "src" / "deep").mkdir(parents=True)
    (tmp_path / "proj" / "snap").mkdir()
    (tmp_path / "proj" / "snap" / "snapcraft.yaml").write_text(PROJECT)
    assert find_root(tmp_path / "proj" / "src" / "deep") == tmp_path / "proj"
    assert find_root(tmp_path / "proj" / "snap") == tmp_path / "proj"


def test_a_world_writable_root_is_refused_naming_the_file(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "mine" / "work").mkdir(parents=True)
    (shared / "snapcraft.yaml").write_text(PROJECT)  # planted, as in /tmp
    shared.chmod(0o1777)
    with pytest.raises(UsageError) as caught:
        find_root(shared / "mine" / "work")
    assert str(shared / "snapcraft.yaml") in caught.value.brief
    assert "writable by every user" in caught.value.brief


def test_a_root_owned_by_another_user_is_refused_and_ones_own_is_not(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "snapcraft.yaml").write_text(PROJECT)
    assert find_root(project) == project
    if os.geteuid() == 0:  # only root can give a directory away; as a user, the own case holds
        os.chown(project, 4242, 4242)
        with pytest.raises(UsageError, match="belongs to another user"):
            find_root(project)


def test_the_search_stops_at_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "snapcraft.yaml").write_text(PROJECT)  # above home: never looked at
    home = tmp_path / "home" / "me"
    (home / "code").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(UsageError) as caught:
        find_root(home / "code")
    assert caught.value.brief.endswith(f"up to {home}")


def test_the_search_stops_at_a_mount_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "snapcraft.yaml").write_text(PROJECT)
    mounted = tmp_path / "mnt"
    (mounted / "work").mkdir(parents=True)
    real_ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == mounted or real_ismount(p))
    with pytest.raises(UsageError) as caught:
        find_root(mounted / "work")
    assert caught.value.brief.endswith(f"up to {mounted}")


def test_the_cli_refuses_a_planted_root_with_exit_2_and_one_line(tmp_path: Path) -> None:
    shared = tmp_path / "tmpdir"
    (shared / "sub").mkdir(parents=True)
    (shared / "snapcraft.yaml").write_text(PROJECT)
    shared.chmod(0o1777)
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "build", "--plan", str(shared / "sub")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(shared / "snapcraft.yaml") in lines[0]
    assert "Traceback" not in done.stderr
