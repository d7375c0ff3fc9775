"""Every stanza error: one line, FILE:LINE:COL, a message naming what is wrong, and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.architectures import ArchitectureProblems, load, parse
from workbench.errors import SourceError, WorkbenchError, format_error
from workbench.yamlpos import load_text


def problem(text: str) -> WorkbenchError:
    with pytest.raises(WorkbenchError) as info:
        parse(load_text(text, "snapcraft.yaml"))
    return info.value


CASES = [
    # (yaml, line, col, message, hint)
    ("architectures: amd64\n", 1, 1, "must be a list, not str 'amd64'", "build-on: amd64"),
    ("architectures:\n", 1, 1, "'architectures' is empty", "remove the key"),
    ("architectures: []\n", 1, 1, "'architectures' is empty", "remove the key"),
    ("architectures:\n  - 64\n", 2, 5, "item 0 of 'architectures' must be", "e.g. '- amd64'"),
    (
        "architectures:\n  - amd64\n  - build-on: i386\n",
        3,
        5,
        "mixes architecture names and build-on entries",
        "every item as a name",
    ),
    ("architectures:\n  - run-on: i386\n", 2, 5, "entry 0 has no 'build-on'", "build-on: amd64"),
    (
        "architectures:\n  - build-on: i386\n    runs-on: i386\n",
        3,
        5,
        "unknown key 'runs-on' in entry 0",
        "did you mean 'run-on'?",
    ),
    (
        "architectures:\n  - build-on: i386\n    build-for: i386\n",
        3,
        5,
        "'build-for' is core22 syntax",
        "write 'run-on'",
    ),
    (
        "architectures:\n  - build-on: {a: b}\n",
        2,
        5,
        "'build-on' must be an architecture name or a list of names, not a mapping",
        "build-on: [amd64, arm64]",
    ),
    ("architectures:\n  - build-on: []\n", 2, 5, "'build-on' is an empty list", "at least one"),
    (
        "architectures:\n  - build-on: i368\n",
        2,
        5,
        "unknown architecture 'i368' in 'build-on'",
        "did you mean 'i386'?",
    ),
    (
        "architectures:\n  - build-on: amd64\n    run-on: amd64, arm64\n",
        3,
        5,
        "unknown architecture 'amd64, arm64' in 'run-on'",
        "in brackets",
    ),
    (
        "architectures:\n  - build-on: [amd64, 7]\n",
        2,
        23,
        "'build-on' lists int 7, not an architecture name",
        "use one of",
    ),
    (
        "architectures:\n  - build-on: [amd64, amd64]\n",
        2,
        23,
        "'amd64' is listed twice in 'build-on'",
        "list it once",
    ),
    (
        "architectures:\n  - build-on: amd64\n    run-on: [all, i386]\n",
        3,
        5,
        "'all' is mixed with other architectures in 'run-on'",
        "use it alone",
    ),
    (
        "architectures:\n  - build-on: armhf\n    build-error: fail\n",
        3,
        5,
        "'build-error' must be 'ignore', not str 'fail'",
        "makes a build optional",
    ),
    (
        "architectures:\n  - build-on: amd64\n    run-on: all\n  - build-on: i386\n",
        3,
        5,
        "'all' in the run-on of entry 0, but there are 2 entries: the snaps of entries 0 and 1 "
        "would both be released to i386",
        "use 'all' only in a single entry",
    ),
    (
        "architectures:\n  - build-on: all\n  - build-on: i386\n",
        2,
        5,
        "'all' in the build-on of entry 0, but there are 2 entries",
        "every builder would pick this entry",
    ),
    (
        "architectures:\n  - build-on: amd64\n    run-on: [amd64, i386]\n"
        "  - build-on: i386\n    run-on: i386\n",
        5,
        5,
        "entries 0 and 1 both claim to run on i386",
        "one snap would replace the other",
    ),
    (
        "architectures:\n  - build-on: amd64\n    run-on: [amd64, i386]\n  - build-on: i386\n",
        4,
        5,
        "entries 0 and 1 both claim to run on i386 (entry 1's run-on defaults to its build-on)",
        "give each arch to one run-on",
    ),
    (
        "architectures:\n  - build-on: [amd64, i386]\n    run-on: amd64\n"
        "  - build-on: i386\n    run-on: i386\n",
        4,
        5,
        "i386 is in the build-on of entries 0 and 1",
        "a builder on i386 could not tell which run-on to claim",
    ),
]


@pytest.mark.parametrize(("text", "line", "col", "message", "hint"), CASES)
def test_error(text: str, line: int, col: int, message: str, hint: str) -> None:
    err = problem("name: x\nbase: core18\n" + text)
    assert isinstance(err, ArchitectureProblems)
    assert err.exit_code == 2
    assert message in err.brief
    assert err.hint is not None
    assert hint in err.hint
    formatted = format_error(err)
    assert formatted.startswith(f"snapcraft.yaml:{line + 2}:{col}: error: ")
    assert "\n" not in formatted


def test_every_problem_is_collected() -> None:
    err = problem("architectures:\n  - build-on: i368\n    runs-on: amd64\n  - build-on: sparc\n")
    assert isinstance(err, ArchitectureProblems)
    assert [p.brief for p in err.problems] == [
        "unknown key 'runs-on' in entry 0",
        "unknown architecture 'i368' in 'build-on'",
        "unknown architecture 'sparc' in 'build-on'",
    ]
    assert [p.location.line for p in err.problems] == [3, 2, 4]
    assert err.details is not None
    assert err.details.splitlines()[1].startswith("snapcraft.yaml:4:5: error: unknown architecture")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "snapcraft.yaml"
    path.write_text("- amd64\n")
    with pytest.raises(SourceError, match="must be a mapping"):
        load(path)


def test_base_must_be_a_string() -> None:
    err = problem("base: [core18]\narchitectures: [amd64]\n")
    assert "'base' must be a string" in err.brief
    assert err.location is not None
    assert err.location.line == 1


def test_project_directory_resolution(tmp_path: Path) -> None:
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "snapcraft.yaml").write_text("name: x\narchitectures: [amd64]\n")
    stanza = load(tmp_path)
    assert stanza.entries[0].build_on == ("amd64",)
    assert stanza.locate(0).file == str(tmp_path / "snap" / "snapcraft.yaml")


def test_directory_without_project(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"no snapcraft\.yaml in this directory") as info:
        load(tmp_path)
    assert info.value.hint is not None
    assert "snap/snapcraft.yaml" in info.value.hint


def test_missing_file_is_positioned(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        load(tmp_path / "nope.yaml")


def test_user_file_is_not_modified(tmp_path: Path) -> None:
    path = tmp_path / "snapcraft.yaml"
    text = "name: x\narchitectures:\n  - build-on: i368  # typo\n"
    path.write_text(text)
    with pytest.raises(ArchitectureProblems):
        load(path)
    assert path.read_text() == text


def test_modern_base_is_not_read_with_core20_rules() -> None:
    err = problem("base: core22\narchitectures:\n  - build-on: amd64\n    build-for: arm64\n")
    assert "base core22 plans with build-for / platforms" in err.brief
    assert err.location is not None
    assert (err.location.line, err.location.col) == (1, 1)


def test_launchpad_reads_platforms_only_of_named_architectures() -> None:
    document = load_text("name: x\nbase: core24\nplatforms:\n  pi:\n", "snapcraft.yaml")
    with pytest.raises(ArchitectureProblems, match="'pi' is not a supported platform"):
        parse(document, dialect="launchpad")
