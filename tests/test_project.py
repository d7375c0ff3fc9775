"""Finding the project: from its directory, from any subdirectory, and the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import SourceError, UsageError
from workbench.project import find_root, load_project, project_file


@pytest.mark.parametrize(
    "name", ["snapcraft.yaml", "snap/snapcraft.yaml", "build-aux/snap/snapcraft.yaml"]
)
def test_root_found_from_any_subdirectory(tmp_path: Path, name: str) -> None:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text("name: x\n")
    deep = tmp_path / "src" / "lib"
    deep.mkdir(parents=True)
    assert find_root(deep) == tmp_path
    assert find_root((tmp_path / name).parent) == tmp_path
    assert project_file(tmp_path) == tmp_path / name


def test_no_project_anywhere(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no snapcraft\.yaml"):
        find_root(tmp_path)
    with pytest.raises(SourceError, match=r"no snapcraft\.yaml"):
        project_file(tmp_path)


def test_two_project_files_are_ambiguous(tmp_path: Path) -> None:
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "snapcraft.yaml").write_text("name: a\n")
    (tmp_path / "snapcraft.yaml").write_text("name: b\n")
    with pytest.raises(SourceError, match="more than one"):
        project_file(tmp_path)


def test_project_must_be_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "snapcraft.yaml").write_text("- a\n- b\n")
    with pytest.raises(SourceError, match="mapping") as info:
        load_project(tmp_path)
    assert info.value.location is not None
    assert info.value.location.line == 1
