"""Finding and resolving the project to build: upward search, explode, architectures, hints."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench.errors import ArchitectureError, SourceError, UsageError
from workbench.lifecycle.build_project import resolve_build

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "build"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_load_finds_the_root_upward_without_moving_cwd(tmp_path: Path) -> None:
    write(
        tmp_path / "proj" / "snap" / "snapcraft.yaml",
        "name: x\nversion: '1'\nparts: {p: {plugin: nil}}\n",
    )
    deep = tmp_path / "proj" / "src" / "lib"
    deep.mkdir(parents=True)
    cwd = Path.cwd()
    project = resolve_build(deep)
    assert project.root == tmp_path / "proj"
    assert project.file == tmp_path / "proj" / "snap" / "snapcraft.yaml"
    assert Path.cwd() == cwd
    with pytest.raises(UsageError, match=r"no snapcraft\.yaml"):
        resolve_build(tmp_path)


def test_c_example_resolves_for_amd64_from_its_source_dir() -> None:
    project = resolve_build(EXAMPLES / "c-make" / "src")
    assert project.root == EXAMPLES / "c-make"
    assert (project.name, project.version) == ("hello-make", "1.0")
    assert (project.build_on, project.build_for, project.architectures) == (
        "amd64",
        "amd64",
        ("amd64",),
    )
    assert project.parts["hello"]["plugin"] == "make"


def test_example_1_claims_both_archs_only_when_built_on_i386() -> None:
    on_amd64 = resolve_build(EXAMPLES / "arch-example-1")
    assert on_amd64.architectures == ("amd64",)
    assert "no entry builds on amd64" in on_amd64.arch_reason
    on_i386 = resolve_build(EXAMPLES / "arch-example-1", build_on="i386")
    assert on_i386.architectures == ("amd64", "i386")
    assert on_i386.build_for == "i386"


def test_vm_arch_limits_build_on() -> None:
    with pytest.raises(UsageError, match="a amd64 VM cannot build on arm64"):
        resolve_build(EXAMPLES / "c-make", build_on="arm64")


def test_template_example_explodes_with_its_templates_dir() -> None:
    project = resolve_build(
        EXAMPLES / "template-chain", templates=[EXAMPLES / "template-chain" / "templates"]
    )
    app = project.data["apps"]["hello-chain"]
    assert app["command-chain"] == ["snap/command-chain/hello-chain"]
    assert app["plugs"] == ["network"]
    assert "hello-chain/launcher" in project.parts
    assert "templates" not in app


def test_grammar_is_resolved_for_the_build_arch(tmp_path: Path) -> None:
    write(
        tmp_path / "snapcraft.yaml",
        """\
name: g
base: core18
version: '1'
parts:
  p:
    plugin: nil
    build-packages:
      - on amd64: [gcc-multilib]
      - on i386: [gcc]
      - make
""",
    )
    assert resolve_build(tmp_path).parts["p"]["build-packages"] == ["gcc-multilib", "make"]
    assert resolve_build(tmp_path, build_on="i386").parts["p"]["build-packages"] == ["gcc", "make"]


def test_modern_platforms_without_an_amd64_build_point_at_platforms(tmp_path: Path) -> None:
    write(
        tmp_path / "snapcraft.yaml",
        "name: m\nbase: core24\nversion: '1'\nplatforms:\n  arm64:\n"
        "parts:\n  p:\n    plugin: nil\n",
    )
    with pytest.raises(ArchitectureError, match="no platform builds on amd64") as err:
        resolve_build(tmp_path)
    assert err.value.location is not None
    assert err.value.location.line == 4


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("version: '1'\nparts: {p: {plugin: nil}}\n", "'name' must be given", 1),
        ("name: x\nversion: '1'\nadopt-info: p\nparts: {p: {}}\n", "adopt-info", 3),
        ("name: x\nversion: '1'\nparts: {}\n", "at least one part", 3),
        (
            "name: x\nversion: '1'\nparts: {p: {}}\nx-workbench:\n  build-environment:\n"
            "    cpus: 0\n",
            "cpus must be a positive",
            6,
        ),
        (
            "name: x\nversion: '1'\nparts: {p: {}}\nx-workbench:\n  build-environment:\n"
            "    disk: 9G\n",
            "must map cpus and memory",
            5,
        ),
    ],
)
def test_bad_projects_point_at_the_line(tmp_path: Path, text: str, message: str, line: int) -> None:
    write(tmp_path / "snapcraft.yaml", text)
    with pytest.raises(SourceError, match=message) as err:
        resolve_build(tmp_path)
    assert err.value.location is not None
    assert err.value.location.line == line


def test_hints_are_read(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "c-make", tmp_path / "p")
    file = tmp_path / "p" / "snapcraft.yaml"
    text = file.read_text() + "x-workbench:\n  build-environment: {memory: 3G, cpus: 3}\n"
    file.write_text(text)
    hints = resolve_build(tmp_path / "p").hints
    assert (hints.memory, hints.cpus) == ("3G", 3)
    assert file.read_text() == text  # the user's file is never modified
